package report

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/buildwall/buildwall/internal/event"
	"github.com/buildwall/buildwall/internal/policy"
	"github.com/buildwall/buildwall/internal/testutil"
)

// testEnv is the toolchain configuration presets expand from in these
// tests: made-up registries only.
var testEnv = policy.Env{NPMRegistries: []string{"https://registry.example/"}}

func loadCase(t *testing.T, dir string) (Meta, []event.Event) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m Meta
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("meta.json: %v", err)
	}
	f, err := os.Open(filepath.Join(dir, "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	evs, err := event.ReadJSONLines(f)
	if err != nil {
		t.Fatal(err)
	}
	return m, evs
}

// TestGolden renders every case under testdata/ (a directory with
// meta.json and events.jsonl) in all formats.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*/events.jsonl")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, p := range dirs {
		dir := filepath.Dir(p)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			meta, evs := loadCase(t, dir)
			r := Build(meta, evs)
			var js, txt, md, sug bytes.Buffer
			if err := r.WriteJSON(&js); err != nil {
				t.Fatal(err)
			}
			if err := r.Text(&txt); err != nil {
				t.Fatal(err)
			}
			if err := r.Markdown(&md); err != nil {
				t.Fatal(err)
			}
			s := Suggest(r, testEnv)
			if err := s.WriteYAML(&sug); err != nil {
				t.Fatal(err)
			}
			testutil.Golden(t, filepath.Join(dir, "report.json.golden"), js.Bytes())
			testutil.Golden(t, filepath.Join(dir, "summary.txt.golden"), txt.Bytes())
			testutil.Golden(t, filepath.Join(dir, "summary.md.golden"), md.Bytes())
			testutil.Golden(t, filepath.Join(dir, "suggest.yaml.golden"), sug.Bytes())

			// The JSON report reads back to the same report.
			back, err := ReadJSON(bytes.NewReader(js.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(r, back, cmpopts.IgnoreUnexported(policy.Spec{})); diff != "" {
				t.Errorf("round trip mismatch (-want +got):\n%s", diff)
			}
			checkSuggestionAllowsRun(t, r, sug.Bytes())
		})
	}
	testutil.CheckUnusedGoldens(t, "testdata/*/*.golden")
}

// checkSuggestionAllowsRun parses the suggested YAML as a user would commit
// it and checks it allows every connection the run let through or audited,
// except the ones left out on purpose, and refuses what the run blocked.
func checkSuggestionAllowsRun(t *testing.T, r *Report, yml []byte) {
	t.Helper()
	spec, err := policy.Parse("suggest.yaml", yml)
	if err != nil {
		t.Fatalf("suggested policy does not parse: %v\n%s", err, yml)
	}
	p, err := policy.Compile(spec, testEnv)
	if err != nil {
		t.Fatalf("suggested policy does not compile: %v", err)
	}
	if p.Mode() != policy.ModeBlock {
		t.Errorf("suggested mode = %s, want block", p.Mode())
	}
	for _, e := range r.Events {
		if e.Kind != event.KindConnect {
			continue
		}
		req := policy.Request{Name: e.Name, Port: e.Port, Proto: "tcp"}
		if e.Name == "" {
			if a, err := netip.ParseAddr(e.IP); err == nil && benchmarking.Contains(a) {
				continue // an unnamed synthetic address is left out on purpose
			}
			req.Name = e.IP
		}
		got := p.Decide(req).Allow
		switch e.Verdict {
		case event.VerdictAllow, event.VerdictAudit:
			if !got {
				t.Errorf("suggested policy refuses %s:%d, which the run reached", req.Name, e.Port)
			}
		case event.VerdictBlock:
			if got && !strings.Contains(e.Reason, "mismatch") {
				t.Errorf("suggested policy allows %s:%d, which the run blocked", req.Name, e.Port)
			}
		}
	}
}

func TestReadJSONRejectsOtherSchemas(t *testing.T) {
	for in, want := range map[string]string{
		`{"schema":"buildwall.scan/v1"}`: `decode run report: schema "buildwall.scan/v1" is not "buildwall.run/v1"`,
		`[1,2]`:                          `decode run report: json: cannot unmarshal array into Go value of type report.Report`,
	} {
		_, err := ReadJSON(strings.NewReader(in))
		if err == nil || err.Error() != want {
			t.Errorf("ReadJSON(%s) error = %v, want %s", in, err, want)
		}
	}
}

func TestSuspiciousBounded(t *testing.T) {
	var evs []event.Event
	for i := range MaxSuspicious + 7 {
		evs = append(evs, event.Event{Kind: event.KindDNS, Verdict: event.VerdictBlock, Name: strings.Repeat("x", 60) + "." + string(rune('a'+i%26)) + string(rune('a'+i/26)) + ".example", Reason: "dns tunnelling suspected: label of 60 bytes"})
	}
	r := Build(Meta{Mode: policy.ModeBlock}, evs)
	if len(r.Summary.DNSSuspicious) != MaxSuspicious || r.Summary.SuspiciousOmitted != 7 {
		t.Errorf("suspicious: %d listed, %d omitted", len(r.Summary.DNSSuspicious), r.Summary.SuspiciousOmitted)
	}
	if r.Summary.Counts.Suspicious != MaxSuspicious+7 {
		t.Errorf("suspicious count = %d", r.Summary.Counts.Suspicious)
	}
}

func TestTruncateKeepsUTF8(t *testing.T) {
	got := truncate("ééééé", 4)
	if got != "é…" {
		t.Errorf("truncate = %q", got)
	}
}

func TestTextFirstLineNamesBothExitCodes(t *testing.T) {
	conn := event.Event{Kind: event.KindConnect, Verdict: event.VerdictBlock, IP: "192.0.2.1", Port: 443}
	dns := event.Event{Kind: event.KindDNS, Verdict: event.VerdictBlock, Name: "evil.test"}
	allowed := event.Event{Kind: event.KindConnect, Verdict: event.VerdictAllow, Name: "ok.test", Port: 443}
	for _, tc := range []struct {
		name          string
		command, exit int
		events        []event.Event
		want          string
	}{
		{"same", 3, 3, []event.Event{allowed}, "buildwall run: block mode, command exited 3 after 1s\n"},
		{"one connection", 0, 1, []event.Event{allowed, conn}, "buildwall run: block mode, command exited 0 after 1s; 1 connection blocked → buildwall exits 1\n"},
		{"two connections", 0, 1, []event.Event{conn, conn}, "buildwall run: block mode, command exited 0 after 1s; 2 connections blocked → buildwall exits 1\n"},
		{"mixed", 0, 1, []event.Event{conn, dns}, "buildwall run: block mode, command exited 0 after 1s; 2 egress attempts blocked → buildwall exits 1\n"},
		{"nothing blocked", 0, 125, nil, "buildwall run: block mode, command exited 0 after 1s; buildwall exits 125\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
			r := Build(Meta{Mode: policy.ModeBlock, ExitCode: tc.exit, CommandExitCode: tc.command, Start: start, End: start.Add(time.Second)}, tc.events)
			var b strings.Builder
			if err := r.Text(&b); err != nil {
				t.Fatal(err)
			}
			got, _, _ := strings.Cut(b.String(), "\n")
			if diff := cmp.Diff(tc.want, got+"\n"); diff != "" {
				t.Errorf("first line (-want +got):\n%s", diff)
			}
		})
	}
}
