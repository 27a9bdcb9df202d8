package browser

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Config is how the browser is set up.
type Config struct {
	// Proxy is the proxy's host:port.
	Proxy string
	// CA is the proxy's CA certificate, trusted for the profile only.
	CA *x509.Certificate
	// Hosts, when not empty, are the host globs (shExpMatch: * and ?)
	// routed through the proxy by a generated PAC; all other hosts go
	// DIRECT. Chromium never sends loopback hosts through a PAC proxy.
	Hosts []string
	// Headless runs the browser without a window (scripts, tests).
	Headless bool
	// DebugPort, when >= 0, opens the DevTools protocol on 127.0.0.1 at
	// this port (0: any free port; see Session.DevToolsURL). Chromium only.
	DebugPort int
	// NoSandbox disables Chromium's sandbox, which refuses to start as root.
	NoSandbox bool
	// URL is opened first; "" opens about:blank.
	URL string
	// Extra are further command line arguments for the browser.
	Extra []string
}

// SPKIHash returns the base64 SHA-256 of cert's SubjectPublicKeyInfo, the
// form --ignore-certificate-errors-spki-list takes.
func SPKIHash(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// CheckHostGlob reports whether glob is usable in --hosts: a host name
// pattern of letters, digits, '.', '-', '_', ':', '[', ']', '*' and '?'.
func CheckHostGlob(glob string) error {
	if glob == "" {
		return fmt.Errorf("browser: empty host glob")
	}
	for _, r := range glob {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune(".-_:[]*?", r):
		default:
			return fmt.Errorf("browser: host glob %q: %q is not allowed (want a host name pattern like *.example.com)", glob, r)
		}
	}
	return nil
}

// PAC returns a proxy auto-config script that sends hosts matching one of
// globs through the proxy at addr and everything else DIRECT.
func PAC(addr string, globs []string) string {
	var b strings.Builder
	b.WriteString("function FindProxyForURL(url, host) {\n")
	b.WriteString("  host = host.toLowerCase();\n")
	for _, g := range globs {
		lit, _ := json.Marshal(strings.ToLower(g)) // a valid JS string literal
		fmt.Fprintf(&b, "  if (shExpMatch(host, %s)) return %q;\n", lit, "PROXY "+addr)
	}
	b.WriteString("  return \"DIRECT\";\n}\n")
	return b.String()
}

// pacURL returns the PAC script as a data: URL.
func pacURL(addr string, globs []string) string {
	return "data:application/x-ns-proxy-autoconfig;base64," + base64.StdEncoding.EncodeToString([]byte(PAC(addr, globs)))
}

// chromiumQuiet are the flags that switch off Chromium's own traffic and
// first-run interruptions, so the log shows the login and nothing else.
// Checked against Chromium 156 through the proxy: with them, a start page
// on localhost is the only traffic.
var chromiumQuiet = []string{
	"--no-first-run",
	"--no-default-browser-check",
	"--disable-background-networking", // variations, update checks, prefetch, ...
	"--disable-component-update",
	// Component and extension update checks that survive the flag above go
	// to a data: URL, which sends nothing.
	"--component-updater=url-source=data:,",
	"--check-for-update-interval=31536000",
	// Chrome's own Google sign-in (a ListAccounts POST at every start that
	// no other switch stops, and sign-in headers on accounts.google.com)
	// points at a port Chromium refuses to connect to; accounts.google.com
	// is then an ordinary site, as an OAuth provider should be.
	"--gaia-url=http://127.0.0.1:1/",
	"--disable-extensions",
	"--disable-sync",
	"--disable-default-apps",
	"--disable-domain-reliability",
	"--disable-client-side-phishing-detection",
	"--disable-breakpad",
	"--disable-quic", // HTTP/3 does not go through an HTTP proxy
	"--metrics-recording-only",
	"--no-pings",
	"--safebrowsing-disable-auto-update",
	"--password-store=basic", // no keyring prompt on Linux
	"--use-mock-keychain",    // no keychain prompt on macOS
	"--disable-search-engine-choice-screen",
	// One list: Chromium reads only the last --disable-features.
	"--disable-features=" + strings.Join([]string{
		"NetworkTimeServiceQuerying", // clients2.google.com/time
		"PasswordLeakDetection",      // passwordsleakcheck-pa.googleapis.com on a login form
		"OptimizationHints", "OptimizationHintsFetching", "OptimizationGuideModelDownloading", "OptimizationTargetPrediction",
		"MediaRouter", "DialMediaRouteProvider", "Translate", "AutofillServerCommunication",
		"CertificateTransparencyComponentUpdater", "InterestFeedContentSuggestions", "ChromeWhatsNewUI",
	}, ","),
}

// ChromiumPreferences returns the Default/Preferences of a fresh Chromium
// profile: the settings that have no command line switch. The password
// manager and its leak check (which posts a hash of every submitted login
// form to Google), safe browsing lookups, translation and Chrome sign-in
// are off.
func ChromiumPreferences() []byte {
	prefs := map[string]any{
		"credentials_enable_service": false,
		"profile": map[string]any{
			"password_manager_enabled":        false,
			"password_manager_leak_detection": false,
		},
		"safebrowsing":          map[string]any{"enabled": false},
		"signin":                map[string]any{"allowed": false},
		"translate":             map[string]any{"enabled": false},
		"search":                map[string]any{"suggest_enabled": false},
		"alternate_error_pages": map[string]any{"enabled": false},
	}
	b, _ := json.MarshalIndent(prefs, "", "  ")
	return append(b, '\n')
}

// ChromiumArgs returns the command line for a Chromium-family browser
// using the profile directory profile.
func ChromiumArgs(cfg Config, profile string) []string {
	args := []string{"--user-data-dir=" + profile}
	if len(cfg.Hosts) > 0 {
		args = append(args, "--proxy-pac-url="+pacURL(cfg.Proxy, cfg.Hosts))
	} else {
		args = append(args,
			"--proxy-server=http://"+cfg.Proxy,
			// Subtract the implicit bypass of localhost and 127.0.0.0/8, so
			// that a callback on http://localhost:PORT goes through the proxy.
			"--proxy-bypass-list=<-loopback>")
	}
	if cfg.CA != nil {
		// Trust the proxy's CA in this profile only (it needs --user-data-dir).
		args = append(args, "--ignore-certificate-errors-spki-list="+SPKIHash(cfg.CA))
	}
	args = append(args, chromiumQuiet...)
	if cfg.Headless {
		args = append(args, "--headless", "--disable-gpu")
	}
	if cfg.NoSandbox {
		args = append(args, "--no-sandbox")
	}
	if cfg.DebugPort >= 0 {
		args = append(args, "--remote-debugging-address=127.0.0.1", "--remote-debugging-port="+strconv.Itoa(cfg.DebugPort))
	}
	args = append(args, cfg.Extra...)
	return append(args, startURL(cfg))
}

func startURL(cfg Config) string {
	if cfg.URL == "" {
		return "about:blank"
	}
	return cfg.URL
}

// FirefoxArgs returns the command line for Firefox using profile.
func FirefoxArgs(cfg Config, profile string) []string {
	args := []string{"-profile", profile, "-no-remote", "-new-instance"}
	if cfg.Headless {
		args = append(args, "-headless")
	}
	args = append(args, cfg.Extra...)
	return append(args, startURL(cfg))
}

// FirefoxPrefs returns the user.js of a Firefox profile: the proxy
// (loopback included), and the browser's background traffic off
// (firefoxQuiet, each preference with its source).
func FirefoxPrefs(cfg Config) string {
	host, port := splitAddr(cfg.Proxy)
	prefs := map[string]any{
		// Send loopback through the proxy too (Firefox bypasses it by
		// default), so that a callback on http://localhost is seen.
		"network.proxy.allow_hijacking_localhost": true,
		"network.proxy.no_proxies_on":             "",
		"network.proxy.share_proxy_settings":      true,
	}
	for _, p := range firefoxQuiet {
		prefs[p.name] = p.value
	}
	if len(cfg.Hosts) > 0 {
		prefs["network.proxy.type"] = 2 // PAC
		prefs["network.proxy.autoconfig_url"] = pacURL(cfg.Proxy, cfg.Hosts)
	} else {
		prefs["network.proxy.type"] = 1 // manual
		for _, scheme := range []string{"http", "ssl"} {
			prefs["network.proxy."+scheme] = host
			prefs["network.proxy."+scheme+"_port"] = port
		}
	}
	keys := make([]string, 0, len(prefs))
	for k := range prefs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("// Written by oauthproxy browser for a throw-away profile.\n")
	for _, k := range keys {
		v, _ := json.Marshal(prefs[k])
		fmt.Fprintf(&b, "user_pref(%q, %s);\n", k, v)
	}
	return b.String()
}

// splitAddr splits host:port; a port that is not a number gives 0.
func splitAddr(addr string) (string, int) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return addr, 0
	}
	port, _ := strconv.Atoi(addr[i+1:])
	return strings.Trim(addr[:i], "[]"), port
}
