// Package session wires one `buildwall run` together, top to bottom: the
// compiled policy, the sandbox, the DNS server and the transparent proxy on
// the sandbox's listeners, the command, and the report. It is the only
// place that knows all of them; reading Run explains the product.
package session

import (
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
	// Blocked counts events with verdict block.
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
	rec := event.NewRecorder(o.Events, now)

	// 1. The sandbox: namespaces, firewall, listeners; the command waits.
	drops := newDropAggregator(rec, now)
	sb, err := sandbox.Create(ctx, sandbox.Config{
		Args: o.Args, Dir: o.Dir, Env: o.Env,
		Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr,
		HostPorts: o.Policy.HostPorts(),
		OnDrop:    drops.add,
		Exe:       o.SandboxExe, InitArgs: o.SandboxInitArgs,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSandbox, err)
	}
	defer sb.Close()

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
	stopErr = errors.Join(stopErr, rec.Close())

	// 5. The report: every event, a summary, and the exit code.
	events := rec.Events()
	res := &Result{CommandExit: code, ExitCode: code, Blocked: countBlocked(events)}
	if o.Policy.Mode() == policy.ModeBlock && o.FailOnBlock && res.Blocked > 0 && code == 0 {
		res.ExitCode = ExitBlocked
	}
	spec := o.Policy.Spec()
	res.Report = report.Build(report.Meta{
		Command: o.Args, Mode: o.Policy.Mode(), ExitCode: res.ExitCode, CommandExitCode: res.CommandExit,
		Start: start, End: end, Policy: &spec, Warnings: o.Policy.Warnings(),
	}, events)
	if err := writeOutputs(o, res.Report); err != nil {
		stopErr = errors.Join(stopErr, err)
	}
	return res, errors.Join(runErr, stopErr)
}

func writeOutputs(o Options, r *report.Report) error {
	var errs []error
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

func countBlocked(events []event.Event) int {
	n := 0
	for _, e := range events {
		if e.Verdict == event.VerdictBlock {
			n++
		}
	}
	return n
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
