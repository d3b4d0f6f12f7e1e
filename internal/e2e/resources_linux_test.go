package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/buildwall/buildwall/internal/event"
	"github.com/buildwall/buildwall/internal/report"
)

// resEnv makes the test binary a resource-hungry build step (see
// init): "dns N" asks N distinct names, "conns N PORT" opens N
// connections to the runner's loopback PORT and holds them.
const resEnv = "BUILDWALL_E2E_RES"

// measureEnv makes the test binary run its arguments as a child and
// print the child's maximum RSS (see runMeasured).
const measureEnv = "BUILDWALL_E2E_MEASURE"

// init runs before TestMain, so this file needs no change to it.
func init() {
	if os.Getenv(measureEnv) != "" {
		os.Exit(measure(os.Args[1:]))
	}
	if v := os.Getenv(resEnv); v != "" {
		os.Exit(resHelper(strings.Fields(v)))
	}
}

// measure runs args with our stdio and environment (less measureEnv),
// exits with its status and writes its maximum RSS in KiB to fd 3. A
// fresh process forks it: wait4 reports the largest RSS of the child's
// whole life, including the time before exec, so a child forked by the
// (large) test process itself would be charged the test's memory.
func measure(args []string) int {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, measureEnv+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	err := cmd.Run()
	if cmd.ProcessState == nil {
		fmt.Fprintln(os.Stderr, "measure:", err)
		return 127
	}
	fd3 := os.NewFile(3, "rss")
	fmt.Fprintf(fd3, "%d\n", cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss)
	fd3.Close()
	return cmd.ProcessState.ExitCode()
}

func n2(s string) int { n, _ := strconv.Atoi(s); return n }

func resHelper(args []string) int {
	n := n2(args[1])
	switch args[0] {
	case "dns":
		// Sequential queries of distinct names, each answered (NXDOMAIN)
		// before the next: every one is an event from this process.
		c, err := net.Dial("udp", "192.0.2.53:53")
		if err != nil {
			fmt.Println("dial:", err)
			return 4
		}
		defer c.Close()
		buf := make([]byte, 512)
		answered := 0
		for i := range n {
			m := new(dns.Msg)
			m.SetQuestion(fmt.Sprintf("q%d.d%d.blocked.test.", i, i%5000), dns.TypeA)
			m.Id = uint16(i)
			b, _ := m.Pack()
			for try := 0; try < 3; try++ {
				c.Write(b)
				c.SetReadDeadline(time.Now().Add(2 * time.Second))
				k, err := c.Read(buf)
				if err == nil && k >= 2 && uint16(buf[0])<<8|uint16(buf[1]) == m.Id {
					answered++
					break
				}
			}
		}
		fmt.Printf("answered %d of %d\n", answered, n)
		return 0
	case "ask":
		// "ask NAME..." asks each NAME (A); "ask hex N SUFFIX" asks N TXT
		// names of three short hex labels under SUFFIX.
		qt, names := dns.TypeA, args[1:]
		if args[1] == "hex" {
			qt, names = dns.TypeTXT, nil
			for range n2(args[2]) {
				b := make([]byte, 30)
				rand.Read(b)
				h := hex.EncodeToString(b)
				names = append(names, h[:20]+"."+h[20:40]+"."+h[40:]+"."+args[3])
			}
		}
		cl := &dns.Client{Timeout: 5 * time.Second}
		for _, name := range names {
			m := new(dns.Msg)
			m.SetQuestion(dns.Fqdn(name), qt)
			cl.Exchange(m, "192.0.2.53:53")
		}
		return 0
	case "conns":
		addr := "127.0.0.1:" + args[2]
		var held []net.Conn
		ok, reset, failed := 0, 0, 0
		for range n {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				if errors.Is(err, syscall.ECONNRESET) {
					reset++ // refused before connect returned
				} else {
					failed++
				}
				continue
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			line := ""
			if _, err := c.Write([]byte("ping\n")); err == nil {
				line, _ = bufio.NewReader(c).ReadString('\n')
			}
			if line == "ping\n" {
				ok++
				held = append(held, c)
			} else {
				reset++
				c.Close()
			}
			if len(held) > 6000 { // below our own descriptor limit
				held[0].Close()
				held = held[1:]
			}
		}
		// Still holding thousands: buildwall answers DNS at once.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		r, err := net.DefaultResolver.LookupHost(ctx, "allowed.example")
		cancel()
		fmt.Printf("dns while held: %v %v\n", r, err)
		// Below the cap again, 1,000 still held: an allowed request
		// is served while they stay open.
		for len(held) > 1000 {
			held[0].Close()
			held = held[1:]
		}
		time.Sleep(500 * time.Millisecond) // the proxy sees the closes
		during := pingOnce(addr)
		for _, c := range held {
			c.Close()
		}
		fmt.Printf("ok %d reset %d failed %d during %s\n", ok, reset, failed, during)
		return 0
	}
	return 2
}

// pingOnce sends one line to addr and reports "ok" when it comes back.
func pingOnce(addr string) string {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "failed"
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("ping\n"))
	if l, _ := bufio.NewReader(c).ReadString('\n'); l == "ping\n" {
		return "ok"
	}
	return "failed"
}

// helperCopy copies the test binary where every user can run it.
func helperCopy(t *testing.T) string {
	t.Helper()
	src, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	p := filepath.Join(filepath.Dir(bin), "e2e-helper")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	dst, err := os.OpenFile(p+".tmp", os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	dst.Close()
	if err := os.Rename(p+".tmp", p); err != nil {
		t.Fatal(err)
	}
	return p
}

var users = []struct {
	name string
	uid  int
}{{"root", 0}, {"rootless", 65534}}

func credFor(t *testing.T, uid int) *syscall.Credential {
	t.Helper()
	if os.Getuid() != 0 && uid != os.Getuid() {
		t.Skip("needs root to switch users")
	}
	if uid == os.Getuid() {
		return nil
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}
}

// runMeasured runs the binary like buildwall() and also returns its
// maximum resident set size as wait4 reports it: buildwall's own, or
// that of a process it waited for (the sandbox's init, the build) when
// larger — an upper bound of buildwall's. A fresh copy of the test
// binary (measure) starts it.
func runMeasured(t *testing.T, helper, dir string, cred *syscall.Credential, env []string, args ...string) (result, int64) {
	t.Helper()
	cmd := exec.Command(helper, append([]string{bin}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), env...), measureEnv+"=1")
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.ExtraFiles = []*os.File{pw}
	err = cmd.Start()
	pw.Close()
	if err != nil {
		t.Fatal(err)
	}
	rssOut, _ := io.ReadAll(pr)
	pr.Close()
	err = cmd.Wait()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run buildwall: %v", err)
	}
	kib, err := strconv.ParseInt(strings.TrimSpace(string(rssOut)), 10, 64)
	if err != nil {
		t.Fatalf("no RSS measured (%q): %v", rssOut, err)
	}
	r := result{code, stdout.String(), stderr.String()}
	t.Logf("buildwall → exit %d, max RSS %d KiB\nstdout:\n%s\nstderr:\n%s", code, kib, r.stdout, truncateLog(r.stderr))
	return r, kib * 1024
}

func readReport(t *testing.T, path string) *report.Report {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := report.Verify(b); err != nil {
		t.Errorf("report hash: %v", err)
	}
	r, err := report.ReadJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestHundredThousandEventsHugeArgv: a build step with a 1 MiB argv makes
// 100,000 DNS queries. buildwall stays under 100 MiB of RSS, every query
// is an event or counted, the command line is cut to 256 bytes and
// escaped in the summary, and the events file's hash is in the report.
func TestHundredThousandEventsHugeArgv(t *testing.T) {
	skipWithoutUserns(t)
	if testing.Short() {
		t.Skip("100,000 queries: not in -short")
	}
	helper := helperCopy(t)
	const queries = 100000
	for _, u := range users {
		t.Run(u.name, func(t *testing.T) {
			cred := credFor(t, u.uid)
			dir := workdir(t, u.uid)
			os.WriteFile(filepath.Join(dir, "policy.yml"), []byte("mode: block\nallow: [allowed.example]\n"), 0o644)
			// 1 MiB of arguments (one argument may hold 128 KiB), with
			// terminal and workflow-command injection at the start.
			args := []string{"run", "--policy", "policy.yml", "--report", "run.json", "--events", "events.jsonl", "--",
				helper, "\x1b[31mred\n::notice title=x::injected"}
			for range 8 {
				args = append(args, strings.Repeat("A", 128<<10-1))
			}
			md := filepath.Join(dir, "summary.md")
			r, rss := runMeasured(t, helper, dir, cred, []string{resEnv + "=dns " + strconv.Itoa(queries), "GITHUB_STEP_SUMMARY=" + md}, args...)
			if r.code != 1 {
				t.Errorf("exit %d, want 1 (blocked in block mode)", r.code)
			}
			if !strings.Contains(r.stdout, fmt.Sprintf("answered %d of %d", queries, queries)) {
				t.Errorf("not every query was answered: %q", r.stdout)
			}
			t.Logf("max RSS %.1f MiB for %d queries", float64(rss)/(1<<20), queries)
			if rss > 100<<20 {
				t.Errorf("max RSS %d MiB, want under 100 MiB", rss>>20)
			}
			mdText, err := os.ReadFile(md)
			if err != nil {
				t.Fatal(err)
			}
			for what, out := range map[string]string{"stderr": r.stderr, "step summary": string(mdText)} {
				if !strings.Contains(out, `\x1b[31mred`) {
					t.Errorf("%s does not show the argv escaped", what)
				}
				for i, line := range strings.Split(out, "\n") {
					if strings.ContainsAny(line, "\x1b\r") || strings.HasPrefix(strings.TrimLeft(line, " |>`"), "::") {
						t.Errorf("%s line %d not escaped: %q", what, i+1, line)
					}
				}
			}
			rep := readReport(t, filepath.Join(dir, "run.json"))
			ev, err := os.ReadFile(filepath.Join(dir, "events.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			if got := sha256hex(ev); rep.EventsSHA256 != got {
				t.Errorf("events_sha256 %s, file hashes to %s", rep.EventsSHA256, got)
			}
			stream, err := event.ReadJSONLines(bytes.NewReader(ev))
			if err != nil {
				t.Fatal(err)
			}
			dnsCount, cut := 0, 0
			for _, e := range stream {
				if e.Kind == event.KindDNS && strings.Contains(e.Name, "blocked.test") {
					dnsCount += max(e.Count, 1)
				}
				if strings.Contains(e.Truncated, "cmdline") {
					cut++
					if len(e.Cmdline) > event.MaxCmdline {
						t.Fatalf("cmdline of %d bytes in an event", len(e.Cmdline))
					}
				}
			}
			if dnsCount < queries || rep.Summary.Counts.DNS < queries {
				t.Errorf("%d dns events streamed, %d counted in the report; want %d", dnsCount, rep.Summary.Counts.DNS, queries)
			}
			if cut == 0 || rep.Limits == nil || rep.Limits.FieldsTruncated == 0 {
				t.Errorf("no event marks its cmdline as cut (%d, limits %+v)", cut, rep.Limits)
			}
			held := 0
			for _, e := range rep.Events {
				if e.Kind == event.KindDNS {
					held += max(e.Count, 1)
				}
			}
			if held+rep.Limits.NotHeld.DNS < queries {
				t.Errorf("report: %d dns events held + %d not held < %d", held, rep.Limits.NotHeld.DNS, queries)
			}
		})
	}
}

// TestTwentyThousandConnections: the build attempts 20,000 connections
// to an allowed runner port, holding every one it is served (up to
// 6,000). Past the proxy's cap connections are refused at once;
// buildwall keeps answering DNS, serves an allowed request while 1,000
// are still held (below the cap again), and the report counts every
// refusal.
func TestTwentyThousandConnections(t *testing.T) {
	skipWithoutUserns(t)
	if testing.Short() {
		t.Skip("20,000 connections: not in -short")
	}
	helper := helperCopy(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var served atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			served.Add(1)
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	const attempts = 20000
	for _, u := range users {
		t.Run(u.name, func(t *testing.T) {
			cred := credFor(t, u.uid)
			dir := workdir(t, u.uid)
			os.WriteFile(filepath.Join(dir, "policy.yml"), []byte("mode: block\nallow: [allowed.example]\nhost-ports: ["+port+"]\n"), 0o644)
			r, rss := runMeasured(t, helper, dir, cred, []string{resEnv + "=conns " + strconv.Itoa(attempts) + " " + port},
				"run", "--policy", "policy.yml", "--report", "run.json", "--", helper)
			var ok, reset, failed int
			var during string
			if _, err := fmt.Sscanf(lastLine(r.stdout, "ok "), "ok %d reset %d failed %d during %s", &ok, &reset, &failed, &during); err != nil {
				t.Fatalf("helper output %q: %v", r.stdout, err)
			}
			if !strings.Contains(r.stdout, "dns while held: [198.18.") {
				t.Errorf("DNS did not answer while the connections were held: %q", r.stdout)
			}
			if during != "ok" {
				t.Errorf("an allowed request was not served while 1,000 connections were held")
			}
			rep := readReport(t, filepath.Join(dir, "run.json"))
			l := rep.Limits
			if l == nil {
				t.Fatal("no limits in the report")
			}
			t.Logf("attempts %d: served %d, refused %d (report %d), failed %d; cap %d; nofile %d (command %d); max RSS %.1f MiB",
				attempts, ok, reset, l.ConnectionsRefused, failed, l.MaxConnections, l.NoFile, l.CommandNoFile, float64(rss)/(1<<20))
			if ok+reset+failed != attempts || failed != 0 {
				t.Errorf("served %d + refused %d + failed %d != %d attempts", ok, reset, failed, attempts)
			}
			if reset == 0 {
				t.Errorf("nothing refused: the cap (%d) was never reached", l.MaxConnections)
			}
			inEvents, otherResets := 0, 0
			for _, e := range rep.Events {
				if e.Kind == event.KindConnect && strings.Contains(e.Reason, "upstream unreachable") {
					// The proxy served it but could not reach the
					// runner's port in time (a loaded machine): reset
					// too, recorded with its own reason.
					t.Logf("reset for another reason: %+v", e)
					otherResets += max(e.Count, 1)
				}
				if strings.HasPrefix(e.Reason, "connection limit") {
					if e.Verdict != event.VerdictBlock {
						t.Errorf("refusal event with verdict %s", e.Verdict)
					}
					inEvents += max(e.Count, 1)
				}
			}
			if l.ConnectionsRefused+otherResets != reset {
				t.Errorf("report counts %d refusals at the cap and %d other resets, the build saw %d resets", l.ConnectionsRefused, otherResets, reset)
			}
			if inEvents+l.NotHeld.Blocked < l.ConnectionsRefused {
				t.Errorf("refusal events add up to %d, want %d", inEvents, l.ConnectionsRefused)
			}
			if l.NoFile <= l.CommandNoFile {
				t.Errorf("buildwall's RLIMIT_NOFILE %d is not above the command's %d", l.NoFile, l.CommandNoFile)
			}
		})
	}
}

func truncateLog(s string) string {
	if len(s) > 4000 {
		return s[:4000] + "..."
	}
	return s
}

func lastLine(out, prefix string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], prefix) {
			return lines[i]
		}
	}
	return ""
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestSuggestFromHostileAuditRun: an audit run whose build looks up
// "*.com", "npm" and "github", and one that tunnels through TXT queries
// of short hex labels at fewer than 50 names a minute; policy
// suggest, through the binary, allows none of it and lists it as seen,
// not suggested.
func TestSuggestFromHostileAuditRun(t *testing.T) {
	skipWithoutUserns(t)
	helper := helperCopy(t)
	for _, u := range users {
		t.Run(u.name, func(t *testing.T) {
			cred := credFor(t, u.uid)
			dir := workdir(t, u.uid)
			r := buildwall(t, dir, cred, []string{resEnv + "=ask *.com npm github"}, "run", "--mode", "audit", "--report", "a.json", "--", helper)
			if r.code != 0 {
				t.Fatalf("audit run exit %d", r.code)
			}
			r = buildwall(t, dir, cred, []string{resEnv + "=ask hex 45 t.exfil.test"}, "run", "--mode", "audit", "--report", "b.json", "--", helper)
			if r.code != 0 {
				t.Fatalf("audit run exit %d", r.code)
			}
			for _, rep := range []string{"a.json", "b.json"} {
				r = buildwall(t, dir, cred, nil, "policy", "suggest", "--report", rep)
				if r.code != 0 {
					t.Fatalf("suggest exit %d", r.code)
				}
				allow := r.stdout[strings.Index(r.stdout, "allow:"):]
				for _, bad := range []string{"*", "npm", "github", "exfil"} {
					if strings.Contains(allow, bad) {
						t.Errorf("%s: suggested policy allows %q:\n%s", rep, bad, r.stdout)
					}
				}
				if !strings.Contains(r.stdout, "Seen, not suggested") {
					t.Errorf("%s: no seen-not-suggested list:\n%s", rep, r.stdout)
				}
			}
			if !strings.Contains(r.stdout, "t.exfil.test: suspected dns tunnelling") {
				t.Errorf("tunnelling names not listed:\n%s", r.stdout)
			}
		})
	}
}
