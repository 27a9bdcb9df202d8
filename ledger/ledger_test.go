package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthproxy/oauthproxy/flow"
	"github.com/oauthproxy/oauthproxy/inspect"
	"github.com/oauthproxy/oauthproxy/redact"
)

const rawCode = "CANARY-ledger-code-42"

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// clock returns a settable clock for Options.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

func open(t *testing.T, path string, c *clock, opts ...func(*Options)) *Ledger {
	t.Helper()
	o := Options{Now: c.Now}
	for _, f := range opts {
		f(&o)
	}
	l, err := Open(path, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// code returns a code like a real one (random-looking, 40+ characters, so
// fingerprinted with the fast hash as real codes are) named by format.
func code(format string, a ...any) string {
	name := fmt.Sprintf(format, a...)
	sum := sha256.Sum256([]byte(name))
	return name + "-" + hex.EncodeToString(sum[:20])
}

func use(code string, at time.Time, flowID string) inspect.Use {
	return inspect.Use{Kind: inspect.KindCode, Fingerprint: redact.Fingerprint(code), Time: at, Flow: flowID, Issuer: "https://idp.example.com", Status: 200, Result: "ok"}
}

// tokenExchange is a token request redeeming code, as the proxy sees it.
func tokenExchange(id, code string, at time.Time) *flow.Exchange {
	u, _ := url.Parse("https://idp.example.com/oauth2/token")
	b := "grant_type=authorization_code&code=" + url.QueryEscape(code) + "&client_id=app&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb"
	return &flow.Exchange{
		ID: id, Start: at,
		Request: flow.Request{Method: "POST", URL: u, Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
			Body: flow.Body{Data: []byte(b)}},
		Response: &flow.Response{Status: 200, Header: http.Header{"Content-Type": {"application/json"}},
			Body: flow.Body{Data: []byte(`{"access_token":"CANARY-at","token_type":"Bearer"}`)}},
	}
}

func hasFinding(x *flow.Exchange, id string) bool {
	for _, f := range x.OAuth.Findings {
		if f.ID == id {
			return true
		}
	}
	return false
}

func TestPersistsAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "ledger.jsonl")
	c := &clock{now: t0}

	l1 := open(t, path, c)
	in1 := inspect.New(inspect.Options{Ledger: l1})
	first := tokenExchange("11111111-aaaa", rawCode, t0)
	in1.Inspect(first)
	if hasFinding(first, inspect.IDCodeReused) {
		t.Fatalf("first use reported as reused: %v", first.OAuth.Findings)
	}
	if err := l1.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	// "Restart": a new ledger and a new inspector on the same file.
	l2 := open(t, path, c)
	in2 := inspect.New(inspect.Options{Ledger: l2})
	again := tokenExchange("22222222-bbbb", rawCode, t0.Add(time.Minute))
	in2.Inspect(again)
	if !hasFinding(again, inspect.IDCodeReused) {
		t.Fatalf("reuse after restart not reported: got %v, want %s", again.OAuth.Findings, inspect.IDCodeReused)
	}
	for _, f := range again.OAuth.Findings {
		if f.ID == inspect.IDCodeReused && !strings.Contains(f.Message, "11111111") {
			t.Errorf("message: got %q, want the first flow id 11111111", f.Message)
		}
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte(rawCode)) || bytes.Contains(data, []byte("CANARY")) {
		t.Fatalf("ledger file holds a raw value:\n%s", data)
	}
	if !bytes.Contains(data, []byte(redact.Fingerprint(rawCode))) {
		t.Errorf("ledger file: got\n%s\nwant the code's fingerprint", data)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode: got %v, want 0600", fi.Mode().Perm())
	}
}

func TestRawFingerprintNeverWritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.jsonl")
	l := open(t, path, &clock{now: t0})
	// A caller passing a raw value by mistake still gets only a fingerprint on disk.
	l.Record(inspect.Use{Kind: inspect.KindCode, Fingerprint: rawCode, Time: t0, Flow: "f1", Result: "ok"})
	data, _ := os.ReadFile(path)
	if bytes.Contains(data, []byte(rawCode)) {
		t.Fatalf("raw code on disk:\n%s", data)
	}
	if _, ok := l.Lookup(inspect.KindCode, redact.Fingerprint(rawCode)); !ok {
		t.Errorf("Lookup by fingerprint: got not found, want found")
	}
}

func TestExpiry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.jsonl")
	c := &clock{now: t0}
	l := open(t, path, c)
	l.Record(use(rawCode, t0, "f1"))
	tests := []struct {
		name string
		now  time.Time
		want bool
	}{
		{"one hour later", t0.Add(time.Hour), true},
		{"23 hours later", t0.Add(23 * time.Hour), true},
		{"25 hours later", t0.Add(25 * time.Hour), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c.set(tc.now)
			if _, got := l.Lookup(inspect.KindCode, redact.Fingerprint(rawCode)); got != tc.want {
				t.Errorf("Lookup: got found=%v, want %v", got, tc.want)
			}
		})
	}
	// Expired entries are not loaded by a new instance either.
	l2 := open(t, path, c)
	if n := l2.Len(); n != 0 {
		t.Errorf("entries loaded after expiry: got %d, want 0", n)
	}
}

func TestCorruptLines(t *testing.T) {
	fp := redact.Fingerprint(rawCode)
	good := fmt.Sprintf(`{"kind":"code","fp":%q,"time":"2025-03-01T12:00:00Z","flow":"f1","status":200,"result":"ok"}`, fp)
	tests := []struct {
		name    string
		content string
		skipped int
	}{
		{"truncated last line", good + "\n" + `{"kind":"code","fp":"redac`, 0},
		{"garbage line in the middle", "not json at all\n" + good + "\n", 1},
		{"raw value instead of a fingerprint", `{"kind":"code","fp":"CANARY-raw","time":"2025-03-01T12:00:00Z"}` + "\n" + good + "\n", 1},
		{"binary junk", "\x00\x01\xff\n" + good + "\n", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ledger.jsonl")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			l := open(t, path, &clock{now: t0})
			if _, ok := l.Lookup(inspect.KindCode, fp); !ok {
				t.Errorf("good record: got not found, want found")
			}
			if got := l.Skipped(); got != tc.skipped {
				t.Errorf("skipped lines: got %d, want %d", got, tc.skipped)
			}
		})
	}
}

func TestAppendAfterTruncatedTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.jsonl")
	if err := os.WriteFile(path, []byte(`{"kind":"code","fp":"redacted:sha2`), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &clock{now: t0}
	l := open(t, path, c)
	l.Record(use(rawCode, t0, "f1"))
	l.Close()
	// The new record was appended to the broken line; a fresh reader must still find it.
	l2 := open(t, path, c)
	if _, ok := l2.Lookup(inspect.KindCode, redact.Fingerprint(rawCode)); !ok {
		data, _ := os.ReadFile(path)
		t.Fatalf("record appended after a truncated line: got not found, want found; file:\n%s", data)
	}
}

func TestTwoInstancesShareFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.jsonl")
	c := &clock{now: t0}
	a := open(t, path, c)
	b := open(t, path, c)
	inA := inspect.New(inspect.Options{Ledger: a})
	inB := inspect.New(inspect.Options{Ledger: b})

	x1 := tokenExchange("aaaaaaaa-1", rawCode, t0)
	inA.Inspect(x1)
	x2 := tokenExchange("bbbbbbbb-2", rawCode, t0.Add(2*time.Second))
	inB.Inspect(x2)
	if !hasFinding(x2, inspect.IDCodeReused) {
		t.Fatalf("instance B did not see A's use: got %v, want %s", x2.OAuth.Findings, inspect.IDCodeReused)
	}

	// And the other way round, with a second code.
	other := "CANARY-ledger-code-43"
	inB.Inspect(tokenExchange("bbbbbbbb-3", other, t0.Add(3*time.Second)))
	x4 := tokenExchange("aaaaaaaa-4", other, t0.Add(4*time.Second))
	inA.Inspect(x4)
	if !hasFinding(x4, inspect.IDCodeReused) {
		t.Fatalf("instance A did not see B's use: got %v, want %s", x4.OAuth.Findings, inspect.IDCodeReused)
	}
	// The first use stays the first one for both.
	ua, _ := a.Lookup(inspect.KindCode, redact.Fingerprint(rawCode))
	ub, _ := b.Lookup(inspect.KindCode, redact.Fingerprint(rawCode))
	if ua.Flow != "aaaaaaaa-1" || ub.Flow != "aaaaaaaa-1" {
		t.Errorf("first use: got %q and %q, want aaaaaaaa-1 for both", ua.Flow, ub.Flow)
	}
}

func TestConcurrentAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.jsonl")
	c := &clock{now: t0}
	a := open(t, path, c)
	b := open(t, path, c)
	const n = 200
	var wg sync.WaitGroup
	for i, l := range []*Ledger{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range n {
				l.Record(use(code("CANARY-%d-%d", i, j), t0, fmt.Sprintf("f%d-%d", i, j)))
			}
		}()
	}
	wg.Wait()
	fresh := open(t, path, c)
	if got := fresh.Len(); got != 2*n {
		t.Errorf("entries after concurrent appends: got %d, want %d", got, 2*n)
	}
	if got := fresh.Skipped(); got != 0 {
		t.Errorf("corrupt lines after concurrent appends: got %d, want 0", got)
	}
}

func TestCompaction(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.jsonl")
	c := &clock{now: t0}
	l := open(t, path, c, func(o *Options) { o.MaxEntries = 10 })
	for i := range 25 {
		l.Record(use(code("CANARY-c-%d", i), t0.Add(time.Duration(i)*time.Second), fmt.Sprintf("f%d", i)))
	}
	if err := l.Err(); err != nil {
		t.Fatalf("Err: %v", err)
	}
	data, _ := os.ReadFile(path)
	if lines := bytes.Count(data, []byte("\n")); lines > 20 {
		t.Errorf("lines after compaction: got %d, want at most 20", lines)
	}
	// The newest entries survive, the oldest are gone.
	if _, ok := l.Lookup(inspect.KindCode, redact.Fingerprint(code("CANARY-c-%d", 24))); !ok {
		t.Errorf("newest entry: got not found, want found")
	}
	if _, ok := l.Lookup(inspect.KindCode, redact.Fingerprint(code("CANARY-c-%d", 0))); ok {
		t.Errorf("oldest entry: got found, want compacted away")
	}
	// Another instance opened before the compaction keeps working.
	l.Record(use("CANARY-after", t0.Add(time.Minute), "fz"))
	fresh := open(t, path, c)
	if _, ok := fresh.Lookup(inspect.KindCode, redact.Fingerprint("CANARY-after")); !ok {
		t.Errorf("record after compaction: got not found, want found")
	}
}

func TestCompactionSeenByOtherInstance(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.jsonl")
	c := &clock{now: t0}
	small := func(o *Options) { o.MaxEntries = 5 }
	a := open(t, path, c, small)
	b := open(t, path, c, small)
	for i := range 12 {
		a.Record(use(code("CANARY-a-%d", i), t0.Add(time.Duration(i)*time.Second), fmt.Sprintf("a%d", i)))
	}
	// a compacted (renamed a new file over the old); b must follow the new file.
	b.Record(use("CANARY-b", t0.Add(time.Minute), "b1"))
	if _, ok := a.Lookup(inspect.KindCode, redact.Fingerprint("CANARY-b")); !ok {
		t.Errorf("A after B appended to the compacted file: got not found, want found")
	}
	if _, ok := b.Lookup(inspect.KindCode, redact.Fingerprint(code("CANARY-a-%d", 11))); !ok {
		t.Errorf("B reading A's compacted file: got not found, want found")
	}
}

func TestRotatedUpdate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.jsonl")
	c := &clock{now: t0}
	l := open(t, path, c)
	fp := redact.Fingerprint("CANARY-rt")
	l.Record(inspect.Use{Kind: inspect.KindRefreshToken, Fingerprint: fp, Time: t0, Flow: "f1", Status: 500, Result: "not a token response"})
	l.Record(inspect.Use{Kind: inspect.KindRefreshToken, Fingerprint: fp, Time: t0.Add(time.Second), Flow: "f2", Status: 200, Result: "ok", Rotated: true})
	l.Close()
	l2 := open(t, path, c)
	u, ok := l2.Lookup(inspect.KindRefreshToken, fp)
	if !ok || u.Flow != "f1" || !u.Rotated {
		t.Errorf("got %+v found=%v, want the first use (f1) marked rotated", u, ok)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(filepath.Join(blocker, "ledger.jsonl"), Options{})
	if err == nil || !strings.HasPrefix(err.Error(), "ledger: ") {
		t.Errorf("Open under a regular file: got %v, want an error prefixed \"ledger: \"", err)
	}
}

func TestClosed(t *testing.T) {
	l := open(t, filepath.Join(t.TempDir(), "ledger.jsonl"), &clock{now: t0})
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	l.Record(use(rawCode, t0, "f1"))
	if _, ok := l.Lookup(inspect.KindCode, redact.Fingerprint(rawCode)); ok {
		t.Errorf("Lookup after Close: got found, want not found")
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: got %v, want nil", err)
	}
}

// TestTwoProcessesCompacting: two ledgers on one file (as two proxies
// sharing a data directory) record new credentials at the same time while
// a tiny MaxBytes makes them compact over and over: no record is lost.
func TestTwoProcessesCompacting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.jsonl")
	opts := Options{MaxEntries: 10000, MaxBytes: 4096}
	const each = 200
	var wg sync.WaitGroup
	for p := 0; p < 2; p++ {
		l, err := Open(path, opts)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer l.Close()
			for i := 0; i < each; i++ {
				l.Record(inspect.Use{Kind: inspect.KindCode, Fingerprint: redact.Fingerprint(code("code-%d-%d", p, i)),
					Time: time.Now(), Flow: fmt.Sprintf("flow-%d-%d", p, i), Status: 200, Result: "ok"})
			}
		}()
	}
	wg.Wait()
	l, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	missing := 0
	for p := 0; p < 2; p++ {
		for i := 0; i < each; i++ {
			if _, ok := l.Lookup(inspect.KindCode, redact.Fingerprint(code("code-%d-%d", p, i))); !ok {
				missing++
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d records lost", missing, 2*each)
	}
}
