package trustenv

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"path"
	"strings"
)

// Shell is an output syntax of Render.
type Shell string

// The syntaxes Render knows.
const (
	Sh         Shell = "sh" // also bash, zsh, dash, ksh
	Fish       Shell = "fish"
	PowerShell Shell = "powershell"
)

// ParseShell returns the syntax named s.
func ParseShell(s string) (Shell, error) {
	switch strings.ToLower(s) {
	case "sh", "bash", "zsh", "dash", "ksh", "":
		return Sh, nil
	case "fish":
		return Fish, nil
	case "powershell", "pwsh":
		return PowerShell, nil
	}
	return "", fmt.Errorf("trustenv: unknown shell %q (want sh, fish or powershell)", s)
}

// Render writes vars as commands of shell that set them in the current
// shell. getenv gives the current values that Merge variables keep.
func Render(w io.Writer, sh Shell, vars []Var, getenv func(string) string) error {
	var b strings.Builder
	for _, v := range vars {
		val := v.Apply(getenv(v.Name))
		switch sh {
		case Fish:
			fmt.Fprintf(&b, "set -gx %s %s\n", v.Name, ShellQuote(val))
		case PowerShell:
			fmt.Fprintf(&b, "$env:%s = '%s'\n", v.Name, strings.ReplaceAll(val, "'", "''"))
		default:
			fmt.Fprintf(&b, "export %s=%s\n", v.Name, ShellQuote(val))
		}
	}
	names := strings.Join(Names(vars), " ")
	switch sh {
	case Fish:
		fmt.Fprintf(&b, "# undo: set -e %s\n", names)
	case PowerShell:
		fmt.Fprintf(&b, "# undo: Remove-Item Env:%s\n", strings.Join(Names(vars), ",Env:"))
	default:
		fmt.Fprintf(&b, "# undo: unset %s\n", names)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ShellQuote quotes s for a POSIX shell (and fish): as is when it is made
// of safe characters only, else in single quotes.
func ShellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '-' || r == '_' || r == ':' || r == '@' || r == '+' || r == ',' || r == '=' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ContainerDir is where DockerArgs mounts the CA files in a container.
const ContainerDir = "/etc/oauthproxy"

// DockerHost is the name under which a container reaches its host (with
// --add-host host.docker.internal:host-gateway on Linux; built in on
// Docker Desktop).
const DockerHost = "host.docker.internal"

// DockerArgs returns the `docker run` arguments that make a container use
// the proxy on the host: the variables of rt with the proxy host replaced by
// DockerHost and the file paths by read-only mounts under ContainerDir, and
// the --add-host mapping.
func (s Setup) DockerArgs(rt Runtime) []string {
	in := s
	in.ProxyURL = dockerProxyURL(s.ProxyURL)
	mounts := map[string]string{}
	in.PHPIniDir = ""
	for _, f := range []*string{&in.CAFile, &in.Bundle, &in.NodePreload, &in.JavaTrustStore} {
		if *f == "" {
			continue
		}
		c := path.Join(ContainerDir, path.Base(strings.ReplaceAll(*f, `\`, "/")))
		mounts[*f] = c
		*f = c
	}
	args := []string{"--add-host", DockerHost + ":host-gateway"}
	for _, v := range in.Vars(rt) {
		if v.Name == "PHP_INI_SCAN_DIR" {
			continue // its ini file names host paths; PHP in a container reads SSL_CERT_FILE only through OpenSSL
		}
		// Merge variables: a container starts from the image's
		// environment, which the host cannot see; ours alone.
		args = append(args, "-e", v.Name+"="+v.Value)
	}
	for _, f := range []string{s.CAFile, s.Bundle, s.NodePreload, s.JavaTrustStore} {
		if c, ok := mounts[f]; ok && (rt == All || f == s.CAFile || f == s.Bundle || (rt == Node && f == s.NodePreload) || (rt == Java && f == s.JavaTrustStore)) {
			args = append(args, "-v", f+":"+c+":ro")
		}
	}
	return args
}

// dockerProxyURL replaces a loopback or unspecified proxy host by DockerHost.
func dockerProxyURL(p string) string {
	u, err := url.Parse(p)
	if err != nil || u.Host == "" {
		return p
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		return p
	}
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && (ip.IsLoopback() || ip.IsUnspecified())) {
		u.Host = net.JoinHostPort(DockerHost, port)
	}
	return u.String()
}
