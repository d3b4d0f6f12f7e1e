// Command relaybench measures buildwall's TCP relay against a direct
// loopback connection and an nginx stream relay, side by side. bench/relay.sh
// runs it; see bench/README.md for the recorded figures.
//
//	relaybench sink -listen ADDR                 discard everything received
//	relaybench echo -listen ADDR                 echo every byte back
//	relaybench proxy -listen ADDR -target ADDR   buildwall's tcpproxy, every
//	    connection bound to benchName and dialled to ADDR
//	relaybench throughput -bytes N NAME=ADDR...  one N-byte transfer per target
//	relaybench latency -n N NAME=ADDR...         N sequential connections per
//	    target, interleaved in an order shuffled each round, each: connect, ClientHello echo, close
//	relaybench sandbox -n N -target ECHO NAME=ADDR...  the same latency
//	    measurement through session.Run in process (see sandbox.go), in
//	    blocks alternating with the NAME=ADDR targets measured directly
//	relaybench dns -listen ADDR -answer IP       a DNS server answering
//	    every name under .test with IP
//	relaybench cli ... LABEL=BUILDWALL...        the real command line:
//	    the client inside `buildwall run` of each build, against direct
//	    and nginx (see cli.go; bench/cli.sh runs it)
//	-http: open with an HTTP/1.1 request head instead of a ClientHello
//
// All traffic stays on 127.0.0.0/8, or in bench/cli.sh's own network
// namespace.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/buildwall/buildwall/internal/event"
	"github.com/buildwall/buildwall/internal/policy"
	"github.com/buildwall/buildwall/internal/session"
	"github.com/buildwall/buildwall/internal/tcpproxy"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == sandboxInitArg {
		os.Exit(sandboxInit())
	}
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "relaybench:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: relaybench sink|echo|dns|proxy|throughput|latency|sandbox|cli [flags]")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "listen address (loopback only)")
	target := fs.String("target", "", "proxy: where to dial")
	events := fs.String("events", "", "proxy: stream events as JSON lines to this file")
	size := fs.Int64("bytes", 4<<30, "throughput: bytes per transfer")
	n := fs.Int("n", 2000, "latency: connections per target")
	blocks := fs.Int("blocks", 10, "sandbox, cli: alternate direct and sandbox measurements in this many blocks")
	httpOpening := fs.Bool("http", false, "open with an HTTP/1.1 request head naming "+benchName+" instead of a TLS ClientHello")
	answer := fs.String("answer", "", "dns: the address every name under .test resolves to")
	var co cliOptions
	fs.IntVar(&co.rounds, "rounds", 3, "cli: throughput rounds")
	fs.StringVar(&co.echo, "echo", "", "cli: the echo server's address")
	fs.StringVar(&co.sink, "sink", "", "cli: the sink server's address")
	fs.StringVar(&co.nginxEcho, "nginx-echo", "", "cli: nginx stream in front of the echo server")
	fs.StringVar(&co.nginxSk, "nginx-sink", "", "cli: nginx stream in front of the sink server")
	fs.IntVar(&co.nginxPID, "nginx-pid", 0, "cli: nginx's master process, for its workers' CPU")
	fs.StringVar(&co.dns, "dns", "", "cli: --dns-upstream for buildwall run")
	fs.StringVar(&co.policy, "policy", "", "cli: --policy for buildwall run")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *httpOpening {
		opening = httpHead(benchName, "GET", -1)
	}
	switch args[0] {
	case "dns":
		return serveDNS(*listen, *answer)
	case "cli":
		var err error
		if co.builds, err = parseBuilds(fs.Args()); err != nil {
			return err
		}
		co.n, co.blocks, co.bytes, co.http = *n, *blocks, *size, *httpOpening
		return cliBench(co)
	case "sink":
		return serve(*listen, sink)
	case "echo":
		return serve(*listen, func(c net.Conn) { io.Copy(c, c) })
	case "proxy":
		hostProcs()
		return proxy(*listen, *target, *events)
	case "throughput":
		if *httpOpening {
			opening = httpHead(benchName, "POST", *size)
		}
		return throughput(fs.Args(), *size)
	case "latency":
		return latency(fs.Args(), *n)
	case "samples":
		// The same scheduler as the clients measured from the host
		// process (which hosts the proxy, see hostProcs), so that the
		// columns differ only in the path.
		hostProcs()
		return samples(fs.Args(), *n)
	case "sandbox":
		hostProcs()
		return sandboxLatency(*target, *events, *n, *blocks, fs.Args())
	}
	return fmt.Errorf("unknown mode %q", args[0])
}

// listenLoopback refuses anything but a loopback listen address (or one
// in benchPrefix, inside bench/cli.sh's network namespace).
func listenLoopback(addr string) (net.Listener, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !dialable(ap.Addr()) {
		return nil, fmt.Errorf("listen address %q is not on loopback or in %s", addr, benchPrefix)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	fmt.Println(ln.Addr()) // the script reads the chosen port
	return ln, nil
}

func serve(addr string, handle func(net.Conn)) error {
	ln, err := listenLoopback(addr)
	if err != nil {
		return err
	}
	go func() { waitSignal(); ln.Close() }()
	for {
		c, err := ln.Accept()
		if err != nil {
			return nil
		}
		go func() {
			defer c.Close()
			handle(c)
		}()
	}
}

func sink(c net.Conn) {
	buf := make([]byte, 1<<20)
	for {
		if _, err := c.Read(buf); err != nil {
			return
		}
	}
}

func waitSignal() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	<-ch
}

type fixedName string

func (n fixedName) NameFor(netip.Addr) (string, bool) { return string(n), true }

func proxy(listen, target, events string) error {
	tap, err := netip.ParseAddrPort(target)
	if err != nil || !dialable(tap.Addr()) {
		return fmt.Errorf("target %q is not on loopback or in %s", target, benchPrefix)
	}
	pol, err := policy.Compile(&policy.Spec{Mode: policy.ModeBlock, Allow: []string{benchName}}, policy.Env{})
	if err != nil {
		return err
	}
	var w io.Writer
	if events != "" {
		f, err := os.Create(events)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	rec := event.NewRecorder(w, nil)
	defer rec.Close() // writes the last lines before f is closed
	p, err := tcpproxy.New(tcpproxy.Config{
		Policy: pol,
		Names:  fixedName(benchName),
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			d := net.Dialer{KeepAlive: -1} // as in production: the proxy sets it
			return d.DialContext(ctx, network, target)
		},
		Sink: rec,
		OriginalDst: func(net.Conn) (netip.AddrPort, error) {
			return netip.MustParseAddrPort("198.18.0.1:443"), nil
		},
	})
	if err != nil {
		return err
	}
	ln, err := listenLoopback(listen)
	if err != nil {
		return err
	}
	go func() { waitSignal(); p.Close() }()
	return p.Serve(ln)
}

// target is one NAME=ADDR argument.
type target struct{ name, addr string }

// parseTargets parses NAME=ADDR arguments; ADDR is IP:PORT on loopback (or
// in benchPrefix) or a name under .test with a port, resolved now.
func parseTargets(args []string) ([]target, error) {
	var ts []target
	for _, a := range args {
		name, addr, ok := strings.Cut(a, "=")
		if !ok {
			return nil, fmt.Errorf("target %q: want NAME=127.x.x.x:PORT", a)
		}
		addr, err := resolveTarget(addr)
		if err != nil {
			return nil, fmt.Errorf("target %q: %w", a, err)
		}
		ap, err := netip.ParseAddrPort(addr)
		if err != nil || !dialable(ap.Addr()) {
			return nil, fmt.Errorf("target %q: want NAME=127.x.x.x:PORT", a)
		}
		ts = append(ts, target{name, addr})
	}
	if len(ts) == 0 {
		return nil, errors.New("no targets")
	}
	return ts, nil
}

func throughput(args []string, size int64) error {
	ts, err := parseTargets(args)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	fmt.Printf("%-10s %12s %10s\n", "target", "bytes", "GiB/s")
	for _, t := range ts {
		c, err := net.Dial("tcp", t.addr)
		if err != nil {
			return err
		}
		start := time.Now()
		if _, err := c.Write(opening); err != nil {
			return fmt.Errorf("%s: write opening: %w", t.name, err)
		}
		var sent int64
		for sent < size {
			m := min(int64(len(buf)), size-sent)
			k, err := c.Write(buf[:m])
			sent += int64(k)
			if err != nil {
				return fmt.Errorf("%s: write: %w", t.name, err)
			}
		}
		// Wait until the sink has read everything: it closes after our
		// EOF only once its reads reach the end.
		c.(*net.TCPConn).CloseWrite()
		io.Copy(io.Discard, c)
		el := time.Since(start)
		c.Close()
		fmt.Printf("%-10s %12d %10.2f\n", t.name, size, float64(size)/(1<<30)/el.Seconds())
	}
	fmt.Printf("# client-cpu %.3f s\n", selfCPU().Seconds())
	return nil
}

// parseBuilds parses LABEL=PATH arguments naming buildwall binaries.
func parseBuilds(args []string) ([]target, error) {
	var bs []target
	for _, a := range args {
		name, path, ok := strings.Cut(a, "=")
		if !ok || name == "" || path == "" {
			return nil, fmt.Errorf("build %q: want LABEL=/path/to/buildwall", a)
		}
		bs = append(bs, target{name, path})
	}
	if len(bs) == 0 {
		return nil, errors.New("no buildwall binaries (LABEL=PATH)")
	}
	return bs, nil
}

// httpHead returns an HTTP/1.1 request head naming host; size >= 0 adds a
// Content-Length for a body of that size.
func httpHead(host, method string, size int64) []byte {
	h := method + " /bench HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: relaybench\r\n"
	if size >= 0 {
		h += "Content-Length: " + strconv.FormatInt(size, 10) + "\r\n"
	}
	return []byte(h + "\r\n")
}

func latency(args []string, n int) error {
	ts, err := parseTargets(args)
	if err != nil {
		return err
	}
	lat, err := measure(ts, n)
	if err != nil {
		return err
	}
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.name
	}
	printLatency(names, lat)
	return nil
}

// opening is what every client sends first, to every target: a TLS
// ClientHello naming benchName, as a real client's would. The proxy
// verifies it (a name-bound connection is relayed only after a
// ClientHello or HTTP request naming its name) and splices the rest.
var opening = clientHello(benchName)

// clientHello returns the first TLS record crypto/tls sends for name.
func clientHello(name string) []byte {
	a, b := net.Pipe()
	defer b.Close()
	go func() {
		tls.Client(a, &tls.Config{ServerName: name, InsecureSkipVerify: true}).Handshake()
		a.Close()
	}()
	buf := make([]byte, 16<<10)
	n, _ := b.Read(buf)
	return buf[:n]
}

// measure makes n sequential connections per target (after n/10 warm-up
// rounds), interleaved: one per target per round, in an order shuffled
// each round, each: connect, send the opening, read its echo, close; it
// returns the durations per target.
//
// The shuffle matters: a relay's work after a connection (closing both
// sockets, writing its event) overlaps the next connection, so in a fixed
// order every target is slowed by the one before it, and the target after
// "direct" (nothing to clean up) looks 70-120 µs faster than it is on the
// loaded 2-core VM.
func measure(ts []target, n int) ([][]time.Duration, error) {
	lat := make([][]time.Duration, len(ts))
	echo := make([]byte, len(opening))
	rng := rand.New(rand.NewPCG(1, 2)) // the same orders in every run
	order := make([]int, len(ts))
	for i := range order {
		order[i] = i
	}
	for i := 0; i < n+n/10; i++ { // the first n/10 rounds warm up
		rng.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
		for _, j := range order {
			t := ts[j]
			start := time.Now()
			c, err := net.Dial("tcp", t.addr)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", t.name, err)
			}
			if _, err := c.Write(opening); err != nil {
				return nil, fmt.Errorf("%s: write: %w", t.name, err)
			}
			if _, err := io.ReadFull(c, echo); err != nil {
				return nil, fmt.Errorf("%s: read: %w", t.name, err)
			}
			d := time.Since(start)
			c.Close()
			if i >= n/10 {
				lat[j] = append(lat[j], d)
			}
		}
	}
	return lat, nil
}

// printLatency prints median and p99 per target and what each adds to the
// first target's.
func printLatency(names []string, lat [][]time.Duration) {
	pct := func(d []time.Duration, p int) time.Duration { return d[(len(d)-1)*p/100] }
	for j := range lat {
		slices.Sort(lat[j])
	}
	base := lat[0]
	fmt.Printf("%-10s %10s %10s %12s %12s\n", "target", "p50 µs", "p99 µs", "+p50 µs", "+p99 µs")
	for j, name := range names {
		us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
		fmt.Printf("%-10s %10.1f %10.1f %12.1f %12.1f\n", name,
			us(pct(lat[j], 50)), us(pct(lat[j], 99)),
			us(pct(lat[j], 50)-pct(base, 50)), us(pct(lat[j], 99)-pct(base, 99)))
	}
}

// hostProcs runs a process that hosts the proxy with the GOMAXPROCS
// `buildwall run` uses (session.Procs), unless GOMAXPROCS is set, so that
// the benchmark measures what production runs.
func hostProcs() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(session.Procs)
	}
}
