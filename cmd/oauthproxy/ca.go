package main

import (
	"encoding/pem"
	"fmt"
	"net"
	"path/filepath"
	"strings"

	"github.com/oauthproxy/oauthproxy/certs"
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
		summary: "print shell exports that route a terminal through the proxy",
		usage:   "[--listen ADDR] [--data-dir DIR] [--shell sh|fish|powershell]",
		help: `Print shell commands that send this terminal's HTTP(S) traffic through the
proxy and make common tools trust its CA: HTTPS_PROXY, HTTP_PROXY, NO_PROXY,
SSL_CERT_FILE (system roots + the proxy CA, written to the data directory),
NODE_EXTRA_CA_CERTS, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, GIT_SSL_CAINFO, and a
keytool hint for Java.

Examples:
  eval "$(oauthproxy env)"
  oauthproxy env --shell fish | source
  oauthproxy env --listen 127.0.0.1:9090`,
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
	if err := parse(fs, args); err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(*listen)
	if err != nil {
		return usagef("--listen %q: %v", *listen, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	proxyURL := "http://" + net.JoinHostPort(host, port)
	ca, dir, err := common.ca(e)
	if err != nil {
		return err
	}
	bundle, err := certs.WriteTrustBundle(dir, ca)
	if err != nil {
		return err
	}
	caFile := ca.CertFile
	if caFile == "" {
		caFile = filepath.Join(dir, "ca.pem")
	}
	vars := [][2]string{
		{"HTTPS_PROXY", proxyURL},
		{"HTTP_PROXY", proxyURL},
		{"https_proxy", proxyURL},
		{"http_proxy", proxyURL},
		{"NO_PROXY", ""},
		{"no_proxy", ""},
		{"SSL_CERT_FILE", bundle},
		{"CURL_CA_BUNDLE", bundle},
		{"REQUESTS_CA_BUNDLE", bundle},
		{"GIT_SSL_CAINFO", bundle},
		{"NODE_EXTRA_CA_CERTS", caFile},
	}
	var b strings.Builder
	switch *shell {
	case "sh", "bash", "zsh":
		for _, v := range vars {
			fmt.Fprintf(&b, "export %s=%s\n", v[0], shellQuote(v[1]))
		}
		fmt.Fprintf(&b, "# Java: keytool -importcert -noprompt -alias oauthproxy -file %s -cacerts -storepass changeit\n", shellQuote(caFile))
		fmt.Fprintf(&b, "# undo: unset HTTPS_PROXY HTTP_PROXY https_proxy http_proxy NO_PROXY no_proxy SSL_CERT_FILE CURL_CA_BUNDLE REQUESTS_CA_BUNDLE GIT_SSL_CAINFO NODE_EXTRA_CA_CERTS\n")
	case "fish":
		for _, v := range vars {
			fmt.Fprintf(&b, "set -gx %s %s\n", v[0], shellQuote(v[1]))
		}
		fmt.Fprintf(&b, "# Java: keytool -importcert -noprompt -alias oauthproxy -file %s -cacerts -storepass changeit\n", shellQuote(caFile))
	case "powershell", "pwsh":
		for _, v := range vars {
			fmt.Fprintf(&b, "$env:%s = '%s'\n", v[0], strings.ReplaceAll(v[1], "'", "''"))
		}
		fmt.Fprintf(&b, "# Java: keytool -importcert -noprompt -alias oauthproxy -file '%s' -cacerts -storepass changeit\n", caFile)
	default:
		return usagef("--shell %q: want sh, fish or powershell", *shell)
	}
	_, err = fmt.Fprint(e.stdout, b.String())
	return err
}
