package e2e

// The harness: a test CA, a TLS OpenID Provider (zitadel op.Provider with the
// example in-memory storage), a TLS "app" serving the redirect URI, the
// oauthproxy binary as a child process with a JSON-lines log reader, proxied
// clients (net/http, x/oauth2, curl) and a headless authorization-code flow.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/oauth2"

	"github.com/oauthproxy/oauthproxy/flow"
)

// waitTimeout bounds every wait on the proxy (readiness, a log line, exit)
// so that a broken build fails instead of hanging; it is a safety net, not a
// performance assertion.
const waitTimeout = 60 * time.Second

var (
	verbose = flag.Bool("e2e.verbose", false, "copy the proxy's stdout/stderr and the OP's logs to the test log")

	// binPath is the oauthproxy binary built by TestMain; buildErr says why not.
	binPath  string
	buildErr error
)

func TestMain(m *testing.M) {
	flag.Parse()
	if !*verbose {
		// zitadel's op logs through the default slog logger.
		slog.SetDefault(slog.New(slog.DiscardHandler))
	}
	dir, err := os.MkdirTemp("", "oauthproxy-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	if bin := os.Getenv("E2E_OAUTHPROXY_BIN"); bin != "" {
		// A binary built elsewhere (CI artefact, a debug build).
		binPath = bin
	} else {
		binPath, buildErr = buildProxy(dir)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildProxy builds cmd/oauthproxy from the main module (its own go.mod and
// go.sum, as it ships), with -race when this test binary has it.
func buildProxy(dir string) (string, error) {
	root, err := filepath.Abs("..")
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "oauthproxy")
	args := []string{"build", "-o", out}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/oauthproxy")
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return out, nil
}

// needBinary fails the test when the oauthproxy binary could not be built.
func needBinary(t *testing.T) {
	t.Helper()
	if buildErr != nil {
		t.Fatalf("build oauthproxy: %v", buildErr)
	}
}

// needSubcommand fails the test when the binary does not know subcommand.
func needSubcommand(t *testing.T, sub string) {
	t.Helper()
	needBinary(t)
	if out, err := exec.Command(binPath, sub, "--help").CombinedOutput(); err != nil {
		t.Fatalf("oauthproxy %s --help: %v\n%s", sub, err, out)
	}
}

// ---------------------------------------------------------------------------
// Test CA and TLS servers

// testCA is a throw-away CA for the upstream servers (the OP, the app, fake
// token endpoints). Its PEM is passed to oauthproxy as --upstream-ca.
type testCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	PEM     []byte
	PEMFile string
	Pool    *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "oauthproxy e2e upstream CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &testCA{cert: cert, key: key, Pool: x509.NewCertPool()}
	ca.PEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	ca.Pool.AddCert(cert)
	ca.PEMFile = filepath.Join(t.TempDir(), "upstream-ca.pem")
	if err := os.WriteFile(ca.PEMFile, ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return ca
}

// leaf issues a server certificate for 127.0.0.1, 127.0.0.2 and localhost.
func (ca *testCA) leaf(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("127.0.0.2")},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// leafFiles writes a leaf certificate and its key as PEM files into dir.
func (ca *testCA) leafFiles(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	leaf := ca.leaf(t)
	keyDER, err := x509.MarshalPKCS8PrivateKey(leaf.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "leaf.pem"), filepath.Join(dir, "leaf-key.pem")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Certificate[0]})
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// newTLSServer starts h over TLS on 127.0.0.1 with a certificate from ca.
func newTLSServer(t *testing.T, ca *testCA, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.leaf(t)}}
	srv.Config.ErrorLog = discardLog()
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// unstartedTLSServer returns a TLS server whose URL is known (the listener
// is bound) but that serves nothing until start is called; the OP needs its
// issuer URL before its handler exists.
func unstartedTLSServer(t *testing.T, ca *testCA) (srv *httptest.Server, baseURL string, start func(http.Handler)) {
	t.Helper()
	srv = httptest.NewUnstartedServer(nil)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.leaf(t)}}
	srv.Config.ErrorLog = discardLog()
	baseURL = "https://" + srv.Listener.Addr().String()
	return srv, baseURL, func(h http.Handler) {
		srv.Config.Handler = h
		srv.StartTLS()
		t.Cleanup(srv.Close)
	}
}

// ---------------------------------------------------------------------------
// The OpenID Provider

// idp is a zitadel OpenID Provider on https://127.0.0.1:PORT with one
// confidential web client (random secret, Basic or post auth, PKCE S256),
// one user (random password) and the example storage's client-credentials
// service user, plus the app that serves the client's redirect URI.
type idp struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	RedirectURI  string
	Username     string
	Password     string
	// SessionCookie is the value of the op_session cookie the login sets.
	SessionCookie string
	// ServiceID and ServiceSecret are the client_credentials service user
	// of the example storage.
	ServiceID     string
	ServiceSecret string

	AuthURL  string
	TokenURL string
	CA       *testCA

	// tokenRequests counts requests that reached the token endpoint.
	tokenRequests atomic.Int64
	// middleware, when set, wraps every request to the OP (a test's WAF
	// or consent page, a rewritten redirect).
	middleware atomic.Pointer[func(http.Handler) http.Handler]
}

// userStore is a storage.UserStore with one user.
type userStore struct{ user *storage.User }

func (s userStore) GetUserByID(id string) *storage.User {
	if id == s.user.ID {
		return s.user
	}
	return nil
}

func (s userStore) GetUserByUsername(name string) *storage.User {
	if name == s.user.Username {
		return s.user
	}
	return nil
}

func (s userStore) ExampleClientID() string { return "service" }

func newIDP(t *testing.T, ca *testCA) *idp {
	t.Helper()
	return newIDPWithRedirect(t, ca, "")
}

// newIDPWithRedirect is newIDP whose client has redirectURI as its redirect
// URI instead of the TLS app's ("" keeps that one); the web client is in
// zitadel's dev mode, so http://localhost:PORT/... is allowed.
func newIDPWithRedirect(t *testing.T, ca *testCA, redirectURI string) *idp {
	t.Helper()
	// The app: serves the redirect URI so the callback goes through the proxy.
	app := newTLSServer(t, ca, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "signed in; the test exchanges the code itself\n")
	}))

	srv, issuer, start := unstartedTLSServer(t, ca)
	p := &idp{
		Issuer:        issuer,
		ClientID:      "web-" + randHex(4),
		ClientSecret:  "csecret-" + randHex(16),
		RedirectURI:   app.URL + "/callback",
		Username:      "alice@example.test",
		Password:      "pw-" + randHex(12),
		SessionCookie: "sess-" + randHex(16),
		ServiceID:     "sid1",
		ServiceSecret: "verysecret",
		CA:            ca,
	}
	if redirectURI != "" {
		p.RedirectURI = redirectURI
	}
	_ = srv
	users := userStore{user: &storage.User{
		ID: "id1", Username: p.Username, Password: p.Password,
		FirstName: "Alice", LastName: "Test", Email: "alice@example.test", EmailVerified: true,
	}}
	clients := map[string]*storage.Client{
		p.ClientID: storage.WebClient(p.ClientID, p.ClientSecret, p.RedirectURI),
	}
	st := storage.NewStorageWithClients(users, clients)

	var key [32]byte
	rand.Read(key[:])
	provider, err := op.NewProvider(&op.Config{
		CryptoKey:             key,
		CryptoKeyId:           "e2e",
		CodeMethodS256:        true,
		AuthMethodPost:        true,
		GrantTypeRefreshToken: true,
	}, st, op.StaticIssuer(issuer))
	if err != nil {
		t.Fatalf("op.NewProvider: %v", err)
	}
	p.AuthURL = provider.AuthorizationEndpoint().Absolute(issuer)
	p.TokenURL = provider.TokenEndpoint().Absolute(issuer)

	// The login UI (headless): POST username, password and the auth request
	// id; on success set a session cookie and redirect to the OP's callback.
	callback := op.AuthCallbackURL(provider)
	interceptor := op.NewIssuerInterceptor(provider.IssuerFromRequest)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login/username", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<form method="POST"><input name="id" value="%s"><input name="username"><input name="password" type="password"></form>`,
			url.QueryEscape(r.URL.Query().Get("authRequestID")))
	})
	mux.HandleFunc("POST /login/username", interceptor.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		id := r.FormValue("id")
		if err := st.CheckUsernamePassword(r.FormValue("username"), r.FormValue("password"), id); err != nil {
			http.Error(w, "login failed", http.StatusUnauthorized)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "op_session", Value: p.SessionCookie, Path: "/", Secure: true, HttpOnly: true})
		http.Redirect(w, r, callback(r.Context(), id), http.StatusFound)
	}))
	tokenPath := provider.TokenEndpoint().Relative()
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == tokenPath {
			p.tokenRequests.Add(1)
		}
		provider.ServeHTTP(w, r)
	}))
	start(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m := p.middleware.Load(); m != nil {
			(*m)(mux).ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	return p
}

func (p *idp) oauth2Config() *oauth2.Config {
	return &oauth2.Config{
		ClientID:     p.ClientID,
		ClientSecret: p.ClientSecret,
		RedirectURL:  p.RedirectURI,
		Scopes:       []string{oidc.ScopeOpenID, oidc.ScopeOfflineAccess},
		Endpoint: oauth2.Endpoint{
			AuthURL:   p.AuthURL,
			TokenURL:  p.TokenURL,
			AuthStyle: oauth2.AuthStyleInHeader,
		},
	}
}

// ---------------------------------------------------------------------------
// The proxy process

// proxyOpts are the flags of one `oauthproxy run`.
type proxyOpts struct {
	// DataDir is reused when set (restart scenarios); a temp dir otherwise.
	DataDir string
	// Format is the --log-format; "json" when empty.
	Format        string
	HAR           string
	HARUnredacted bool
	EgressAddr    string
	TokenEndpoint string
	OnlyOAuth     bool
	// UpstreamProxy is the --upstream-proxy URL.
	UpstreamProxy string
}

// logEntry is one JSON line of the proxy's exchange log (the CLI contract).
type logEntry struct {
	Flow       string          `json:"flow"`
	Method     string          `json:"method"`
	URL        string          `json:"url"`
	Status     int             `json:"status"`
	DurationMS float64         `json:"duration_ms"`
	Size       int64           `json:"size"`
	OAuth      string          `json:"oauth"`
	GrantType  string          `json:"grant_type"`
	Findings   []flow.Finding  `json:"findings"`
	Diagnosis  *flow.Diagnosis `json:"diagnosis"`
	Error      string          `json:"error"`
	Login      string          `json:"login"`
	LoginLink  string          `json:"login_link"`
	LoginTrace string          `json:"login_trace"`
	// Raw is the line as printed.
	Raw string `json:"-"`
}

// finding returns the finding with this id, if any.
func (e logEntry) finding(id string) (flow.Finding, bool) {
	for _, f := range e.Findings {
		if f.ID == id {
			return f, true
		}
	}
	return flow.Finding{}, false
}

// findingIDs lists the entry's finding ids with their severities.
func (e logEntry) findingIDs() []string {
	var out []string
	for _, f := range e.Findings {
		out = append(out, f.ID+"/"+string(f.Severity))
	}
	return out
}

func (e logEntry) String() string {
	return e.Raw
}

// proxyProc is a running `oauthproxy run` child process.
type proxyProc struct {
	Addr    string // 127.0.0.1:PORT
	URL     *url.URL
	DataDir string
	CAPEM   []byte
	CAFile  string
	Opts    proxyOpts

	cmd  *exec.Cmd
	t    *testing.T
	done chan struct{} // closed when the process exited and its output was read

	mu      sync.Mutex
	changed chan struct{} // closed and replaced whenever output arrives
	stdout  []string
	entries []logEntry
	stderr  bytes.Buffer
	exitErr error
	exited  bool
	stopped bool
	outWG   sync.WaitGroup
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// caPEM runs `oauthproxy ca --data-dir dir` and returns the PEM it prints.
func caPEM(t *testing.T, dataDir string) []byte {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(binPath, "ca", "--data-dir", dataDir)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("oauthproxy ca --data-dir %s: %v\nstderr: %s", dataDir, err, stderr.String())
	}
	block, _ := pem.Decode(stdout.Bytes())
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("oauthproxy ca printed no CERTIFICATE PEM block; got:\n%s", stdout.String())
	}
	return stdout.Bytes()
}

// startProxy starts `oauthproxy run` with upstream CA ca and waits until it
// accepts connections. It is stopped (SIGTERM) at the end of the test.
func startProxy(t *testing.T, ca *testCA, o proxyOpts) *proxyProc {
	t.Helper()
	needBinary(t)
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	if o.Format == "" {
		o.Format = "json"
	}
	pem := caPEM(t, o.DataDir)
	caFile := filepath.Join(t.TempDir(), "oauthproxy-ca.pem")
	if err := os.WriteFile(caFile, pem, 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	args := []string{"run", "--listen", addr, "--data-dir", o.DataDir, "--upstream-ca", ca.PEMFile, "--log-format", o.Format}
	if o.HAR != "" {
		args = append(args, "--har", o.HAR)
	}
	if o.HARUnredacted {
		args = append(args, "--har-unredacted")
	}
	if o.EgressAddr != "" {
		args = append(args, "--egress-addr", o.EgressAddr)
	}
	if o.TokenEndpoint != "" {
		args = append(args, "--token-endpoint", o.TokenEndpoint)
	}
	if o.OnlyOAuth {
		args = append(args, "--only-oauth")
	}
	if o.UpstreamProxy != "" {
		args = append(args, "--upstream-proxy", o.UpstreamProxy)
	}
	p := &proxyProc{
		Addr: addr, URL: &url.URL{Scheme: "http", Host: addr},
		DataDir: o.DataDir, CAPEM: pem, CAFile: caFile, Opts: o,
		t: t, done: make(chan struct{}), changed: make(chan struct{}),
	}
	p.cmd = exec.Command(binPath, args...)
	p.cmd.Env = append(os.Environ(), "NO_COLOR=1", "GORACE=halt_on_error=0")
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start oauthproxy %s: %v", strings.Join(args, " "), err)
	}
	p.outWG.Add(2)
	go p.readStdout(stdout)
	go p.readStderr(stderr)
	go func() {
		p.outWG.Wait()
		err := p.cmd.Wait()
		p.mu.Lock()
		p.exitErr, p.exited = err, true
		p.notifyLocked()
		p.mu.Unlock()
		close(p.done)
	}()
	t.Cleanup(func() { p.Stop(t) })
	p.waitReady(t)
	return p
}

func (p *proxyProc) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *proxyProc) readStdout(r io.Reader) {
	defer p.outWG.Done()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if *verbose {
			p.t.Logf("proxy stdout: %s", line)
		}
		p.mu.Lock()
		p.stdout = append(p.stdout, line)
		var e logEntry
		if p.Opts.Format == "json" && json.Unmarshal([]byte(line), &e) == nil && e.Flow != "" {
			e.Raw = line
			p.entries = append(p.entries, e)
		}
		p.notifyLocked()
		p.mu.Unlock()
	}
	io.Copy(io.Discard, r)
}

func (p *proxyProc) readStderr(r io.Reader) {
	defer p.outWG.Done()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		if *verbose {
			p.t.Logf("proxy stderr: %s", sc.Text())
		}
		p.mu.Lock()
		p.stderr.WriteString(sc.Text())
		p.stderr.WriteByte('\n')
		p.notifyLocked()
		p.mu.Unlock()
	}
	io.Copy(io.Discard, r)
}

func (p *proxyProc) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		c, err := net.DialTimeout("tcp", p.Addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-p.done:
			t.Fatalf("oauthproxy run exited before listening on %s: %v\nstderr:\n%s", p.Addr, p.exitErr, p.Stderr())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("oauthproxy did not listen on %s within %s\nstderr:\n%s", p.Addr, waitTimeout, p.Stderr())
		}
	}
}

// Stop sends SIGTERM, waits for a graceful exit and checks it was clean
// (exit status 0, no panic, no data race). It is idempotent.
func (p *proxyProc) Stop(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return
	}
	p.stopped = true
	p.mu.Unlock()
	if !signalAndWait(t, p.cmd, p.done, syscall.SIGTERM, "oauthproxy") {
		t.Errorf("stderr:\n%s", p.Stderr())
		return
	}
	if p.exitErr != nil {
		t.Errorf("oauthproxy exited with %v after SIGTERM, want status 0\nstderr:\n%s", p.exitErr, p.Stderr())
	}
	if s := p.Stderr(); strings.Contains(s, "WARNING: DATA RACE") || strings.Contains(s, "panic:") {
		t.Errorf("oauthproxy stderr shows a data race or panic:\n%s", s)
	}
}

// signalAndWait sends sig to cmd's process and waits for done (closed when
// the process was reaped); after waitTimeout it kills the process, reports
// it as an error naming what, and returns false.
func signalAndWait(t *testing.T, cmd *exec.Cmd, done <-chan struct{}, sig os.Signal, what string) bool {
	t.Helper()
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("signal %s: %v", what, err)
	}
	select {
	case <-done:
		return true
	case <-time.After(waitTimeout):
		cmd.Process.Kill()
		<-done
		t.Errorf("%s did not exit within %s of %v", what, waitTimeout, sig)
		return false
	}
}

// Stderr returns what the proxy wrote to stderr so far.
func (p *proxyProc) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// Stdout returns what the proxy wrote to stdout so far.
func (p *proxyProc) Stdout() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.stdout, "\n")
}

// all returns the exchange log entries so far.
func (p *proxyProc) all() []logEntry {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.entries)
}

// waitFor returns the first log entry matching pred, waiting for it.
func (p *proxyProc) waitFor(t *testing.T, what string, pred func(logEntry) bool) logEntry {
	t.Helper()
	return p.waitForNth(t, what, 1, pred)
}

// waitForNth returns the n-th (1-based) log entry matching pred.
func (p *proxyProc) waitForNth(t *testing.T, what string, n int, pred func(logEntry) bool) logEntry {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		p.mu.Lock()
		seen := 0
		for _, e := range p.entries {
			if pred(e) {
				seen++
				if seen == n {
					p.mu.Unlock()
					return e
				}
			}
		}
		ch, exited := p.changed, p.exited
		p.mu.Unlock()
		if exited {
			t.Fatalf("oauthproxy exited before logging %s (#%d): %v\nstdout:\n%s\nstderr:\n%s", what, n, p.exitErr, p.Stdout(), p.Stderr())
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("no log entry for %s (#%d) within %s\nstdout:\n%s\nstderr:\n%s", what, n, waitTimeout, p.Stdout(), p.Stderr())
		}
	}
}

// waitForOutput waits until stdout contains s (console mode).
func (p *proxyProc) waitForOutput(t *testing.T, s string) {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		p.mu.Lock()
		ok := strings.Contains(strings.Join(p.stdout, "\n"), s)
		ch, exited := p.changed, p.exited
		p.mu.Unlock()
		if ok {
			return
		}
		if exited {
			t.Fatalf("oauthproxy exited before printing %q", s)
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("oauthproxy did not print %q within %s\nstdout:\n%s", s, waitTimeout, p.Stdout())
		}
	}
}

// isToken matches token-endpoint exchanges.
func isToken(e logEntry) bool { return e.OAuth == "token" }

// client returns an http.Client that goes through the proxy, trusts its CA
// and does not follow redirects. wrap, if set, wraps the transport (to
// simulate a hop between the client and the proxy).
func (p *proxyProc) client(wrap func(http.RoundTripper) http.RoundTripper) *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.CAPEM)
	var rt http.RoundTripper = &http.Transport{
		Proxy:             http.ProxyURL(p.URL),
		TLSClientConfig:   &tls.Config{RootCAs: pool},
		ForceAttemptHTTP2: true,
	}
	if wrap != nil {
		rt = wrap(rt)
	}
	return &http.Client{
		Transport:     rt,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       waitTimeout,
	}
}

// ---------------------------------------------------------------------------
// Headless authorization-code flow

// session drives one client through one proxy against one OP.
type session struct {
	t     *testing.T
	idp   *idp
	proxy *proxyProc
	http  *http.Client
	cfg   *oauth2.Config
}

func newSession(t *testing.T, p *idp, px *proxyProc) *session {
	return &session{t: t, idp: p, proxy: px, http: px.client(nil), cfg: p.oauth2Config()}
}

// newDirectSession talks to the OP without the proxy (ground truth for the
// scenarios).
func newDirectSession(t *testing.T, p *idp) *session {
	c := &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.CA.Pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       waitTimeout,
	}
	return &session{t: t, idp: p, http: c, cfg: p.oauth2Config()}
}

// ctx returns a context that makes x/oauth2 use the proxied client.
func (s *session) ctx() context.Context {
	return context.WithValue(context.Background(), oauth2.HTTPClient, s.http)
}

// authCode is what the front channel produced.
type authCode struct {
	Code     string
	State    string
	Verifier string
}

// discover fetches the OP's discovery document through the proxy (as OIDC
// clients do; the proxy learns the token endpoint from it).
func (s *session) discover() {
	t := s.t
	t.Helper()
	resp, err := s.http.Get(s.idp.Issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatalf("discovery through proxy: %v", err)
	}
	defer resp.Body.Close()
	var doc struct {
		TokenEndpoint string `json:"token_endpoint"`
	}
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&doc) != nil || doc.TokenEndpoint != s.idp.TokenURL {
		t.Fatalf("discovery through proxy: status %d, token_endpoint %q, want 200 and %q", resp.StatusCode, doc.TokenEndpoint, s.idp.TokenURL)
	}
}

// authorize runs discovery and the front channel headlessly (authorize ->
// login -> OP callback -> redirect to the app), every hop through the
// proxy, and returns the code with its state and PKCE verifier.
func (s *session) authorize() authCode {
	t := s.t
	t.Helper()
	s.discover()
	ac := authCode{State: "st-" + randHex(8), Verifier: oauth2.GenerateVerifier()}
	authURL := s.cfg.AuthCodeURL(ac.State, oauth2.S256ChallengeOption(ac.Verifier), oauth2.SetAuthURLParam("nonce", "n-"+randHex(6)))

	loc := s.expectRedirect("GET", authURL, nil, "")
	if !strings.HasPrefix(loc.Path, "/login/") {
		t.Fatalf("authorize redirected to %s, want the login page", loc)
	}
	id := loc.Query().Get("authRequestID")
	form := url.Values{"id": {id}, "username": {s.idp.Username}, "password": {s.idp.Password}}
	loc = s.expectRedirect("POST", s.idp.Issuer+"/login/username", strings.NewReader(form.Encode()), "application/x-www-form-urlencoded")
	loc = s.expectRedirect("GET", loc.String(), nil, "") // OP's authorize/callback -> redirect_uri
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != s.idp.RedirectURI {
		t.Fatalf("OP redirected to %s, want the redirect URI %s", loc, s.idp.RedirectURI)
	}
	q := loc.Query()
	if q.Get("error") != "" {
		t.Fatalf("OP answered the authorize request with error=%s (%s)", q.Get("error"), q.Get("error_description"))
	}
	ac.Code = q.Get("code")
	if ac.Code == "" || q.Get("state") != ac.State {
		t.Fatalf("callback %s: want a code and state %s", loc, ac.State)
	}
	// The browser lands on the app.
	resp, err := s.do("GET", loc.String(), nil, "")
	if err != nil {
		t.Fatalf("GET callback through proxy: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET callback: status %d, want 200", resp.StatusCode)
	}
	return ac
}

// do sends one request through the proxy with the session cookie.
func (s *session) do(method, u string, body io.Reader, contentType string) (*http.Response, error) {
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if strings.HasPrefix(u, s.idp.Issuer) {
		req.Header.Set("Cookie", "op_session="+s.idp.SessionCookie)
	}
	return s.http.Do(req)
}

func (s *session) expectRedirect(method, u string, body io.Reader, contentType string) *url.URL {
	t := s.t
	t.Helper()
	resp, err := s.do(method, u, body, contentType)
	if err != nil {
		t.Fatalf("%s %s through proxy: %v", method, u, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("%s %s: status %d, want a redirect; body: %.300s", method, u, resp.StatusCode, b)
	}
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	return loc
}

// exchange redeems the code with x/oauth2 (Basic auth, PKCE verifier).
func (s *session) exchange(ac authCode) (*oauth2.Token, error) {
	return s.cfg.Exchange(s.ctx(), ac.Code, oauth2.VerifierOption(ac.Verifier))
}

// tokenResponse is a token endpoint answer read by hand.
type tokenResponse struct {
	Status int
	Body   []byte
	JSON   map[string]any
}

func (r tokenResponse) str(k string) string {
	s, _ := r.JSON[k].(string)
	return s
}

// postToken sends a hand-made token request through the proxy. basic, if
// not empty, is "id:secret" for the Authorization header.
func (s *session) postToken(contentType string, body []byte, basic string) tokenResponse {
	t := s.t
	t.Helper()
	req, err := http.NewRequest("POST", s.idp.TokenURL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if basic != "" {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(basic)))
	}
	resp, err := s.http.Do(req)
	if err != nil {
		t.Fatalf("POST token through proxy: %v", err)
	}
	defer resp.Body.Close()
	r := tokenResponse{Status: resp.StatusCode}
	r.Body, _ = io.ReadAll(resp.Body)
	json.Unmarshal(r.Body, &r.JSON)
	return r
}

// postForm sends a form-encoded token request with client_secret_basic.
func (s *session) postForm(form url.Values) tokenResponse {
	s.t.Helper()
	return s.postToken("application/x-www-form-urlencoded", []byte(form.Encode()), s.idp.ClientID+":"+s.idp.ClientSecret)
}

// ---------------------------------------------------------------------------
// curl and the other subcommands

// curl runs curl through the session's proxy, trusting the proxy's CA (or
// directly, trusting the upstream CA, for a direct session), and returns
// the response body.
func (s *session) curl(t *testing.T, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed")
	}
	full := []string{"--silent", "--show-error", "--cacert", s.idp.CA.PEMFile}
	if s.proxy != nil {
		full = []string{"--silent", "--show-error", "--proxy", s.proxy.URL.String(), "--cacert", s.proxy.CAFile}
	}
	full = append(full, args...)
	cmd := exec.Command("curl", full...)
	cmd.Env = withoutProxyEnv(os.Environ())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("curl: %v\n%s", err, stderr.String())
	}
	return stdout.String()
}

func withoutProxyEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch strings.ToLower(k) {
		case "no_proxy", "http_proxy", "https_proxy", "all_proxy":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// cliResult is the outcome of one oauthproxy subcommand.
type cliResult struct {
	Stdout, Stderr string
	Code           int
}

// runCLI runs the oauthproxy binary with args and returns its output and
// exit status (it does not fail on a non-zero status).
func runCLI(t *testing.T, stdin io.Reader, args ...string) cliResult {
	t.Helper()
	needBinary(t)
	cmd := exec.Command(binPath, args...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := cliResult{Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	default:
		t.Fatalf("run oauthproxy %s: %v", strings.Join(args, " "), err)
	}
	if strings.Contains(r.Stderr, "panic:") || strings.Contains(r.Stderr, "WARNING: DATA RACE") {
		t.Errorf("oauthproxy %s: panic or data race:\n%s", strings.Join(args, " "), r.Stderr)
	}
	return r
}

// parseEntries parses the JSON lines of analyze/replay output.
func parseEntries(t *testing.T, out string) []logEntry {
	t.Helper()
	var es []logEntry
	for line := range strings.Lines(out) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		var e logEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("output line is not JSON: %v\n%s", err, line)
		}
		if e.Flow == "" {
			continue
		}
		e.Raw = line
		es = append(es, e)
	}
	return es
}

// ---------------------------------------------------------------------------
// small helpers

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }

// findingsOf renders entries for failure messages.
func findingsOf(es []logEntry) string {
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintf(&b, "  %s %s %d oauth=%s grant=%s findings=%v", e.Method, e.URL, e.Status, e.OAuth, e.GrantType, e.findingIDs())
		if e.Diagnosis != nil {
			fmt.Fprintf(&b, " diagnosis=%s/%s", e.Diagnosis.Category, e.Diagnosis.Cause)
		}
		b.WriteByte('\n')
	}
	return b.String()
}
