package redact

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
)

// weakSecrets are values an attacker holding a shared capture could guess.
var weakSecrets = []struct{ name, field, value string }{
	{"password-grant password", "password", "Summer2024!"},
	{"short client secret", "client_secret", "s3cr3t-abc"},
	{"dictionary passphrase", "password", "correct horse battery staple"},
	{"API key", "api_key", "key-1234"},
	{"client secret that looks random", "client_secret", "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sT"},
}

// TestWeakSecretsResistGuessing: the fingerprint of a guessable secret is
// not the SHA-256 prefix anyone can check a dictionary against; it is
// Argon2id with parameters that make each guess cost memory and time.
func TestWeakSecretsResistGuessing(t *testing.T) {
	// OWASP's minimums: m=19 MiB with t=2, or m=7 MiB with t=5 (the same work).
	if ArgonThreads != 1 || !(ArgonMemoryKiB >= 19*1024 && ArgonTime >= 2 || ArgonMemoryKiB >= 7*1024 && ArgonTime >= 5) {
		t.Fatalf("argon2id parameters m=%d KiB t=%d p=%d are below OWASP's m=19 MiB t=2 / m=7 MiB t=5, p=1", ArgonMemoryKiB, ArgonTime, ArgonThreads)
	}
	for _, tt := range weakSecrets {
		t.Run(tt.name, func(t *testing.T) {
			got := Param(tt.field, tt.value)
			plain := sha256.Sum256([]byte(tt.value))
			if strings.Contains(got, hex.EncodeToString(plain[:6])) {
				t.Fatalf("Param(%q) = %q is the plain SHA-256 prefix", tt.field, got)
			}
			sum := argon2.IDKey([]byte(tt.value), []byte(ArgonSalt), ArgonTime, ArgonMemoryKiB, ArgonThreads, 32)
			want := SlowPrefix + hex.EncodeToString(sum[:6]) + ":len=" + strconv.Itoa(len(tt.value))
			if got != want {
				t.Errorf("Param(%q) = %q, want %q (argon2id with the documented parameters)", tt.field, got, want)
			}
			if !IsFingerprint(got) || Scheme(got) != "argon2id" {
				t.Errorf("IsFingerprint(%q) = %v, Scheme = %q; want true, argon2id", got, IsFingerprint(got), Scheme(got))
			}
		})
	}
}

// TestStrongSecretsStayFast: random codes and tokens keep the fast hash.
func TestStrongSecretsStayFast(t *testing.T) {
	for _, v := range []string{
		strongToken, // 32 random bytes, base64url
		"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b", // 20 random bytes, hex (40 digits)
		"3f2b9c1e-7a4d-4e2b-9c8f-1d2e3f4a5b6c",     // a UUID
		canaryToken,                                // a JWT
	} {
		got := Fingerprint(v)
		sum := sha256.Sum256([]byte(v))
		if want := Prefix + hex.EncodeToString(sum[:6]) + ":len=" + strconv.Itoa(len(v)); got != want {
			t.Errorf("Fingerprint(%q) = %q, want the fast %q", v, got, want)
		}
	}
}

// TestBasicIsMemoryHard: a Basic credential is "id:secret" with a public
// id, so it gets the memory-hard hash however long it is.
func TestBasicIsMemoryHard(t *testing.T) {
	cred := base64.StdEncoding.EncodeToString([]byte("my-client-id-0123456789:hunter22"))
	for _, got := range []string{Header("Authorization", "Basic "+cred), Text("Authorization: Basic " + cred)} {
		if !strings.Contains(got, "Basic "+SlowPrefix) {
			t.Errorf("got %q, want Basic %s...", got, SlowPrefix)
		}
	}
}

// TestSlowCacheBounded: the cache of slow fingerprints never grows past
// its bound, and a cached value gives the same fingerprint.
func TestSlowCacheBounded(t *testing.T) {
	c := newLRU(3)
	for i := 0; i < 10; i++ {
		c.put(sha256.Sum256([]byte{byte(i)}), strconv.Itoa(i))
	}
	if got := c.len(); got != 3 {
		t.Errorf("len = %d, want 3", got)
	}
	if got, ok := c.get(sha256.Sum256([]byte{9})); !ok || got != "9" {
		t.Errorf("get(9) = %q, %v; want 9, true", got, ok)
	}
	if _, ok := c.get(sha256.Sum256([]byte{0})); ok {
		t.Error("the oldest entry was not evicted")
	}
	if a, b := Fingerprint("hunter2"), Fingerprint("hunter2"); a != b {
		t.Errorf("cached fingerprint %q != %q", b, a)
	}
}

// fingerprintsIn runs this test binary again (a new process, a cold
// cache) and returns the fingerprints it computes for values, with key set
// in OAUTHPROXY_TEST_FP_KEY when not empty.
func fingerprintsIn(t *testing.T, key string, values []string) []string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestFingerprintHelperProcess$")
	cmd.Env = append(os.Environ(), "OAUTHPROXY_TEST_FP_VALUES="+strings.Join(values, "\n"), "OAUTHPROXY_TEST_FP_KEY="+key)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper process: %v\n%s", err, out)
	}
	var fps []string
	for _, l := range strings.Split(string(out), "\n") {
		if fp, ok := strings.CutPrefix(l, "FP "); ok {
			fps = append(fps, fp)
		}
	}
	if len(fps) != len(values) {
		t.Fatalf("helper printed %d fingerprints, want %d:\n%s", len(fps), len(values), out)
	}
	return fps
}

// TestFingerprintHelperProcess is the other process of the cross-process
// tests; it does nothing in a normal run.
func TestFingerprintHelperProcess(t *testing.T) {
	values, ok := os.LookupEnv("OAUTHPROXY_TEST_FP_VALUES")
	if !ok {
		t.Skip("helper process only")
	}
	if k := os.Getenv("OAUTHPROXY_TEST_FP_KEY"); k != "" {
		SetKey([]byte(k))
	}
	for _, v := range strings.Split(values, "\n") {
		os.Stdout.WriteString("FP " + Param("client_secret", v) + "\n")
	}
}

// TestFingerprintsAcrossProcesses: equal values give equal fingerprints in
// another process (laptop versus server), unkeyed and with the same key;
// another key gives other fingerprints that Same says are not comparable.
func TestFingerprintsAcrossProcesses(t *testing.T) {
	values := []string{"hunter2", strongToken}
	other := fingerprintsIn(t, "", values)
	for i, v := range values {
		if got := Param("client_secret", v); got != other[i] {
			t.Errorf("here %q, other process %q", got, other[i])
		}
	}

	const key, key2 = "shared-key-0123456789abcdef", "another-key-0123456789abcdef"
	id := SetKey([]byte(key))
	defer SetKey(nil)
	sameKey := fingerprintsIn(t, key, values)
	otherKey := fingerprintsIn(t, key2, values)
	for i, v := range values {
		here := Param("client_secret", v)
		if Scheme(here) != "hmac-"+id || !IsFingerprint(here) {
			t.Errorf("keyed fingerprint %q, want scheme hmac-%s", here, id)
		}
		if here != sameKey[i] {
			t.Errorf("same key: here %q, other process %q", here, sameKey[i])
		}
		if here == otherKey[i] {
			t.Errorf("another key gave the same fingerprint %q", here)
		}
		if same, comparable, why := Same(here, otherKey[i]); same || comparable || !strings.Contains(why, "different fingerprint keys") {
			t.Errorf("Same(key1, key2) = %v, %v, %q; want not comparable: different fingerprint keys", same, comparable, why)
		}
		if same, comparable, _ := Same(v, sameKey[i]); !same || !comparable {
			t.Errorf("Same(raw, keyed fingerprint from another process) = %v, %v; want true, true", same, comparable)
		}
	}
}

func TestSame(t *testing.T) {
	weak := Fingerprint("hunter2")
	strong := Fingerprint(strongToken)
	tests := []struct {
		name       string
		a, b       string
		same, comp bool
	}{
		{"equal raw", "x", "x", true, true},
		{"different raw", "x", "y", false, true},
		{"raw against its slow fingerprint", "hunter2", weak, true, true},
		{"raw against another slow fingerprint", "hunter3", weak, false, true},
		{"raw against its fast fingerprint", strongToken, strong, true, true},
		{"raw forced slow against fast", strongToken, FingerprintWeak(strongToken), true, true},
		{"fast and slow of the same length", strong, FingerprintWeak(strongToken), false, false},
		{"fast and slow of other lengths", strong, weak, false, true},
		{"another tool's marker", "[REDACTED]", "x", false, false},
		{"keyed with a key not set here", "x", "redacted:hmac-0a1b2c3d:d278a5b74cee:len=1", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			same, comp, _ := Same(tt.a, tt.b)
			if same != tt.same || comp != tt.comp {
				t.Errorf("Same(%q, %q) = %v, %v; want %v, %v", tt.a, tt.b, same, comp, tt.same, tt.comp)
			}
		})
	}
}

// BenchmarkFingerprint: the cost of each scheme; "argon2id uncached" is
// what one offline guess costs an attacker (and the proxy, once per
// distinct guessable value).
func BenchmarkFingerprint(b *testing.B) {
	b.Run("sha256", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			fastFingerprint(strongToken)
		}
	})
	b.Run("argon2id cached", func(b *testing.B) {
		Param("password", "hunter2")
		for i := 0; i < b.N; i++ {
			Param("password", "hunter2")
		}
	})
	b.Run("argon2id uncached", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			slowCache = newLRU(4096)
			Param("password", "hunter2")
		}
	})
	b.Run("hmac", func(b *testing.B) {
		SetKey([]byte("benchmark-key-0123456789"))
		defer SetKey(nil)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			Param("password", "hunter2")
		}
	})
}
