package browser

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNormalizeAddr(t *testing.T) {
	tests := []struct {
		in, want, wantErr string
	}{
		{in: "127.0.0.1:8080", want: "127.0.0.1:8080"},
		{in: "http://127.0.0.1:9090/", want: "127.0.0.1:9090"},
		{in: ":8080", want: "127.0.0.1:8080"},
		{in: "0.0.0.0:8080", want: "127.0.0.1:8080"},
		{in: "[::]:8080", want: "127.0.0.1:8080"},
		{in: "[::1]:8080", want: "[::1]:8080"},
		{in: "localhost:8080", want: "localhost:8080"},
		{in: "127.0.0.1", wantErr: "want HOST:PORT"},
		{in: "", wantErr: "want HOST:PORT"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := NormalizeAddr(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("NormalizeAddr(%q) = %q, %v; want an error with %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("NormalizeAddr(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestFetchCA(t *testing.T) {
	caPEM, err := os.ReadFile(filepath.Join("testdata", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	serve := func(status int, body []byte) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/ca.pem" {
				http.NotFound(w, r)
				return
			}
			w.WriteHeader(status)
			w.Write(body)
		}))
		t.Cleanup(srv.Close)
		return strings.TrimPrefix(srv.URL, "http://")
	}
	tests := []struct {
		name    string
		addr    string
		wantErr string
	}{
		{name: "an oauthproxy", addr: serve(200, caPEM)},
		{name: "nothing listens", addr: closedAddr(t), wantErr: "connection refused): start it first with 'oauthproxy'"},
		{name: "another server", addr: serve(404, []byte("not found")), wantErr: "answered GET /ca.pem with status 404 and no certificate; is it oauthproxy?"},
		{name: "not a PEM", addr: serve(200, []byte("<html>hello</html>")), wantErr: "is it oauthproxy?"},
		{name: "a broken certificate", addr: serve(200, []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")), wantErr: "the CA served by"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert, err := FetchCA(context.Background(), tt.addr)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("FetchCA: %v, want an error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("FetchCA: %v", err)
			}
			if got, want := SPKIHash(cert), SPKIHash(testCA(t).CA); got != want {
				t.Errorf("FetchCA returned a CA with SPKI %s, want %s", got, want)
			}
		})
	}
}

func TestCheckListening(t *testing.T) {
	if err := CheckListening(context.Background(), closedAddr(t)); err == nil || !strings.Contains(err.Error(), "no proxy listens on") {
		t.Errorf("CheckListening(closed) = %v, want a no-proxy error", err)
	}
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	if err := CheckListening(context.Background(), strings.TrimPrefix(srv.URL, "http://")); err != nil {
		t.Errorf("CheckListening(open) = %v", err)
	}
}
