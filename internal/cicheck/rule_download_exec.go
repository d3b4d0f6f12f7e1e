package cicheck

import (
	"strings"

	"github.com/buildwall/buildwall/internal/ciconfig"
	"github.com/buildwall/buildwall/internal/finding"
)

var downloadExecRule = finding.Rule{
	ID:       "download-exec",
	Severity: finding.SeverityHigh,
	Summary:  "A script downloads code and runs it unchecked (curl … | sh, bash <(curl …), download then execute) in run:, Dockerfile RUN or GitLab script:.",
	Fix:      "Download to a file, verify its SHA-256 against a pinned value (or use a pinned package or action), then run it.",
	Help: "Whatever the server returns at that moment runs with the job's secrets: a compromised or spoofed download host " +
		"(the Codecov bash uploader, 2021) turns every build into the attacker's. A checksum pinned in the repository makes the download immutable: " +
		"a file checked with sha256sum/shasum, gpg --verify, cosign verify or minisign between its download and its run is not reported. " +
		"Also covered: PowerShell's `iex (iwr URL)` / `irm URL | iex`, and a Dockerfile RUN that executes a file fetched by `ADD <url>` without `--checksum`.",
}

var downloadExec = Rule{Rule: downloadExecRule, Workflow: checkDownloadExecWorkflow, Action: checkDownloadExecAction,
	Dockerfile: checkDownloadExecDockerfile, GitLab: checkDownloadExecGitLab}

func checkDownloadExecWorkflow(c *Context, w *ciconfig.Workflow, report func(finding.Finding)) {
	for _, s := range c.fileSteps(w) {
		if s.step.Run != nil {
			checkDownloadExecScript(c, w.Source, s.step.Run, report)
		}
	}
}

func checkDownloadExecAction(c *Context, a *ciconfig.Action, report func(finding.Finding)) {
	for _, s := range actionSteps(a) {
		if s.step.Run != nil {
			checkDownloadExecScript(c, a.Source, s.step.Run, report)
		}
	}
}

func checkDownloadExecScript(c *Context, src *ciconfig.Source, run *ciconfig.String, report func(finding.Finding)) {
	spans := DownloadExec(run.Value)
	reportCapped(len(spans), func(i int) finding.Finding {
		return c.at(&downloadExecRule, src.Locate(run, spans[i].Start),
			"run: downloads and executes code without checking it: "+DownloadExecSnippet(run.Value, spans[i]),
			downloadExecRule.Fix)
	}, report)
}

// DownloadExecSnippet renders a span of script for a finding message: one
// line, whitespace collapsed, at most 120 bytes.
func DownloadExecSnippet(script string, sp Span) string {
	s := strings.Join(strings.Fields(strings.ReplaceAll(script[sp.Start:sp.End], "\\\n", " ")), " ")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}
