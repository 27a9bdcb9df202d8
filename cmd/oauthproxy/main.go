// Command oauthproxy is a local intercepting proxy that makes OAuth 2.0 and
// OpenID Connect failures explain themselves. Run it with no arguments to
// start the proxy; `oauthproxy help` lists the other commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
