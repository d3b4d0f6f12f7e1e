// Command buildwall is a build application firewall for CI/CD.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/buildwall/buildwall/internal/cli"
)

func main() {
	stopProfile := startProfile(os.Getenv("BUILDWALL_CPUPROFILE"))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.Env{})
	stop()
	stopProfile()
	os.Exit(code)
}

// startProfile writes a CPU profile of the whole process to file when it is
// not empty (a developer aid for benchmarks: BUILDWALL_CPUPROFILE=FILE
// buildwall scan ...; read it with `go tool pprof`). It returns the
// function that finishes the profile.
func startProfile(file string) func() {
	if file == "" {
		return func() {}
	}
	f, err := os.Create(file)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "buildwall: BUILDWALL_CPUPROFILE: %v\n", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
