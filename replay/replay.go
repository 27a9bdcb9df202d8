// Package replay re-sends requests from a capture and shows how the new
// response differs from the captured one.
//
// It refuses, unless forced, to replay single-use credentials (an
// authorization code, a refresh token the server rotated), because a second
// use fails and can revoke the tokens already issued (RFC 6749 §4.1.2,
// §10.4; RFC 9700 §4.14). It refuses redacted values outright and says how
// to supply them (Options.Set or OAUTHPROXY_SET_<NAME> in the environment).
// Errors and change lists never contain raw secrets.
package replay

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/oauthproxy/oauthproxy/flow"
)

// Options select and shape replayed requests.
type Options struct {
	// Only selects exchanges with this OAuth label (--only token). An
	// uninspected POST carrying grant_type counts as a token request.
	Only flow.Label
	// Entries selects exchanges by Seq (--entry N).
	Entries []int
	// Flow selects exchanges whose ID starts with this prefix (--flow ID).
	Flow string
	// Force allows replaying single-use credentials (authorization codes,
	// rotated refresh tokens).
	Force bool
	// Set replaces values before sending: "name" sets a query/form/JSON
	// parameter, "header:Name" sets a header. Set wins over the environment.
	Set map[string]string
	// Target, when set, redirects the request: its scheme and host replace
	// the captured ones; its path, if neither empty nor "/", replaces the
	// captured path. The captured query is kept; Target's query is ignored.
	Target *url.URL
	// Client sends the requests; nil means a client with default transport
	// settings. Redirects are never followed, whatever the client says.
	Client *http.Client
	// Env looks up OAUTHPROXY_SET_<NAME> values; nil means os.Getenv.
	Env func(string) string
}

func (o Options) env(name string) string {
	if o.Env != nil {
		return o.Env(name)
	}
	return os.Getenv(name)
}

// RefusedError explains why an exchange was not replayed and how to proceed.
type RefusedError struct {
	// Entry is the Seq of the refused exchange.
	Entry int
	// Field names what caused the refusal: a parameter ("client_secret"), a
	// header ("header:Authorization"), "grant_type", "body" or "url".
	Field string
	// Reason says why, without secret values.
	Reason string
	// Hint says how to proceed (--force, --set ...).
	Hint string
}

// Error implements error.
func (e *RefusedError) Error() string {
	s := fmt.Sprintf("replay: entry %d: refused (%s): %s", e.Entry, e.Field, e.Reason)
	if e.Hint != "" {
		s += "; " + e.Hint
	}
	return s
}

// Select returns the exchanges matching every given criterion (Only,
// Entries, Flow), in capture order. At least one criterion is required, so
// that a bare "replay FILE" does not re-send a whole browser session.
func Select(xs []*flow.Exchange, opts Options) ([]*flow.Exchange, error) {
	if opts.Only == flow.LabelNone && len(opts.Entries) == 0 && opts.Flow == "" {
		return nil, fmt.Errorf("replay: nothing selected: choose requests with --only LABEL, --entry N or --flow ID")
	}
	want := map[int]bool{}
	for _, e := range opts.Entries {
		want[e] = true
	}
	seen := map[int]bool{}
	prefix := strings.ToLower(opts.Flow)
	var out []*flow.Exchange
	labels := map[string]bool{}
	for _, x := range xs {
		if x == nil {
			continue
		}
		l := labelOf(x)
		if l != flow.LabelNone {
			labels[string(l)] = true
		}
		if opts.Only != flow.LabelNone && l != opts.Only {
			continue
		}
		if len(want) > 0 && !want[x.Seq] {
			continue
		}
		if prefix != "" && !strings.HasPrefix(strings.ToLower(x.ID), prefix) {
			continue
		}
		seen[x.Seq] = true
		out = append(out, x)
	}
	var missing []string
	for _, e := range opts.Entries {
		if !seen[e] {
			missing = append(missing, strconv.Itoa(e))
		}
	}
	switch {
	case len(out) == 0:
		var crit []string
		if opts.Only != flow.LabelNone {
			crit = append(crit, "--only "+string(opts.Only))
		}
		if len(opts.Entries) > 0 {
			crit = append(crit, "--entry "+joinInts(opts.Entries))
		}
		if opts.Flow != "" {
			crit = append(crit, "--flow "+opts.Flow)
		}
		have := make([]string, 0, len(labels))
		for l := range labels {
			have = append(have, l)
		}
		sort.Strings(have)
		hint := "the capture has no labelled OAuth exchanges (was it inspected?)"
		if len(have) > 0 {
			hint = "labels in the capture: " + strings.Join(have, ", ")
		}
		return nil, fmt.Errorf("replay: no exchange matches %s (%s)", strings.Join(crit, " "), hint)
	case len(missing) > 0:
		return nil, fmt.Errorf("replay: no exchange with entry %s matches the selection", strings.Join(missing, ", "))
	}
	return out, nil
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

// labelOf is the inspector's label, or "token" for an uninspected POST with
// a grant_type parameter.
func labelOf(x *flow.Exchange) flow.Label {
	if x.OAuth.Label != flow.LabelNone {
		return x.OAuth.Label
	}
	if strings.EqualFold(x.Request.Method, http.MethodPost) && grantOf(x) != "" {
		return flow.LabelToken
	}
	return flow.LabelNone
}

// grantOf is the grant type from inspection or the request body.
func grantOf(x *flow.Exchange) string {
	if x.OAuth.GrantType != "" {
		return x.OAuth.GrantType
	}
	p, _ := parseRequest(&x.Request)
	return p.get("grant_type")
}
