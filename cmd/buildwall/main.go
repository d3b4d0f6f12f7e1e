// Command buildwall is a build application firewall for CI/CD.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/buildwall/buildwall/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.Env{})
	stop()
	os.Exit(code)
}
