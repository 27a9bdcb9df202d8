package inspect

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oauthproxy/oauthproxy/capture"
	"github.com/oauthproxy/oauthproxy/flow"
)

// devtoolsHAR reads a fixture of capture/testdata/devtools: logins as
// Chrome's DevTools export them, with requests that got no answer.
func devtoolsHAR(t *testing.T, name string) []*flow.Exchange {
	t.Helper()
	xs, err := capture.ReadAll(filepath.Join("..", "capture", "testdata", "devtools", name))
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return xs
}

// TestDevToolsAbortsTrace traces logins read from DevTools HARs whose
// requests got no answer, and logins of the live proxy with the same
// events: the final redirect to a custom-scheme or a refused loopback
// callback completes the login (the OP's 302 carried the code); canceled
// navigations (a login page, a favicon, a prefetch) fail nothing; an
// authorize request the browser blocked fails its login with the browser's
// error in the trace line. Firefox's exports of a refused callback and of a
// TLS failure (no error text, "_securityState") are traced the same way.
func TestDevToolsAbortsTrace(t *testing.T) {
	tests := []struct {
		name string
		file string
		// edit changes the fixture's exchanges before inspection.
		edit func(xs []*flow.Exchange) []*flow.Exchange
		// trace maps exchange index to its trace line; every other exchange has none.
		trace map[int]string
		// info are the info finding ids, by exchange index; no exchange may
		// have an error or warn finding.
		info map[int][]string
		// diag maps exchange index to category/cause; the others have none.
		diag map[int]string
		// failed are the indexes of the exchanges that failed.
		failed []int
		// callback is the index of the request to the redirect URI (-1: none).
		callback int
	}{
		{name: "custom-scheme callback: the app takes the URL", file: "callback-custom-scheme.har", callback: 4},
		{name: "loopback callback refused: the app is not listening", file: "callback-refused.har", callback: 4,
			info: map[int][]string{4: {IDCallbackUnanswered}}},
		{name: "live proxy: loopback callback refused", file: "callback-refused.har", callback: 4,
			edit: func(xs []*flow.Exchange) []*flow.Exchange {
				xs[4].Error, xs[4].ErrorType = "oauthproxy: upstream localhost:8400: dial tcp 127.0.0.1:8400: connect: connection refused", "connection_refused"
				return xs
			},
			info: map[int][]string{4: {IDCallbackUnanswered}}},
		{name: "canceled login page, favicon and prefetch", file: "canceled-navigation.har", callback: 7,
			trace: map[int]string{8: "login id.example.com: authorize → 6 hops → callback → token 200 ok"}},
		{name: "canceled authorize, then the login again", file: "canceled-navigation.har", callback: 8,
			edit: func(xs []*flow.Exchange) []*flow.Exchange {
				// The user clicked twice: the first authorize request was
				// canceled before any answer, the second one went on.
				first := *xs[0]
				first.ID, first.Response = "canceled-authorize", nil
				first.Start = first.Start.Add(-300e6)
				first.Error = flow.BrowserCanceledPrefix + "the request before any answer (net::ERR_ABORTED): a navigation replaced it, or the page that wanted it went away"
				return append([]*flow.Exchange{&first}, xs...)
			},
			trace: map[int]string{9: "login id.example.com: authorize → 6 hops → callback → token 200 ok"}},
		{name: "authorize blocked by the browser", file: "authorize-blocked.har", callback: -1,
			trace:  map[int]string{1: "login id.example.com: authorize net::ERR_BLOCKED_BY_CLIENT"},
			diag:   map[int]string{1: "network/browser-blocked"},
			failed: []int{1}},
		{name: "authorize host not resolved by the browser", file: "authorize-blocked.har", callback: -1,
			edit: func(xs []*flow.Exchange) []*flow.Exchange {
				xs[1].Error = strings.Replace(xs[1].Error, "ERR_BLOCKED_BY_CLIENT", "ERR_NAME_NOT_RESOLVED", 1)
				return xs
			},
			trace:  map[int]string{1: "login id.example.com: authorize net::ERR_NAME_NOT_RESOLVED"},
			diag:   map[int]string{1: "network/upstream-dns"},
			failed: []int{1}},
		{name: "Firefox: authorize TLS failure", file: "firefox-authorize-tls.har", callback: -1,
			trace:  map[int]string{1: "login id.example.com: authorize no answer"},
			diag:   map[int]string{1: "network/upstream-tls"},
			failed: []int{1}},
		{name: "Firefox: loopback callback refused", file: "firefox-callback-refused.har", callback: 1,
			info: map[int][]string{1: {IDCallbackUnanswered}}},
		{name: "live proxy: authorize host not resolved", file: "authorize-blocked.har", callback: -1,
			edit: func(xs []*flow.Exchange) []*flow.Exchange {
				xs[1].Error, xs[1].ErrorType = "oauthproxy: upstream id.example.com:443: DNS lookup of id.example.com failed: no such host", "dns_error"
				return xs
			},
			trace:  map[int]string{1: "login id.example.com: authorize dns_error"},
			diag:   map[int]string{1: "network/upstream-dns"},
			failed: []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			xs := devtoolsHAR(t, tt.file)
			if tt.edit != nil {
				xs = tt.edit(xs)
			}
			in := New(Options{})
			inspectAll(in, xs...)
			var failed []int
			for i, x := range xs {
				what := fmt.Sprintf("exchange %d (%s %s)", i, x.Request.Method, x.Request.URLString())
				if got := x.OAuth.LoginTrace; got != tt.trace[i] {
					t.Errorf("%s: trace: got %q, want %q", what, got, tt.trace[i])
				}
				var info []string
				for _, f := range x.OAuth.Findings {
					if f.Severity != flow.SeverityInfo {
						t.Errorf("%s: got %s %s (%s), want no error or warn finding", what, f.Severity, f.ID, f.Message)
						continue
					}
					info = append(info, f.ID)
				}
				if !slices.Equal(info, tt.info[i]) {
					t.Errorf("%s: info findings: got %v, want %v", what, info, tt.info[i])
				}
				got := ""
				if d := x.OAuth.Diagnosis; d != nil {
					got = string(d.Category) + "/" + d.Cause
				}
				if got != tt.diag[i] {
					t.Errorf("%s: diagnosis: got %q, want %q", what, got, tt.diag[i])
				}
				if x.Failed() {
					failed = append(failed, i)
				}
			}
			if !slices.Equal(failed, tt.failed) {
				t.Errorf("failed exchanges: got %v, want %v", failed, tt.failed)
			}
			if tt.callback < 0 {
				return
			}
			cb := xs[tt.callback]
			if cb.OAuth.Label != flow.LabelCallback {
				t.Fatalf("exchange %d: label %q, want callback", tt.callback, cb.OAuth.Label)
			}
			// The callback belongs to the login the OP's 302 completed.
			auth := xs[0]
			if tt.name == "canceled authorize, then the login again" {
				auth = xs[1]
			}
			if cb.OAuth.Login != auth.ID || cb.OAuth.LoginLink != flow.LinkCertain {
				t.Errorf("callback: login %q link %q, want %q certain", cb.OAuth.Login, cb.OAuth.LoginLink, auth.ID)
			}
		})
	}
}

// TestCallbackUnansweredMessage: the hint names the browser's error, the
// redirect URI without its query (no code), the code only as a
// fingerprint, and where the app should listen.
func TestCallbackUnansweredMessage(t *testing.T) {
	xs := devtoolsHAR(t, "callback-refused.har")
	inspectAll(New(Options{}), xs...)
	fs := xs[4].OAuth.Findings
	if len(fs) != 1 {
		t.Fatalf("got %d findings, want 1", len(fs))
	}
	msg := fs[0].Message
	for _, want := range []string{"http://localhost:8400/callback got no answer (net::ERR_CONNECTION_REFUSED)", "the code sha256:", "is the app listening on localhost:8400?"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "CANARY") || strings.Contains(msg, "state=") {
		t.Errorf("message quotes the callback's query: %q", msg)
	}
}

func init() {
	checkCases = append(checkCases, callbackCases...)
}

// unanswered makes x an exchange that got no answer, with error msg.
func unanswered(msg string) xopt {
	return func(x *flow.Exchange) { x.Response, x.Error = nil, msg }
}

// callbackCases are the table rows of callback-unanswered.
var callbackCases = []checkCase{
	{name: "callback refused (live proxy)", id: IDCallbackUnanswered, fire: true,
		setup: func(s *scen) []*flow.Exchange { return s.login() },
		x: func(s *scen) *flow.Exchange {
			return s.callback(unanswered("oauthproxy: upstream app.example.com:443: dial tcp 192.0.2.7:443: connect: connection refused"))
		},
		msg: "is the app's server at app.example.com:443 up", sev: flow.SeverityInfo},
	{name: "custom-scheme callback, another tool's error", id: IDCallbackUnanswered, fire: true,
		setup: func(s *scen) []*flow.Exchange {
			xs := s.login()
			xs[1] = s.authorizeToLogin(s.authParams().set("redirect_uri", "com.example.app:/cb"), -30*time.Second)
			xs[4] = s.finalRedirect(s.respQuery(), -19*time.Second)
			xs[4].Response.Header.Set("Location", "com.example.app:/cb?"+s.respQuery().encode())
			return xs
		},
		x: func(s *scen) *flow.Exchange {
			return exch("GET", "com.example.app:/cb?"+s.respQuery().encode(), unanswered("Aborted"))
		},
		msg: "the redirect URI com.example.app:/cb got no answer: the code sha256:"},
	{name: "callback answered", id: IDCallbackUnanswered,
		setup: func(s *scen) []*flow.Exchange { return s.login() },
		x:     func(s *scen) *flow.Exchange { return s.callback() }},
	{name: "callback canceled by the browser", id: IDCallbackUnanswered,
		setup: func(s *scen) []*flow.Exchange { return s.login() },
		x: func(s *scen) *flow.Exchange {
			return s.callback(unanswered(flow.BrowserCanceledPrefix + "the request before any answer (net::ERR_ABORTED)"))
		}},
}
