// Package session wires one `buildwall run` together, top to bottom: the
// compiled policy, the sandbox, the DNS server and the transparent proxy on
// the sandbox's listeners, the command, and the report. It is the only
// place that knows all of them; reading Run explains the product.
package session

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sync/errgroup"

	"github.com/buildwall/buildwall/internal/dnsproxy"
	"github.com/buildwall/buildwall/internal/event"
	"github.com/buildwall/buildwall/internal/policy"
	"github.com/buildwall/buildwall/internal/report"
	"github.com/buildwall/buildwall/internal/sandbox"
	"github.com/buildwall/buildwall/internal/tcpproxy"
	"github.com/buildwall/buildwall/internal/termsafe"
)

// ErrSandbox wraps every error that kept the sandbox from being created;
// the command did not run. errors.As with *sandbox.FeatureError gives the
// missing kernel feature and the setting to check.
var ErrSandbox = errors.New("create sandbox")

// Options is one run. Policy and Args are required.
type Options struct {
	// Args is the command; Dir, Env and the stdio are passed to it unchanged
	// (empty Dir: ours; nil Env: ours).
	Args           []string
	Dir            string
	Env            []string
	Stdin          io.Reader
	Stdout, Stderr io.Writer

	// Policy is the compiled policy; its Mode is the run's mode.
	Policy *policy.Policy
	// Upstream is the resolver for real addresses, "ip:port". Empty: the
	// policy's dns.upstream, else the first nameserver of /etc/resolv.conf.
	Upstream string
	// FailOnBlock makes a run whose command succeeded exit ExitBlocked when
	// block mode refused anything.
	FailOnBlock bool

	// Events receives every event as a JSON line as it happens (nil: none).
	Events io.Writer
	// Report, if set, receives the final JSON report.
	Report io.Writer
	// Summary, if set, receives the short human summary (stderr).
	Summary io.Writer
	// StepSummary, if set, receives the Markdown summary
	// ($GITHUB_STEP_SUMMARY, opened for append by the caller).
	StepSummary io.Writer
	// Protect are the run's own files (usually also Events, Report and
	// StepSummary): hidden from the build, checked after it, and put back
	// at their paths when the build got at them (see OutputFile).
	Protect []*OutputFile

	// Terminal says that the terminal among the stdio is a pseudo-terminal
	// the caller created for this run (never the caller's own terminal): it
	// becomes the command's controlling terminal.
	Terminal bool
	// OnStart, if set, is called once the command has started.
	OnStart func()

	// Signals are forwarded to the command. When ctx is cancelled the
	// command gets SIGTERM, and after GracePeriod everything is killed.
	Signals     <-chan os.Signal
	GracePeriod time.Duration

	// Dial and Exchange replace the host-side network (tests): Dial opens
	// the proxy's upstream connections ("name:port" or "ip:port"), Exchange
	// answers the DNS server's upstream queries. Nil: resolve through the
	// upstream resolver and dial from the host network namespace.
	Dial     func(ctx context.Context, network, address string) (net.Conn, error)
	Exchange func(ctx context.Context, m *dns.Msg) (*dns.Msg, error)
	// DialAddr, when Dial is nil, replaces only the last step of the
	// production dialer: connecting to one "ip:port" from the host
	// (tests map real-looking addresses to fake servers). Names are still
	// resolved upstream and every address is checked against the
	// resolution limits before DialAddr sees it. Nil: a net.Dialer.
	DialAddr func(ctx context.Context, network, address string) (net.Conn, error)
	// AllowLoopbackAnswers lets upstream answers point at loopback (tests
	// whose fake servers listen there); see dnsproxy.Config.
	AllowLoopbackAnswers bool
	// Sandbox overrides parts of the sandbox configuration (tests re-exec
	// the test binary as the init).
	SandboxExe      string
	SandboxInitArgs []string
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Recorder bounds the events kept for the report and written to
	// Events (its W and Now are ignored); zero: event's defaults.
	Recorder event.Options
	// MaxConns bounds the proxy's connections handled at once; 0: sized
	// from buildwall's RLIMIT_NOFILE (see maxConns).
	MaxConns int
}

// ExitBlocked is the exit status of a block-mode run that refused
// something while the command itself succeeded (unless FailOnBlock is off).
const ExitBlocked = 1

// Result is what a run produced.
type Result struct {
	// ExitCode is what buildwall exits with: the command's status, or
	// ExitBlocked (see Options.FailOnBlock).
	ExitCode int
	// CommandExit is the command's own status (128+signal when killed).
	CommandExit int
	// Blocked counts events with verdict block (occurrences, including
	// events past the memory bound).
	Blocked int
	Report  *report.Report
}

// Procs is the GOMAXPROCS a process that hosts a session should run with
// (`buildwall run` sets it unless GOMAXPROCS is in the environment; the
// relay benchmark does too). One P keeps buildwall off the cores the build
// needs and makes every hand-off on a connection's path (the next
// acceptor, the relay's second half, the event writer, attribution) a run
// queue push instead of a futex wake of another thread: on the 2-core CI
// VM the added connection-setup latency fell by 35-70 us (proxy alone and
// through the sandbox, interleaved runs), relay CPU by about a quarter,
// and one transfer still moves 1.1-1.25 GiB/s, because splice does the
// copying in the kernel (bench/README.md, relay section).
const Procs = 1

// MemoryLimit is the soft memory limit (runtime/debug.SetMemoryLimit) a
// process that hosts a session should run with (`buildwall run` sets it
// unless GOMEMLIMIT is in the environment). What a run keeps is bounded
// (event.DefaultMaxHeldBytes of events, bounded summaries and tables);
// the limit makes the garbage collector return what it can before the
// heap doubles past that, so a run that records 100,000 events stays
// under 100 MiB of RSS (internal/e2e TestHundredThousandEventsHugeArgv).
const MemoryLimit = 64 << 20

// Run runs the command in the sandbox under the policy and writes the
// report. Errors wrapping ErrSandbox mean the command never ran; other
// errors come after it ran (the Result is then still filled as far as
// possible).
func Run(ctx context.Context, o Options) (*Result, error) {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	start := now()
	ro := o.Recorder
	ro.W, ro.Now = o.Events, now
	rec := event.New(ro)

	// 1. The sandbox: namespaces, firewall, listeners; the command waits.
	// The command starts with half of the descriptors buildwall may
	// open; buildwall takes them all once the init has started.
	drops := newDropAggregator(rec, now)
	kern := newKernelAggregator(rec, now)
	hide := make([]string, len(o.Protect))
	for i, f := range o.Protect {
		hide[i] = f.Path()
	}
	var readOnly []string
	if !o.Policy.GitWritable() {
		readOnly = gitDirs(o.Dir)
	}
	cmdNoFile, raiseNoFile := splitNoFile()
	sb, err := sandbox.Create(ctx, sandbox.Config{
		Args: o.Args, Dir: o.Dir, Env: o.Env,
		Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr, Terminal: o.Terminal,
		HostPorts: o.Policy.HostPorts(), UnixSockets: o.Policy.UnixSockets(), Hide: hide,
		ReadOnly: readOnly,
		OnDrop:   drops.add, OnKernel: kern.add,
		Exe: o.SandboxExe, InitArgs: o.SandboxInitArgs,
	})
	noFile := raiseNoFile()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSandbox, err)
	}
	defer sb.Close()
	if o.Summary != nil {
		for _, w := range sb.Warnings() {
			fmt.Fprintf(o.Summary, "buildwall: warning: %s\n", termsafe.String(w))
		}
	}

	// 2. The interceptors: DNS answers with names bound to synthetic
	// addresses; the proxy maps them back, checks SNI/Host, asks the
	// policy and dials the name itself.
	upstream := o.Upstream
	if upstream == "" {
		upstream = o.Policy.Upstream()
	}
	if upstream == "" && o.Exchange == nil {
		if upstream, err = hostResolver(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrSandbox, err)
		}
	}
	dnsSrv, err := dnsproxy.New(dnsproxy.Config{
		Policy: o.Policy, Upstream: upstream, Exchange: o.Exchange,
		Sink: rec, Attribute: sb.Attribute, Now: now,
		AllowLoopbackAnswers: o.AllowLoopbackAnswers,
		TunnelLimit:          o.Policy.TunnelLimit(),
	})
	if err != nil {
		return nil, fmt.Errorf("%w: start dns server: %w", ErrSandbox, err)
	}
	dial := o.Dial
	if dial == nil {
		dial = hostDialer(dnsSrv, o.DialAddr)
	}
	// Synthetic: a synthetic address the DNS server never handed out is
	// refused, not dialled as a literal IP.
	proxy, err := tcpproxy.New(tcpproxy.Config{
		Policy: o.Policy, Names: dnsSrv, Dial: dial, Synthetic: dnsSrv.Synthetic(),
		Sink: rec, Attribute: sb.Attribute, AttributeConn: sb.AttributeConn,
		AttributeConnNow: sb.AttributeConnNow, Now: now,
		MaxConns: cmp.Or(o.MaxConns, maxConns(noFile)),
	})
	if err != nil {
		dnsSrv.Close()
		return nil, fmt.Errorf("%w: start proxy: %w", ErrSandbox, err)
	}
	var serving errgroup.Group
	serving.Go(func() error { return dnsSrv.ServeUDP(sb.DNSConn()) })
	serving.Go(func() error { return dnsSrv.ServeTCP(sb.DNSListener()) })
	serving.Go(func() error { return proxy.Serve(sb.ProxyListener()) })

	// 3. The command runs; signals are forwarded; we wait for it.
	var code int
	var runErr error
	if err := sb.Start(); err != nil {
		code, runErr = 127, err
	} else {
		if o.OnStart != nil {
			o.OnStart()
		}
		stopForwarding := forwardSignals(ctx, sb, o.Signals, o.GracePeriod)
		code, runErr = sb.Wait()
		stopForwarding()
	}
	end := now()

	// 4. Stop the interceptors and tear the sandbox down (no process,
	// rule, namespace or listener survives), then flush the last events.
	stopErr := errors.Join(proxy.Close(), dnsSrv.Close(), sb.Close())
	if err := serving.Wait(); err != nil && !errors.Is(err, net.ErrClosed) {
		stopErr = errors.Join(stopErr, err)
	}
	drops.flush()
	kern.flush()
	// The build is gone: whatever it did to the run's own files is done.
	tampered := checkOutputs(rec, o.Protect, now)
	stopErr = errors.Join(stopErr, rec.Close())
	// Changed in place, through another path: the events file cannot be
	// made whole again, but the report says so (the event is not streamed).
	for _, f := range o.Protect {
		if f.modified() {
			rec.Emit(event.Event{
				Time: now(), Kind: event.KindProcess, Verdict: event.VerdictBlock, Name: f.Path(),
				Reason: "report path tampered: the file was changed in place during the run (through another path to it); its content is not buildwall's alone",
			})
		}
	}

	// 5. The report: the events held, a summary, what the bounds left
	// out, the events file's hash, and the exit code.
	st := rec.Stats()
	limits := &report.Limits{
		EventsAggregated: st.Aggregated, EventsNotHeld: st.NotHeld.Events, NotHeld: st.NotHeld,
		EventsFileTruncated: st.StreamTruncated, EventsNotWritten: st.NotWritten, EventsFileBytes: st.StreamBytes,
		FieldsTruncated: st.Truncated, DNSDropped: dnsSrv.Dropped(),
		MaxConnections: proxy.MaxConns(), ConnectionsRefused: proxy.Refused(),
		NoFile: noFile, CommandNoFile: cmdNoFile,
	}
	res := &Result{CommandExit: code, ExitCode: code}
	spec := o.Policy.Spec()
	meta := report.Meta{
		Command: o.Args, Mode: o.Policy.Mode(), CommandExitCode: res.CommandExit,
		Start: start, End: end, Policy: &spec, Warnings: o.Policy.Warnings(),
		EventsSHA256: st.StreamSHA256, Limits: limits,
	}
	res.Report = report.Build(meta, rec.TakeEvents())
	res.Blocked = res.Report.Summary.Counts.Blocked
	if o.Policy.Mode() == policy.ModeBlock && o.FailOnBlock && res.Blocked > 0 && code == 0 {
		res.ExitCode = ExitBlocked
	}
	res.Report.ExitCode = res.ExitCode
	if err := writeOutputs(o, res.Report); err != nil {
		stopErr = errors.Join(stopErr, err)
	}
	for _, f := range tampered {
		stopErr = errors.Join(stopErr, f.restore())
	}
	return res, errors.Join(runErr, stopErr)
}

// checkOutputs records each protected file the build got at and returns
// them, to be put back once written.
func checkOutputs(sink event.Sink, files []*OutputFile, now func() time.Time) []*OutputFile {
	var out []*OutputFile
	for _, f := range files {
		how := f.tampered()
		if how == "" {
			continue
		}
		sink.Emit(event.Event{
			Time: now(), Kind: event.KindProcess, Verdict: event.VerdictBlock, Name: f.Path(),
			Reason: "report path tampered: " + how + " during the run; buildwall wrote its own file at the path again",
		})
		out = append(out, f)
	}
	return out
}

func writeOutputs(o Options, r *report.Report) error {
	var errs []error
	for _, f := range o.Protect {
		if err := f.reset(); err != nil {
			errs = append(errs, fmt.Errorf("write %s: %w", f.Path(), err))
		}
	}
	if o.Report != nil {
		if err := r.WriteJSON(o.Report); err != nil {
			errs = append(errs, fmt.Errorf("write report: %w", err))
		}
	}
	if o.Summary != nil {
		if err := r.Text(o.Summary); err != nil {
			errs = append(errs, fmt.Errorf("write summary: %w", err))
		}
	}
	if o.StepSummary != nil {
		if err := r.Markdown(o.StepSummary); err != nil {
			errs = append(errs, fmt.Errorf("write step summary: %w", err))
		}
	}
	return errors.Join(errs...)
}

// fdsPerConn is what one proxied connection costs buildwall in file
// descriptors at most: the client's, the upstream's and relay pipes.
const fdsPerConn = 6

// maxConns sizes the proxy's connection cap from buildwall's
// RLIMIT_NOFILE (0: unknown), keeping 1024 descriptors for everything
// else (listeners, DNS, the sandbox's own).
func maxConns(noFile uint64) int {
	if noFile == 0 {
		return tcpproxy.DefaultMaxConns
	}
	n := (int64(min(noFile, 1<<24)) - 1024) / fdsPerConn
	return int(max(min(n, tcpproxy.DefaultMaxConns), 32))
}

// forwardSignals passes signals to the command until stop is called. When
// ctx ends (buildwall itself is being stopped) the command gets SIGTERM and,
// after grace, the whole sandbox is killed.
func forwardSignals(ctx context.Context, sb *sandbox.Sandbox, sigs <-chan os.Signal, grace time.Duration) (stop func()) {
	if grace == 0 {
		grace = 10 * time.Second
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case s := <-sigs:
				sb.Signal(s)
			case <-ctx.Done():
				sb.Signal(syscall.SIGTERM)
				select {
				case <-time.After(grace):
					sb.Close()
				case <-done:
				}
				return
			case <-done:
				return
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// hostResolver returns the first nameserver of /etc/resolv.conf as ip:53.
func hostResolver() (string, error) {
	b, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		return "", fmt.Errorf("find upstream dns server: %w (use --dns-upstream)", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			return net.JoinHostPort(strings.SplitN(f[1], "%", 2)[0], "53"), nil
		}
	}
	return "", fmt.Errorf("find upstream dns server: no nameserver in /etc/resolv.conf (use --dns-upstream)")
}
