package cicheck

import (
	"strings"

	"github.com/buildwall/buildwall/internal/ciconfig"
	"github.com/buildwall/buildwall/internal/finding"
)

var selfHostedOnPRRule = finding.Rule{
	ID:       "self-hosted-on-pr",
	Severity: finding.SeverityHigh,
	Summary:  "A job that pull requests from forks (or outsiders' issues, comments and discussions) can trigger runs on a self-hosted runner.",
	Fix:      "Run fork-triggered jobs on GitHub-hosted runners, or restrict the job to same-repository pull requests (if: github.event.pull_request.head.repo.fork == false).",
	Help: "A self-hosted runner is not wiped between jobs: code from a fork's pull request can persist on it, read other jobs' secrets and " +
		"attack the network it sits in. Issues, comments and discussions count too: Shai-Hulud 2.0 (2025) registered victims' machines as " +
		"self-hosted runners and drove them through a discussion-triggered workflow. The rule accepts a job whose `if:` limits it to pull requests from the same repository. " +
		"Besides `self-hosted`, the bare labels only self-hosted runners carry (linux, windows, macos, x64, arm, arm64) count; " +
		"a runner group or custom label without them is not reported (larger GitHub-hosted runners have custom names and live in groups too); " +
		"runs-on given as ${{ matrix.x }} is checked value by value.",
}

var selfHostedOnPR = Rule{Rule: selfHostedOnPRRule, Workflow: checkSelfHostedOnPR}

func checkSelfHostedOnPR(c *Context, w *ciconfig.Workflow, report func(finding.Finding)) {
	ev := triggered(w, outsiderTriggers)
	if ev == nil {
		return
	}
	for _, j := range w.Jobs {
		if j.RunsOn == nil || sameRepoOnly(j.If) {
			continue
		}
		labels := j.RunsOn.Labels
		if j.RunsOn.Expr != nil {
			if vals, ok := matrixExpansion(j, j.RunsOn.Expr.Value); ok {
				labels = vals
			}
		}
		for _, l := range labels {
			if selfHostedLabel(l.Value) {
				report(c.at(&selfHostedOnPRRule, l.Pos,
					"job "+j.ID.Value+" runs on a self-hosted runner and the workflow runs on "+ev.Name.Value+", which "+triggerWho(ev.Name.Value)+" can trigger",
					selfHostedFix(ev.Name.Value)))
				break
			}
		}
	}
}

// outsiderTriggers run jobs that a fork's pull request, or anyone who can
// open an issue or a discussion or comment, can start.
var outsiderTriggers = append(forkPRTriggers[:len(forkPRTriggers):len(forkPRTriggers)], "issues", "discussion", "discussion_comment")

// triggerWho names who can start an event of outsiderTriggers.
func triggerWho(event string) string {
	switch event {
	case "issues":
		return "anyone who can open an issue"
	case "discussion", "discussion_comment":
		return "anyone who can start or answer a discussion"
	}
	return "a fork's pull request"
}

func selfHostedFix(event string) string {
	switch event {
	case "issues", "discussion", "discussion_comment":
		return "Use a GitHub-hosted runner for this job."
	}
	return "Use a GitHub-hosted runner for this job, or add `if: github.event.pull_request.head.repo.fork == false`."
}

// selfHostedLabel reports whether a runs-on label selects a self-hosted
// runner: "self-hosted", or one of the operating-system and architecture
// labels that only self-hosted runners carry (GitHub-hosted images are
// named ubuntu-24.04, windows-latest, macos-14, ...).
func selfHostedLabel(l string) bool {
	switch strings.ToLower(strings.TrimSpace(l)) {
	case "self-hosted", "linux", "windows", "macos", "x64", "arm", "arm64":
		return true
	}
	return false
}

// sameRepoOnly reports whether a job condition limits it to pull requests
// from the base repository itself.
func sameRepoOnly(cond *ciconfig.String) bool {
	if cond == nil {
		return false
	}
	v := strings.Join(strings.Fields(cond.Value), " ")
	for _, s := range []string{
		"github.event.pull_request.head.repo.full_name == github.repository",
		"github.repository == github.event.pull_request.head.repo.full_name",
		"github.event.pull_request.head.repo.fork == false",
		"!github.event.pull_request.head.repo.fork",
		"! github.event.pull_request.head.repo.fork",
	} {
		if strings.Contains(v, s) {
			return true
		}
	}
	return false
}
