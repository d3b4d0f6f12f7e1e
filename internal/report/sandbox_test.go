package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/buildwall/buildwall/internal/event"
)

func TestSandboxRefusalsInSummaries(t *testing.T) {
	events := []event.Event{
		{Kind: event.KindProcess, Verdict: event.VerdictBlock, Reason: "socket(AF_VSOCK) refused (EAFNOSUPPORT)", PID: 7, Cmdline: "node \x1b[31mevil\n::warning::x"},
		{Kind: event.KindProcess, Verdict: event.VerdictAllow, Reason: "kill(0, SIGKILL): reaches only the build's own processes"},
		{Kind: event.KindProcess, Verdict: event.VerdictBlock, Reason: "socket(AF_VSOCK) refused (EAFNOSUPPORT) (repeated)", Count: 4},
		{Kind: event.KindProcess, Verdict: event.VerdictBlock, Name: "/w/out/run.json", Reason: "report path tampered: replaced during the run"},
	}
	r := Build(Meta{Command: []string{"x"}, Mode: "block", ExitCode: 1}, events)
	var text, md bytes.Buffer
	if err := r.Text(&text); err != nil {
		t.Fatal(err)
	}
	if err := r.Markdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"refused by the sandbox (2):",
		"socket(AF_VSOCK) refused (EAFNOSUPPORT) (5×) [by 7 node \\x1b[31mevil\\n::warning::x]",
		"/w/out/run.json: report path tampered: replaced during the run (1×)",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text summary lacks %q:\n%s", want, text.String())
		}
	}
	if strings.Contains(text.String(), "kill(0") {
		t.Error("an observed kill is listed as refused")
	}
	if !strings.Contains(md.String(), "#### Refused by the sandbox") || !strings.Contains(md.String(), "| 5 |") {
		t.Errorf("markdown lacks the sandbox table:\n%s", md.String())
	}
}
