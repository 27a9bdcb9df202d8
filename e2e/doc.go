// Package e2e holds the end-to-end tests of oauthproxy: they build the real
// binary, start a certified OpenID Provider (github.com/zitadel/oidc/v3/pkg/op
// with an in-memory storage) behind TLS on loopback, drive real clients
// (golang.org/x/oauth2, curl) through the proxy, and check what the proxy
// logs, captures, analyzes, diffs and replays.
//
// It is a separate module so that its heavy test-only dependencies never
// reach the main go.mod. Run it with `cd e2e && go test ./...`; see
// README.md. The package has no API; everything lives in _test.go files.
package e2e
