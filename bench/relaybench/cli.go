package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// The real command line: `buildwall run --policy P --dns-upstream D --
// relaybench samples ...` (and `... throughput ...`), a separate client
// process inside the sandbox that resolves benchName through buildwall's
// DNS server and connects to the synthetic address, exactly as a build
// does. bench/cli.sh runs it in a network namespace of its own, where the
// echo and sink servers listen on benchAddr (a private address, allowed by
// a CIDR rule, since the run refuses answers in private and loopback
// ranges otherwise) and `relaybench dns` answers benchName with it. The
// same client measures the other columns from outside: direct to the
// servers and through nginx stream.

// benchPrefix is where bench/cli.sh puts the servers, inside its own
// network namespace; relaybench dials only loopback and this prefix.
var benchPrefix = netip.MustParsePrefix("10.77.0.0/24")

// syntheticPrefix is the range buildwall's DNS server answers from
// (dnsproxy.DefaultSynthetic): inside the sandbox a .test name resolves
// there, and nftables redirects the connection to the proxy.
var syntheticPrefix = netip.MustParsePrefix("198.18.0.0/15")

// dialable reports whether relaybench may connect to a.
func dialable(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsLoopback() || benchPrefix.Contains(a) || syntheticPrefix.Contains(a)
}

// serveDNS answers every A query for a name under .test with answer, and
// everything else with an empty answer (UDP and TCP on the same port).
func serveDNS(listen, answer string) error {
	ans, err := netip.ParseAddr(answer)
	if err != nil || !dialable(ans) || !ans.Is4() {
		return fmt.Errorf("-answer %q: want an IPv4 address on loopback or in %s", answer, benchPrefix)
	}
	ap, err := netip.ParseAddrPort(listen)
	if err != nil || !ap.Addr().IsLoopback() {
		return fmt.Errorf("listen address %q is not on loopback", listen)
	}
	pc, err := net.ListenPacket("udp", listen)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		return err
	}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, m *dns.Msg) {
		r := new(dns.Msg)
		r.SetReply(m)
		if len(m.Question) == 1 && strings.HasSuffix(m.Question[0].Name, ".test.") {
			if m.Question[0].Qtype == dns.TypeA {
				r.Answer = append(r.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: m.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 300},
					A:   ans.AsSlice(),
				})
			}
		} else {
			r.Rcode = dns.RcodeNameError
		}
		w.WriteMsg(r)
	})
	fmt.Println(pc.LocalAddr())
	udp := &dns.Server{PacketConn: pc, Handler: h}
	tcp := &dns.Server{Listener: ln, Handler: h}
	go tcp.ActivateAndServe()
	go func() { waitSignal(); udp.Shutdown(); tcp.Shutdown() }()
	return udp.ActivateAndServe()
}

// cliOptions configures the command-line comparison.
type cliOptions struct {
	n, blocks, rounds  int
	bytes              int64
	http               bool
	echo, sink         string // direct addresses of the servers
	nginxEcho, nginxSk string // nginx stream in front of them (optional)
	nginxPID           int    // nginx master, for its workers' CPU
	dns, policy        string
	builds             []target // LABEL=/path/to/buildwall
}

// cliColumn is one way to reach a server: directly, through nginx, or from
// inside `buildwall run` of one build.
type cliColumn struct {
	name string
	bw   string // path to buildwall; empty: from outside
	addr string // outside: the server's (or nginx's) address
}

func cliBench(o cliOptions) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	if o.echo == "" || o.sink == "" || o.dns == "" || o.policy == "" || len(o.builds) == 0 {
		return errors.New("usage: relaybench cli -echo ADDR -sink ADDR -dns ADDR -policy FILE [-nginx-echo ADDR -nginx-sink ADDR -nginx-pid PID] LABEL=BUILDWALL...")
	}
	tmp, err := os.MkdirTemp("", "relaybench-cli")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	r := &cliRunner{o: o, exe: exe, tmp: tmp}
	opening := "tls (ClientHello, SNI " + benchName + ")"
	if o.http {
		opening = "http (request head, Host " + benchName + ")"
	}
	if o.bytes > 0 && o.rounds > 0 {
		fmt.Printf("## throughput, %d bytes per transfer, opening %s, %d rounds, order shuffled per round\n", o.bytes, opening, o.rounds)
		if err := r.throughput(); err != nil {
			return err
		}
	}
	if o.n > 0 && o.blocks > 0 {
		fmt.Printf("## connection setup, %d connections per column in %d blocks, opening %s, order shuffled per block\n", o.n, o.blocks, opening)
		if err := r.latency(); err != nil {
			return err
		}
	}
	return nil
}

type cliRunner struct {
	o        cliOptions
	exe, tmp string
}

// columns returns direct, nginx (when configured) and one column per build.
func (r *cliRunner) columns(direct, nginx string) []cliColumn {
	cs := []cliColumn{{name: "direct", addr: direct}}
	if nginx != "" {
		cs = append(cs, cliColumn{name: "nginx", addr: nginx})
	}
	for _, b := range r.o.builds {
		cs = append(cs, cliColumn{name: b.name, bw: b.addr})
	}
	return cs
}

// command returns the client command for column c: args run either
// directly or inside `buildwall run`, against addr (outside) or
// benchName:port (inside).
func (r *cliRunner) command(c cliColumn, server string, args ...string) (*exec.Cmd, error) {
	if r.o.http {
		args = append([]string{args[0], "-http"}, args[1:]...)
	}
	if c.bw == "" {
		return exec.Command(r.exe, append(args, c.name+"="+c.addr)...), nil
	}
	_, port, err := net.SplitHostPort(server)
	if err != nil {
		return nil, err
	}
	argv := []string{"run", "--policy", r.o.policy, "--dns-upstream", r.o.dns,
		"--report", filepath.Join(r.tmp, "report.json"), "--", r.exe}
	argv = append(argv, args...)
	argv = append(argv, c.name+"="+net.JoinHostPort(benchName, port))
	return exec.Command(c.bw, argv...), nil
}

// runCmd runs cmd and returns its standard output and the CPU time of its
// process tree (every descendant is reaped inside it).
func runCmd(cmd *exec.Cmd) ([]byte, time.Duration, error) {
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return nil, 0, fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, errOut.Bytes())
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	var cpu time.Duration
	if ru != nil {
		cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return out.Bytes(), cpu, nil
}

func (r *cliRunner) throughput() error {
	cols := r.columns(r.o.sink, r.o.nginxSk)
	rates := make([][]float64, len(cols))
	relay := make([][]float64, len(cols))
	rng := rand.New(rand.NewPCG(3, 4))
	order := make([]int, len(cols))
	for i := range order {
		order[i] = i
	}
	for round := 1; round <= r.o.rounds; round++ {
		rng.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
		fmt.Printf("# round %d, load %s\n", round, loadavg())
		for _, j := range order {
			c := cols[j]
			cmd, err := r.command(c, r.o.sink, "throughput", "-bytes", strconv.FormatInt(r.o.bytes, 10))
			if err != nil {
				return err
			}
			var n0 time.Duration
			if c.name == "nginx" {
				n0 = nginxCPU(r.o.nginxPID)
			}
			out, tree, err := runCmd(cmd)
			if err != nil {
				return err
			}
			rate, client, err := parseThroughput(out)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			// Relay CPU: nginx's workers, or everything buildwall's
			// process tree used but the client (the sandbox's set-up
			// and tear-down included, some tens of milliseconds).
			var cpu time.Duration
			switch {
			case c.name == "nginx":
				cpu = nginxCPU(r.o.nginxPID) - n0
			case c.bw != "":
				cpu = tree - client
			}
			rates[j] = append(rates[j], rate)
			relay[j] = append(relay[j], cpu.Seconds())
			fmt.Printf("%-10s %8.2f GiB/s  relay CPU %.2f s\n", c.name, rate, cpu.Seconds())
		}
	}
	fmt.Printf("%-10s %12s %14s %18s\n", "column", "median GiB/s", "vs nginx", "median relay CPU s")
	ref := -1
	for j, c := range cols {
		if c.name == "nginx" {
			ref = j
		}
	}
	for j, c := range cols {
		ratio := "-"
		if ref >= 0 {
			ratio = fmt.Sprintf("%.3f×", medianF(rates[j])/medianF(rates[ref]))
		}
		fmt.Printf("%-10s %12.2f %14s %18.2f\n", c.name, medianF(rates[j]), ratio, medianF(relay[j]))
	}
	return nil
}

func (r *cliRunner) latency() error {
	cols := r.columns(r.o.echo, r.o.nginxEcho)
	lat := make([][]time.Duration, len(cols))
	per := max(r.o.n/r.o.blocks, 1)
	rng := rand.New(rand.NewPCG(5, 6))
	order := make([]int, len(cols))
	for i := range order {
		order[i] = i
	}
	for b := 1; b <= r.o.blocks; b++ {
		rng.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
		var line []string
		for _, j := range order {
			c := cols[j]
			cmd, err := r.command(c, r.o.echo, "samples", "-n", strconv.Itoa(per))
			if err != nil {
				return err
			}
			out, _, err := runCmd(cmd)
			if err != nil {
				return err
			}
			d, err := parseSamples(bytes.NewReader(out))
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			lat[j] = append(lat[j], d...)
			slices.Sort(d)
			line = append(line, fmt.Sprintf("%s %.0f", c.name, float64(d[len(d)/2].Nanoseconds())/1e3))
		}
		fmt.Printf("# block %d, load %s, p50 µs: %s\n", b, loadavg(), strings.Join(line, ", "))
	}
	names := make([]string, len(cols))
	for j, c := range cols {
		names[j] = c.name
	}
	printLatency(names, lat)
	return nil
}

// parseThroughput reads the GiB/s and the client's own CPU seconds that
// throughput prints.
func parseThroughput(out []byte) (rate float64, cpu time.Duration, err error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	got := false
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 3 && f[0] != "target":
			rate, err = strconv.ParseFloat(f[2], 64)
			got = err == nil
		case len(f) == 4 && f[0] == "#" && f[1] == "client-cpu":
			var s float64
			if s, err = strconv.ParseFloat(f[2], 64); err == nil {
				cpu = time.Duration(s * float64(time.Second))
			}
		}
	}
	if !got {
		return 0, 0, fmt.Errorf("no rate in %q", out)
	}
	return rate, cpu, err
}

// nginxCPU returns the CPU time nginx's workers (the master's children)
// have used so far.
func nginxCPU(master int) time.Duration {
	if master == 0 {
		return 0
	}
	kids, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", master, master))
	var t time.Duration
	for _, f := range strings.Fields(string(kids)) {
		b, err := os.ReadFile("/proc/" + f + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		fs := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if len(fs) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(fs[11], 10, 64)
		k, _ := strconv.ParseInt(fs[12], 10, 64)
		t += time.Duration(u+k) * time.Second / 100 // USER_HZ
	}
	return t
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func medianF(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// resolveTarget turns NAME:PORT (a name under .test, resolved through the
// system's resolver: inside the sandbox, buildwall's DNS server) into
// IP:PORT; an IP:PORT is returned as is.
func resolveTarget(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if _, err := netip.ParseAddr(host); err == nil || !strings.HasSuffix(host, ".test") {
		return addr, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, host)
	if err != nil || len(addrs) == 0 {
		return "", fmt.Errorf("resolve %s: %v", host, err)
	}
	return net.JoinHostPort(addrs[0], port), nil
}
