package main

import (
	"encoding/pem"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/oauthproxy/oauthproxy/certs"
	"github.com/oauthproxy/oauthproxy/trustenv"
)

func init() {
	register(&command{
		name:    "ca",
		summary: "print the CA certificate (PEM, DER or its path)",
		usage:   "[--der | --path] [--data-dir DIR]",
		help: `Print the proxy's CA certificate, creating the CA if it does not exist yet.
Clients must trust it to let the proxy read HTTPS traffic.

Examples:
  oauthproxy ca > oauthproxy-ca.pem
  curl --proxy http://127.0.0.1:8080 --cacert "$(oauthproxy ca --path)" https://example.com/
  oauthproxy ca --der > oauthproxy-ca.cer        # Windows / Android import`,
		run: runCA,
	})
	register(&command{
		name:    "env",
		summary: "print shell exports that route a terminal (or a container) through the proxy",
		usage:   "[--listen ADDR] [--data-dir DIR] [--runtime all|node|java|python|go|curl|...] [--shell sh|fish|powershell | --docker]",
		help: `Print shell commands that send this terminal's HTTP(S) traffic through the
proxy and make its clients trust the CA: HTTPS_PROXY and HTTP_PROXY (both
cases), NO_PROXY emptied, SSL_CERT_FILE, CURL_CA_BUNDLE, REQUESTS_CA_BUNDLE,
GIT_SSL_CAINFO, AWS_CA_BUNDLE (a bundle of the system roots + the CA, written
to the data directory), NODE_EXTRA_CA_CERTS, and for Node NODE_USE_ENV_PROXY
and NODE_OPTIONS=--require <preload>, for Java JAVA_TOOL_OPTIONS with the
proxy and a PKCS#12 trust store, for PHP PHP_INI_SCAN_DIR (an ini file
setting curl.cainfo). --runtime limits the lines to one runtime's.
These are the variables 'oauthproxy exec' sets for its command.

--docker prints 'docker run' arguments instead: the variables with the proxy
at host.docker.internal, the CA files mounted read-only under /etc/oauthproxy,
and --add-host host.docker.internal:host-gateway. The proxy must then listen
where containers reach it: --listen 0.0.0.0:8080 --allow-remote --proxy-auth
USER:PASS (pass the same --proxy-auth, or $OAUTHPROXY_PROXY_AUTH, to env).

Examples:
  eval "$(oauthproxy env)"
  eval "$(oauthproxy env --runtime java)"          # only the Java lines
  oauthproxy env --shell fish | source
  oauthproxy env --shell powershell | Invoke-Expression
  docker run $(oauthproxy env --docker --listen 127.0.0.1:8080 --proxy-auth debug:change-me) my-app
  oauthproxy env --ca oauthproxy-ca.pem --listen 127.0.0.1:8080 --proxy-auth debug:change-me   # proxy in Docker`,
		run: runEnv,
	})
	register(&command{
		name:    "version",
		summary: "print the version",
		usage:   "",
		help:    "Print the oauthproxy version.\n\nExample:\n  oauthproxy version",
		run: func(e *env, args []string) error {
			fs := newFlags(e, lookup("version"))
			if err := parse(fs, args); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "oauthproxy %s\n", version)
			return nil
		},
	})
}

func runCA(e *env, args []string) error {
	fs := newFlags(e, lookup("ca"))
	var common commonFlags
	common.register(fs)
	der := fs.Bool("der", false, "print the certificate in DER (binary) form")
	path := fs.Bool("path", false, "print the path of the certificate file instead")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *der && *path {
		return usagef("--der and --path are exclusive")
	}
	ca, _, err := common.ca(e)
	if err != nil {
		return err
	}
	switch {
	case *path:
		if ca.CertFile == "" {
			return fmt.Errorf("the CA has no file")
		}
		fmt.Fprintln(e.stdout, ca.CertFile)
	case *der:
		_, err = e.stdout.Write(ca.DER())
	default:
		err = pem.Encode(e.stdout, &pem.Block{Type: "CERTIFICATE", Bytes: ca.DER()})
	}
	return err
}

func runEnv(e *env, args []string) error {
	fs := newFlags(e, lookup("env"))
	var common commonFlags
	common.register(fs)
	listen := fs.String("listen", "127.0.0.1:8080", "the proxy's listen address")
	shell := fs.String("shell", "sh", "output syntax: sh (bash, zsh), fish or powershell")
	runtime := fs.String("runtime", "all", "only the lines for this runtime: all, "+runtimeNames())
	docker := fs.Bool("docker", false, "print 'docker run' arguments for a container on this host instead of shell lines")
	caFile := fs.String("ca", "", "trust this CA certificate (PEM, e.g. copied out of the proxy's container) instead of the data directory's CA")
	proxyAuth := fs.String("proxy-auth", "", "USER:PASS of a proxy started with --proxy-auth, put in the proxy URL (default $OAUTHPROXY_PROXY_AUTH)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	host, port, err := net.SplitHostPort(*listen)
	if err != nil {
		return usagef("--listen %q: %v", *listen, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	rt, err := trustenv.ParseRuntime(*runtime)
	if err != nil {
		return usagef("--runtime %q: want all, %s", *runtime, runtimeNames())
	}
	sh, err := trustenv.ParseShell(*shell)
	if err != nil {
		return usagef("--shell %q: want sh, fish or powershell", *shell)
	}
	auth := *proxyAuth
	if auth == "" {
		auth = e.getenv("OAUTHPROXY_PROXY_AUTH")
	}
	if auth != "" && !strings.Contains(auth, ":") {
		return usagef("--proxy-auth: want USER:PASS")
	}
	proxyURL := proxyURLFor(net.JoinHostPort(host, port), auth)
	var ca *certs.CA
	var dir string
	if *caFile != "" {
		if common.caCert != "" {
			return usagef("--ca and --ca-cert are exclusive")
		}
		if dir, err = common.dir(e); err != nil {
			return err
		}
		if ca, err = certs.LoadCert(*caFile); err != nil {
			return exitError{exitUsage, err}
		}
	} else if ca, dir, err = common.ca(e); err != nil {
		return err
	}
	setup, err := trustenv.Prepare(dir, ca, proxyURL)
	if err != nil {
		return err
	}
	if *docker {
		args := setup.DockerArgs(rt)
		for i, a := range args {
			args[i] = trustenv.ShellQuote(a)
		}
		_, err = fmt.Fprintln(e.stdout, strings.Join(args, " "))
		return err
	}
	return trustenv.Render(e.stdout, sh, setup.Vars(rt), e.getenv)
}

// proxyURLFor is the proxy URL clients are given: http://hostport, with
// auth ("user:pass", may be empty) escaped into it.
func proxyURLFor(hostport, auth string) string {
	u := url.URL{Scheme: "http", Host: hostport}
	if auth != "" {
		user, pass, _ := strings.Cut(auth, ":")
		u.User = url.UserPassword(user, pass)
	}
	return u.String()
}

func runtimeNames() string {
	var ns []string
	for _, r := range trustenv.Runtimes()[1:] {
		ns = append(ns, string(r))
	}
	return strings.Join(ns, ", ")
}
