package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"github.com/buildwall/buildwall/internal/policy"
	"github.com/buildwall/buildwall/internal/sandbox"
	"github.com/buildwall/buildwall/internal/session"
)

// The real path, in process: session.Run (the code behind `buildwall run`)
// with a block-mode policy that allows one name, benchName. Inside the
// sandbox, relaybench's "samples" mode resolves benchName once through
// buildwall's DNS server (a synthetic address), then makes its sequential
// ClientHello-echo connections to it: nftables redirect, SO_ORIGINAL_DST,
// name binding, policy, HTTP/TLS sniff (the peek), attribution and events
// all run as in production. Only the host side's network is injected: the
// upstream DNS answers benchName with 127.0.0.1 and the proxy's dialer
// connects benchName to the echo server on the runner's loopback, so no
// packet leaves 127.0.0.0/8.

const (
	benchName      = "echo.test"
	sandboxInitArg = "__sandbox-init"
)

func sandboxInit() int { return sandbox.Init() }

// sandboxLatency measures n connections through the sandbox and n per
// direct target, alternating in blocks so both see the same machine load,
// and prints them side by side (added latency relative to the first direct
// target). RELAYBENCH_CPUPROFILE=FILE writes a CPU profile of buildwall's
// side.
func sandboxLatency(echoAddr, events string, n, blocks int, args []string) error {
	ts, err := parseTargets(args)
	if err != nil {
		return err
	}
	eap, err := netip.ParseAddrPort(echoAddr)
	if err != nil || !eap.Addr().IsLoopback() {
		return fmt.Errorf("-target %q: want the echo server's 127.x.x.x:PORT", echoAddr)
	}
	pol, err := policy.Compile(&policy.Spec{Mode: policy.ModeBlock, Allow: []string{benchName}}, policy.Env{})
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	var ev io.Writer
	if events != "" {
		f, err := os.Create(events)
		if err != nil {
			return err
		}
		defer f.Close()
		ev = f
	}
	d := net.Dialer{KeepAlive: -1} // as in production: the proxy sets it
	dial := func(ctx context.Context, network, address string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(address)
		if err != nil || host != benchName {
			return nil, fmt.Errorf("bench dialer: %q is not %s", address, benchName)
		}
		return d.DialContext(ctx, network, echoAddr)
	}
	if path := os.Getenv("RELAYBENCH_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	blocks = max(blocks, 1)
	per := max(n/blocks, 1)
	lat := make([][]time.Duration, len(ts)+1)
	var cpu time.Duration
	conns := 0
	for range blocks {
		// Every column is measured by the same client: a samples
		// process making one target's connections in a row, as the
		// sandboxed one does. (Measured from this process, interleaved,
		// the host-side columns came out 10-30 µs faster than the same
		// client would see them: a client's own process and loop are
		// part of what it measures.)
		for j, t := range ts {
			d, err := sampleProcess(exe, t.addr, per)
			if err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			lat[j] = append(lat[j], d...)
		}
		var out, errOut bytes.Buffer
		cpu0 := selfCPU()
		res, err := session.Run(context.Background(), session.Options{
			Args:   []string{exe, "samples", "-n", strconv.Itoa(per), net.JoinHostPort(benchName, strconv.Itoa(int(eap.Port())))},
			Stdout: &out, Stderr: &errOut,
			Policy: pol, FailOnBlock: true, Events: ev,
			Dial: dial, Exchange: fakeUpstream, AllowLoopbackAnswers: true,
		})
		cpu += selfCPU() - cpu0
		if err != nil {
			return fmt.Errorf("buildwall run: %w\n%s", err, errOut.Bytes())
		}
		if res.ExitCode != 0 {
			return fmt.Errorf("buildwall run exited %d (command %d; %d blocked):\n%s", res.ExitCode, res.CommandExit, res.Blocked, errOut.Bytes())
		}
		d, err := parseSamples(&out)
		if err != nil {
			return err
		}
		lat[len(ts)] = append(lat[len(ts)], d...)
		conns += per + per/10 // samples makes per/10 warm-up connections first
	}
	names := make([]string, 0, len(ts)+1)
	for _, t := range ts {
		names = append(names, t.name)
	}
	printLatency(append(names, "sandbox"), lat)
	// The sandboxed client runs in its own process: this process's CPU
	// during session.Run is buildwall's side (proxy, DNS, events, and the
	// sandbox's set-up and tear-down, once per block).
	fmt.Printf("# buildwall CPU during the sandbox blocks: %.1f µs per connection (%d connections incl. warm-up, set-up included)\n",
		float64(cpu.Microseconds())/float64(conns), conns)
	return nil
}

// selfCPU returns the user and system CPU time this process has used.
func selfCPU() time.Duration {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// sampleProcess runs `exe samples -n n addr` outside the sandbox and
// returns its connection times.
func sampleProcess(exe, addr string, n int) ([]time.Duration, error) {
	var out, errOut bytes.Buffer
	cmd := exec.Command(exe, "samples", "-n", strconv.Itoa(n), addr)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("samples: %w\n%s", err, errOut.Bytes())
	}
	return parseSamples(&out)
}

// parseSamples reads the durations samples prints, one per line in
// nanoseconds.
func parseSamples(r io.Reader) ([]time.Duration, error) {
	var out []time.Duration
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		ns, err := strconv.ParseInt(sc.Text(), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("sample %q: %w", sc.Text(), err)
		}
		out = append(out, time.Duration(ns))
	}
	return out, sc.Err()
}

// fakeUpstream is the host side's DNS: benchName is 127.0.0.1, nothing else
// exists.
func fakeUpstream(_ context.Context, m *dns.Msg) (*dns.Msg, error) {
	r := new(dns.Msg)
	r.SetReply(m)
	if len(m.Question) != 1 || m.Question[0].Name != dns.Fqdn(benchName) {
		r.Rcode = dns.RcodeNameError
		return r, nil
	}
	if m.Question[0].Qtype == dns.TypeA {
		r.Answer = append(r.Answer, &dns.A{
			Hdr: dns.RR_Header{Name: m.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
			A:   net.IPv4(127, 0, 0, 1),
		})
	}
	return r, nil
}

// samples runs inside the sandbox: it resolves NAME once, then makes n
// sequential ClientHello-echo connections to it (after n/10 warm-up ones) and
// prints each duration in nanoseconds, one per line.
func samples(args []string, n int) error {
	if len(args) != 1 {
		return errors.New("usage: relaybench samples -n N NAME:PORT")
	}
	a := args[0]
	if _, rest, ok := strings.Cut(a, "="); ok { // LABEL=NAME:PORT, as relaybench cli passes it
		a = rest
	}
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return err
	}
	addrs, err := net.LookupHost(host)
	if err != nil || len(addrs) == 0 {
		return fmt.Errorf("resolve %s: %v", host, err)
	}
	lat, err := measure([]target{{host, net.JoinHostPort(addrs[0], port)}}, n)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(os.Stdout)
	for _, d := range lat[0] {
		fmt.Fprintln(w, d.Nanoseconds())
	}
	return w.Flush()
}
