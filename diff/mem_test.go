package diff

import (
	"crypto/sha256"
	"encoding/hex"
	"runtime"
	"strconv"
	"testing"

	"github.com/oauthproxy/oauthproxy/flow"
)

// maxBytesPerKept bounds the heap a Capture keeps per OAuth exchange. This
// test measured 1137 bytes on amd64 with the compact side, 2704 with the
// slimmed flow.Exchange it replaced (header maps, a params map pinning the
// body); 1.5 KiB leaves room for other platforms and still fails if a
// whole exchange, its header maps or its body are kept again. Two
// 100k-entry captures with 30% OAuth keep 60 000 of them
// (docs/benchmarks.md section 5).
const maxBytesPerKept = 1536

// TestCaptureBytesPerExchange guards the compact representation: the heap
// a Capture holds after adding a few thousand OAuth exchanges (authorize
// requests with a unique state, token requests with a unique code, a Basic
// client, a JSON response, half of them diagnosed), measured with
// runtime.MemStats, divided by their number.
func TestCaptureBytesPerExchange(t *testing.T) {
	const n = 4000
	rnd := func(kind string, i int) string {
		sum := sha256.Sum256([]byte(kind + strconv.Itoa(i)))
		return hex.EncodeToString(sum[:])[:43]
	}
	mk := func(i int) *flow.Exchange {
		if i%2 == 0 {
			return exchange(i, "GET", "https://idp.test/authorize?client_id=my-client&response_type=code&redirect_uri=https%3A%2F%2Fapp.test%2Fcb&scope=openid&state="+rnd("state", i),
				labelled(flow.LabelAuthorize, ""), header("User-Agent", "Mozilla/5.0 (X11; Linux x86_64)"), header("Accept", "text/html"),
				respond(302, "text/html", "", 0))
		}
		opts := []opt{
			form("grant_type", "authorization_code", "code", rnd("code", i), "redirect_uri", "https://app.test/cb", "code_verifier", rnd("verifier", i)),
			respond(200, "application/json", `{"access_token":"`+rnd("at", i)+`","token_type":"Bearer","expires_in":3600}`, 0),
		}
		if i%4 == 1 {
			opts = append(opts, respond(403, "text/html", "<html>Forbidden</html>", 0),
				diagnosed(flow.CategoryNetwork, "ip-not-allowlisted", "the request was blocked by an IP allowlist"))
		}
		return tokenReq(i, "authorization_code", opts...)
	}
	mk(0) // warm the fingerprint cache (argon2id of the Basic credential)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c := NewCapture("a")
	for i := 0; i < n; i++ {
		c.Add(mk(i))
	}
	c.in = nil // CompareCaptures drops the interner before comparing
	runtime.GC()
	runtime.ReadMemStats(&after)
	if len(c.kept) != n {
		t.Fatalf("kept %d exchanges, want %d", len(c.kept), n)
	}
	got := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
	t.Logf("%d bytes per kept exchange", got)
	if got > maxBytesPerKept {
		t.Errorf("a Capture keeps %d bytes per OAuth exchange, want at most %d", got, maxBytesPerKept)
	}
	runtime.KeepAlive(c)
}
