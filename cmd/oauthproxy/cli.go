package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // the work failed (upstream, file, ...)
	exitUsage   = 2 // bad flags, bad configuration
)

// env is what a command may touch: its streams and environment.
type env struct {
	// ctx ends the proxy (SIGINT/SIGTERM in main; cancellation in tests).
	ctx            context.Context
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// environ lists the environment a child process inherits (exec);
	// os.Environ when nil.
	environ func() []string
}

// environment returns the environment a child process inherits.
func (e *env) environment() []string {
	if e.environ == nil {
		return os.Environ()
	}
	return e.environ()
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	usage   string // argument synopsis
	help    string // long help, with an example
	run     func(e *env, args []string) error
}

// usageError makes Main print one line and exit 2.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// exitError carries an explicit exit code.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }

var commands []*command

func register(c *command) { commands = append(commands, c) }

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// Main runs the CLI and returns the exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return mainEnv(&env{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv}, args)
}

func mainEnv(e *env, args []string) int {
	stdout, stderr := e.stdout, e.stderr
	name, named := "run", false
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args, named = args[0], args[1:], true
	}
	switch name {
	case "help":
		if len(args) > 0 {
			c := lookup(args[0])
			if c == nil {
				fmt.Fprintf(stderr, "oauthproxy help: unknown command %q; run 'oauthproxy help' for the list\n", args[0])
				return exitUsage
			}
			// The command's own --help, which lists its flags too.
			name, args = c.name, []string{"--help"}
			break
		}
		printOverview(stdout)
		return exitOK
	}
	if !named && len(args) > 0 {
		// A flag before any command: -h/--help is the overview of all
		// commands (`oauthproxy run --help` is run's), --version the version.
		switch strings.TrimLeft(args[0], "-") {
		case "h", "help":
			printOverview(stdout)
			return exitOK
		case "version":
			fmt.Fprintf(stdout, "oauthproxy %s\n", version)
			return exitOK
		}
	}
	c := lookup(name)
	if c == nil {
		fmt.Fprintf(stderr, "oauthproxy: unknown command %q; run 'oauthproxy help' for the list\n", name)
		return exitUsage
	}
	err := c.run(e, args)
	var ue usageError
	var ee exitError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "oauthproxy %s: %s (see 'oauthproxy %s --help')\n", c.name, ue.msg, c.name)
		return exitUsage
	case errors.As(err, &ee):
		if ee.err.Error() != "" { // exec: the command spoke for itself
			fmt.Fprintf(stderr, "oauthproxy %s: %v\n", c.name, ee.err)
		}
		return ee.code
	default:
		fmt.Fprintf(stderr, "oauthproxy %s: %v\n", c.name, err)
		return exitFailure
	}
}

func printOverview(w io.Writer) {
	fmt.Fprintf(w, `oauthproxy %s: an intercepting proxy that makes OAuth 2.0 / OpenID Connect failures explain themselves.

Usage:
  oauthproxy [run] [flags]        start the proxy (the default command)
  oauthproxy <command> [flags]

Commands:
`, version)
	cs := append([]*command(nil), commands...)
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	for _, c := range cs {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Quick start:
  oauthproxy                       # listens on 127.0.0.1:8080, creates a CA on first start
  eval "$(oauthproxy env)"         # in another terminal: route it through the proxy, trust the CA
  curl https://your-idp.example/.well-known/openid-configuration

Run 'oauthproxy <command> --help' for a command's flags and examples.
Findings and diagnoses are documented in docs/findings.md and docs/diagnoses.md.
`)
}

func printHelp(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: oauthproxy %s %s\n\n%s\n", c.name, c.usage, strings.TrimSpace(c.help))
	if fs != nil {
		fmt.Fprintf(w, "\nFlags:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
}

// newFlags returns a FlagSet whose --help prints the command's help to stdout.
func newFlags(e *env, c *command) *flag.FlagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() { printHelp(e.stdout, c, fs) }
	return fs
}

// parse parses args and turns flag errors into usage errors. Flags may
// come after the positional arguments too (`analyze FILE --format json`);
// "--" ends flag parsing. fs.Args() then holds the positional arguments.
func parse(fs *flag.FlagSet, args []string) error {
	// The flag package calls Usage itself on -help and on every bad flag:
	// silence it while parsing, so that --help prints the help once and a
	// bad flag prints one line (Main adds the --help hint).
	usage := fs.Usage
	fs.Usage = func() {}
	defer func() { fs.Usage = usage }()
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				usage()
				return flag.ErrHelp
			}
			return usageError{err.Error()}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if len(args) > 0 && len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			pos = append(pos, rest...) // everything after "--" is positional
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	return fs.Parse(append([]string{"--"}, pos...))
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

// Set appends v.
func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}
