package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/buildwall/buildwall/internal/event"
	"github.com/buildwall/buildwall/internal/policy"
)

const hostileArg = "x\x1b[2J\x1b]0;pwned\a\n::notice title=owned::hi\r\n::add-mask::secret"

// hostileReport is a run in which the build does everything it can to
// the outputs and the suggestion.
func hostileReport() *Report {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	ev := func(e event.Event) event.Event { e.Time = t0; return e }
	evs := []event.Event{
		ev(event.Event{Kind: event.KindConnect, Verdict: event.VerdictBlock, Proto: "tcp", Name: "evil.test\n::error::x", Port: 443, Reason: "not in policy", PID: 9, Cmdline: "node " + hostileArg}),
		ev(event.Event{Kind: event.KindDNS, Verdict: event.VerdictAudit, Name: "c2.test", Reason: "not in policy", Cmdline: hostileArg}),
		// Suggest must not add these.
		ev(event.Event{Kind: event.KindDNS, Verdict: event.VerdictAudit, Name: "*.com", Reason: "not in policy"}),
		ev(event.Event{Kind: event.KindConnect, Verdict: event.VerdictAudit, Proto: "tcp", Name: "*.com", Port: 443, Reason: "not in policy"}),
		ev(event.Event{Kind: event.KindConnect, Verdict: event.VerdictAudit, Proto: "tcp", Name: "npm", Port: 443, Reason: "not in policy"}),
		ev(event.Event{Kind: event.KindConnect, Verdict: event.VerdictAudit, Proto: "tcp", Name: "github", Port: 443, Reason: "not in policy"}),
		ev(event.Event{Kind: event.KindConnect, Verdict: event.VerdictAudit, Proto: "tcp", Name: "front.example", SNI: "hidden.attacker.test", Port: 443, Reason: "sni mismatch: sni \"hidden.attacker.test\" on a connection to \"front.example\""}),
		ev(event.Event{Kind: event.KindConnect, Verdict: event.VerdictAudit, Proto: "tcp", Name: "proxy.example", Host: "proxy.example", Port: 80, Reason: "absolute-form mismatch: http://inner.attacker.test/"}),
		ev(event.Event{Kind: event.KindDNS, Verdict: event.VerdictAudit, Name: "a1b2c3.t.exfil.test", QType: "TXT", Reason: "dns tunnelling suspected: 5000 bytes of unique names under exfil.test within 1m0s (limit 4096)"}),
		ev(event.Event{Kind: event.KindDNS, Verdict: event.VerdictBlock, Name: "rebind.attacker.test", Reason: "private answer 10.0.0.5 dropped"}),
		ev(event.Event{Kind: event.KindConnect, Verdict: event.VerdictAudit, Proto: "tcp", Name: "rebind.attacker.test", Port: 80}),
		ev(event.Event{Kind: event.KindConnect, Verdict: event.VerdictAudit, Proto: "tcp", IP: "169.254.169.254", Port: 80, Reason: "literal ip not in policy"}),
		ev(event.Event{Kind: event.KindDNS, Verdict: event.VerdictAudit, Name: "only-looked-up.example", Reason: "not in policy"}),
		// The one clean connection.
		ev(event.Event{Kind: event.KindConnect, Verdict: event.VerdictAudit, Proto: "tcp", Name: "registry.example", Port: 443, Reason: "not in policy", Count: 3}),
	}
	return Build(Meta{
		Command: []string{"sh", "-c", hostileArg}, Mode: policy.ModeAudit,
		Start: t0, End: t0.Add(time.Second),
		Warnings: []string{"warn " + hostileArg},
		Limits:   &Limits{ConnectionsRefused: 20000, MaxConnections: 4096, DNSDropped: 7},
	}, evs)
}

// checkClean fails when out has a control character other than the line
// breaks between lines, or a line that starts a workflow command.
func checkClean(t *testing.T, what, out string) {
	t.Helper()
	for i, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimLeft(line, " \t>|`#"), "::") {
			t.Errorf("%s line %d starts a workflow command: %q", what, i+1, line)
		}
		for _, c := range line {
			if c < 0x20 && c != '\t' || c == 0x7f {
				t.Errorf("%s line %d has control character %#x: %q", what, i+1, c, line)
				break
			}
		}
	}
}

func TestOutputsEscapeHostileStrings(t *testing.T) {
	r := hostileReport()
	var txt, md, yml, ns bytes.Buffer
	if err := r.Text(&txt); err != nil {
		t.Fatal(err)
	}
	if err := r.Markdown(&md); err != nil {
		t.Fatal(err)
	}
	sug := Suggest(r, testEnv)
	if err := sug.WriteYAML(&yml); err != nil {
		t.Fatal(err)
	}
	if err := sug.WriteNotSuggested(&ns); err != nil {
		t.Fatal(err)
	}
	checkClean(t, "text summary", txt.String())
	checkClean(t, "markdown summary", md.String())
	checkClean(t, "suggest yaml", yml.String())
	checkClean(t, "suggest not-suggested", ns.String())
	for name, out := range map[string]string{"text": txt.String(), "markdown": md.String()} {
		if !strings.Contains(out, `\x1b[2J`) || !strings.Contains(out, "20000 connections refused") || !strings.Contains(out, "7 dns queries dropped") {
			t.Errorf("%s summary lacks the escaped argv or the limits:\n%s", name, out)
		}
	}
}

func TestSuggestStaysHonest(t *testing.T) {
	sug := Suggest(hostileReport(), testEnv)
	if got := strings.Join(sug.Spec.Allow, " "); got != "registry.example:443" {
		t.Errorf("suggested allow = %q, want only registry.example:443", got)
	}
	why := map[string]string{}
	for _, n := range sug.NotSuggested {
		why[n.Name] = n.Why
	}
	for _, name := range []string{"*.com", "npm", "github", "front.example", "hidden.attacker.test", "proxy.example",
		"a1b2c3.t.exfil.test", "rebind.attacker.test", "169.254.169.254", "only-looked-up.example", "c2.test"} {
		if why[name] == "" {
			t.Errorf("%s is not listed as seen, not suggested (list: %v)", name, sug.NotSuggested)
		}
	}
	if !strings.Contains(why["rebind.attacker.test"], "rebinding") || !strings.Contains(why["front.example"], "mismatch") ||
		!strings.Contains(why["npm"], "preset") || !strings.Contains(why["a1b2c3.t.exfil.test"], "tunnelling") {
		t.Errorf("reasons: %v", why)
	}
	// A name seen clean as well as in a mismatch is suggested.
	r := hostileReport()
	r.Events = append(r.Events, event.Event{Kind: event.KindConnect, Verdict: event.VerdictAllow, Proto: "tcp", Name: "front.example", Port: 443})
	sug = Suggest(r, testEnv)
	if got := strings.Join(sug.Spec.Allow, " "); got != "front.example:443 registry.example:443" {
		t.Errorf("with a clean connection to front.example: allow = %q", got)
	}
}

func TestSuggestSaysWhenIncomplete(t *testing.T) {
	r := hostileReport()
	r.Limits.EventsNotHeld = 12345
	var b bytes.Buffer
	if err := Suggest(r, testEnv).WriteYAML(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "# Incomplete: 12345 events") {
		t.Errorf("no incompleteness note:\n%s", b.String())
	}
}

func TestInvalidHost(t *testing.T) {
	for name, ok := range map[string]bool{
		"registry.example": true, "a-b.c_d.example": true, "x.example.co.uk": true,
		"*.com": false, "npm": false, "localhost": false, "1.2.3.4": false, "a..b": false,
		"-a.example": false, "a.example.": false, "a b.example": false, "ex\x1bample.test": false,
	} {
		if got := invalidHost(name) == ""; got != ok {
			t.Errorf("invalidHost(%q) valid = %v, want %v", name, got, ok)
		}
	}
}

func TestReportHashVerifies(t *testing.T) {
	r := hostileReport()
	r.EventsSHA256 = strings.Repeat("ab", 32)
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	if err := Verify(b.Bytes()); err != nil {
		t.Fatalf("fresh report: %v", err)
	}
	if len(r.ReportSHA256) != 64 {
		t.Errorf("ReportSHA256 = %q", r.ReportSHA256)
	}
	// The streamed encoding is the standard one.
	var std bytes.Buffer
	enc := json.NewEncoder(&std)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	enc.Encode(r)
	if std.String() != b.String() {
		t.Errorf("streamed encoding differs from encoding/json's")
	}
	forged := bytes.Replace(b.Bytes(), []byte(`"dns_dropped": 7`), []byte(`"dns_dropped": 0`), 1)
	if bytes.Equal(forged, b.Bytes()) {
		t.Fatal("test did not change the report")
	}
	if err := Verify(forged); err == nil {
		t.Error("an edited report verifies")
	}
	back, err := ReadJSON(&b)
	if err != nil || back.ReportSHA256 != r.ReportSHA256 || back.Limits == nil || back.Limits.ConnectionsRefused != 20000 {
		t.Errorf("read back: %v %+v", err, back)
	}
}

func TestSummaryBoundsDestinations(t *testing.T) {
	var evs []event.Event
	for i := range 3 * MaxDestinations {
		evs = append(evs, event.Event{Kind: event.KindDNS, Verdict: event.VerdictBlock, Name: strings.Repeat("n", 1+i%40) + "." + string(rune('a'+i%26)) + itoa(i) + ".test", Reason: "not in policy"})
	}
	r := Build(Meta{}, evs)
	if len(r.Summary.Blocked) != MaxDestinations || r.Summary.BlockedOmitted != 2*MaxDestinations || r.Summary.Counts.Blocked != 3*MaxDestinations {
		t.Errorf("blocked listed %d, omitted %d, counted %d", len(r.Summary.Blocked), r.Summary.BlockedOmitted, r.Summary.Counts.Blocked)
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
