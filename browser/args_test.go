package browser

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oauthproxy/oauthproxy/browser/browsertest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestMain(m *testing.M) {
	browsertest.RunIfFake()
	os.Exit(m.Run())
}

// testCA is testdata/ca.pem, an oauthproxy CA certificate (no key).
func testCA(t *testing.T) *Config {
	t.Helper()
	ca, err := ReadCAFile(filepath.Join("testdata", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return &Config{Proxy: "127.0.0.1:8080", CA: ca, DebugPort: -1}
}

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// TestSPKIHash compares with the hash openssl gives for testdata/ca.pem:
// openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64
func TestSPKIHash(t *testing.T) {
	const want = "dNVtnSump06XjfxK1Yg91w4yTLGl+kVeoGABSLssArM="
	if got := SPKIHash(testCA(t).CA); got != want {
		t.Errorf("SPKIHash = %s, want %s", got, want)
	}
}

func TestChromiumArgs(t *testing.T) {
	tests := []struct {
		name   string
		golden string
		edit   func(*Config)
		// want and notWant are checked besides the golden file, so that
		// what matters is stated here.
		want    []string
		notWant []string
	}{
		{
			name:   "default: every host through the proxy, loopback included",
			golden: "chromium-default.args",
			edit:   func(c *Config) {},
			want: []string{
				"--user-data-dir=/tmp/profile",
				"--proxy-server=http://127.0.0.1:8080",
				"--proxy-bypass-list=<-loopback>",
				"--ignore-certificate-errors-spki-list=dNVtnSump06XjfxK1Yg91w4yTLGl+kVeoGABSLssArM=",
				"--disable-background-networking", "--disable-component-update", "--disable-sync",
				"--no-first-run", "--metrics-recording-only", "--disable-quic",
				"about:blank",
			},
			notWant: []string{"--headless", "--no-sandbox", "--remote-debugging-port=0", "--proxy-pac-url"},
		},
		{
			name:   "headless, root, DevTools, URL and extra flags",
			golden: "chromium-headless.args",
			edit: func(c *Config) {
				c.Headless, c.NoSandbox, c.DebugPort = true, true, 0
				c.URL = "http://localhost:3000/login"
				c.Extra = []string{"--window-size=800,600"}
			},
			want: []string{"--headless", "--no-sandbox", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "--window-size=800,600", "http://localhost:3000/login"},
		},
		{
			name:    "hosts: a PAC instead of a fixed proxy",
			golden:  "chromium-hosts.args",
			edit:    func(c *Config) { c.Hosts = []string{"*.example.com", "login.test"} },
			want:    []string{"--proxy-pac-url=data:application/x-ns-proxy-autoconfig;base64,"},
			notWant: []string{"--proxy-server=http://127.0.0.1:8080", "--proxy-bypass-list=<-loopback>"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testCA(t)
			tt.edit(cfg)
			args := ChromiumArgs(*cfg, "/tmp/profile")
			joined := "\n" + strings.Join(args, "\n") + "\n"
			for _, w := range tt.want {
				if !strings.Contains(joined, "\n"+w) {
					t.Errorf("args lack %q; got:%s", w, joined)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(joined, "\n"+w) {
					t.Errorf("args have %q; got:%s", w, joined)
				}
			}
			if last := args[len(args)-1]; last != "about:blank" && last != cfg.URL {
				t.Errorf("last argument = %q, want the start URL", last)
			}
			if n := strings.Count(joined, "\n--disable-features="); n != 1 {
				t.Errorf("%d --disable-features flags, want 1 (Chromium reads only the last)", n)
			}
			golden(t, tt.golden, strings.TrimPrefix(joined, "\n"))
		})
	}
}

func TestChromiumPreferences(t *testing.T) {
	golden(t, "chromium-preferences.json", string(ChromiumPreferences()))
}

func TestPAC(t *testing.T) {
	got := PAC("127.0.0.1:8080", []string{"*.Example.com", "login.test"})
	golden(t, "hosts.pac", got)
	for _, w := range []string{`shExpMatch(host, "*.example.com")`, `return "PROXY 127.0.0.1:8080"`, `return "DIRECT"`} {
		if !strings.Contains(got, w) {
			t.Errorf("PAC lacks %s:\n%s", w, got)
		}
	}
}

func TestCheckHostGlob(t *testing.T) {
	tests := []struct {
		glob    string
		wantErr string
	}{
		{"*.example.com", ""},
		{"login.microsoftonline.com", ""},
		{"127.0.0.?", ""},
		{"[::1]", ""},
		{"", "empty host glob"},
		{`a"); alert(1); ("`, `'"' is not allowed`},
		{"a b", `' ' is not allowed`},
		{`a\b`, `'\\' is not allowed`},
		{"https://example.com", `'/' is not allowed`},
	}
	for _, tt := range tests {
		t.Run(tt.glob, func(t *testing.T) {
			err := CheckHostGlob(tt.glob)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("CheckHostGlob(%q) = %v, want nil", tt.glob, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("CheckHostGlob(%q) = %v, want an error with %q", tt.glob, err, tt.wantErr)
			}
		})
	}
}

func TestFirefox(t *testing.T) {
	t.Run("manual proxy", func(t *testing.T) {
		cfg := testCA(t)
		cfg.Proxy = "127.0.0.1:9090"
		prefs := FirefoxPrefs(*cfg)
		golden(t, "firefox-user.js", prefs)
		for _, w := range []string{
			`user_pref("network.proxy.type", 1);`,
			`user_pref("network.proxy.http", "127.0.0.1");`,
			`user_pref("network.proxy.http_port", 9090);`,
			`user_pref("network.proxy.ssl", "127.0.0.1");`,
			`user_pref("network.proxy.ssl_port", 9090);`,
			`user_pref("network.proxy.allow_hijacking_localhost", true);`,
			`user_pref("network.proxy.no_proxies_on", "");`,
			`user_pref("toolkit.telemetry.enabled", false);`,
			`user_pref("browser.safebrowsing.malware.enabled", false);`,
		} {
			if !strings.Contains(prefs, w+"\n") {
				t.Errorf("user.js lacks %s", w)
			}
		}
	})
	t.Run("hosts", func(t *testing.T) {
		cfg := testCA(t)
		cfg.Hosts = []string{"*.example.com"}
		prefs := FirefoxPrefs(*cfg)
		for _, w := range []string{`user_pref("network.proxy.type", 2);`, `user_pref("network.proxy.autoconfig_url", "data:application/x-ns-proxy-autoconfig;base64,`} {
			if !strings.Contains(prefs, w) {
				t.Errorf("user.js lacks %s:\n%s", w, prefs)
			}
		}
		if strings.Contains(prefs, `"network.proxy.http"`) {
			t.Errorf("user.js sets a manual proxy with --hosts:\n%s", prefs)
		}
	})
	t.Run("quiet prefs", func(t *testing.T) {
		// Each preference is data with a source: one of the lists of
		// preferences for a browser under test, or Firefox's own files.
		sources := map[string]bool{srcRemoteAgent: true, srcTestProfile: true, srcPlaywright: true, srcPuppeteer: true, srcTRRDocs: true, srcFirefox: true}
		prefs := FirefoxPrefs(Config{Proxy: "127.0.0.1:9090"})
		seen := map[string]bool{}
		for _, p := range firefoxQuiet {
			if !sources[p.src] {
				t.Errorf("%s: source %q is not one of the known lists", p.name, p.src)
			}
			if seen[p.name] {
				t.Errorf("%s is listed twice", p.name)
			}
			seen[p.name] = true
			if strings.HasPrefix(p.name, "network.proxy.") {
				t.Errorf("%s: the proxy prefs are FirefoxPrefs' own, not quiet prefs", p.name)
			}
			switch p.value.(type) {
			case bool, int, string:
			default:
				t.Errorf("%s: value %v of type %T, want bool, int or string", p.name, p.value, p.value)
			}
			v, _ := json.Marshal(p.value)
			if line := fmt.Sprintf("user_pref(%q, %s);\n", p.name, v); !strings.Contains(prefs, line) {
				t.Errorf("user.js lacks %s", line)
			}
		}
		// The requests Firefox ESR 153 was seen sending without them.
		for _, name := range []string{"extensions.systemAddon.update.enabled", "media.gmp-manager.updateEnabled"} {
			if !hasSeenPref(name) {
				t.Errorf("%s is not in firefoxQuiet with the request it stops", name)
			}
		}
	})
	t.Run("args", func(t *testing.T) {
		cfg := testCA(t)
		cfg.Headless, cfg.URL = true, "https://app.test/"
		got := strings.Join(FirefoxArgs(*cfg, "/tmp/p"), " ")
		if want := "-profile /tmp/p -no-remote -new-instance -headless https://app.test/"; got != want {
			t.Errorf("FirefoxArgs = %q, want %q", got, want)
		}
	})
}

// hasSeenPref reports whether firefoxQuiet holds name with the request it
// was seen to stop.
func hasSeenPref(name string) bool {
	for _, p := range firefoxQuiet {
		if p.name == name && p.value == false && p.seen != "" {
			return true
		}
	}
	return false
}
