package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/oauthproxy/oauthproxy/capture"
)

func init() {
	register(&command{
		name:    "har",
		summary: "HAR file tools: recover a crashed capture, redact a HAR",
		usage:   "recover FILE.har | redact IN.har OUT.har",
		help: `HAR file tools.

  har recover FILE.har    fold the journal (FILE.har.journal) left by a proxy that
                          was killed or crashed into a valid FILE.har
  har redact IN OUT       rewrite any HAR (DevTools, Fiddler, Charles, ...) with
                          client secrets, codes, verifiers, tokens, passwords,
                          Authorization and cookie values replaced by stable
                          fingerprints (redacted:sha256:...:len=N), safe to share

Examples:
  oauthproxy har recover session.har
  oauthproxy har redact chrome-export.har chrome-export.redacted.har`,
		run: runHAR,
	})
}

func runHAR(e *env, args []string) error {
	fs := newFlags(e, lookup("har"))
	var key keyFlag
	key.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if _, err := key.apply(e, ""); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("want a subcommand: recover or redact")
	}
	switch sub, rest := fs.Arg(0), fs.Args()[1:]; sub {
	case "recover":
		if len(rest) != 1 {
			return usagef("har recover: want exactly one FILE.har")
		}
		rec, err := capture.RecoverFile(rest[0])
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "oauthproxy har recover: %s now holds %d exchanges\n", rest[0], rec.Entries)
		if rec.Dropped > 0 {
			fmt.Fprintf(e.stderr, "oauthproxy har recover: warning: %d torn journal line(s) left out (an exchange being written when the proxy died)\n", rec.Dropped)
		}
		return nil
	case "redact":
		if len(rest) != 2 {
			return usagef("har redact: want IN.har OUT.har")
		}
		return redactFile(rest[0], rest[1])
	default:
		return usagef("unknown har subcommand %q: want recover or redact", sub)
	}
}

// redactFile writes the redacted form of in to out via a temporary file, so
// a failure never leaves a half-written out (or clobbers in when in == out).
func redactFile(in, out string) error {
	src, err := os.Open(in)
	if err != nil {
		return err
	}
	defer src.Close()
	tmp, err := os.CreateTemp(filepath.Dir(out), ".oauthproxy-redact-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := capture.Redact(src, tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("%s: %w", in, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), out)
}
