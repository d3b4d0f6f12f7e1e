package cicheck

import (
	"slices"
	"strconv"
	"strings"

	"github.com/buildwall/buildwall/internal/ciconfig"
	"github.com/buildwall/buildwall/internal/finding"
)

// maxFindingsPerScalar bounds the findings one rule reports for one
// script: locating each finding costs time linear in the script, and a
// hostile file with thousands of matches in one block must not make the
// scan quadratic. Fifty are plenty to fix the script.
const maxFindingsPerScalar = 50

// reportCapped reports the first maxFindingsPerScalar of n findings of one
// script, instruction or value, built by mk(i) for i in [0, n). When some
// are left out, the last one reported says how many, so the cap is never
// silent.
//
// Callers on hot paths test n > 0 first: the closure mk costs an
// allocation even when nothing is reported.
func reportCapped(n int, mk func(i int) finding.Finding, report func(finding.Finding)) {
	for i := range min(n, maxFindingsPerScalar) {
		f := mk(i)
		if i == maxFindingsPerScalar-1 && n > maxFindingsPerScalar {
			f.Message += " (and " + strconv.Itoa(n-maxFindingsPerScalar) + " more like it in the same script or value, not reported one by one)"
		}
		report(f)
	}
}

// stepRef is a step with the job it belongs to (nil inside an action).
type stepRef struct {
	step *ciconfig.Step
	job  *ciconfig.Job
}

// workflowSteps lists the steps of every job of w, in source order.
func workflowSteps(w *ciconfig.Workflow) []stepRef {
	n := 0
	for _, j := range w.Jobs {
		n += len(j.Steps)
	}
	out := make([]stepRef, 0, n)
	for _, j := range w.Jobs {
		for _, s := range j.Steps {
			out = append(out, stepRef{step: s, job: j})
		}
	}
	return out
}

// actionSteps lists the steps of a composite action.
func actionSteps(a *ciconfig.Action) []stepRef {
	if a.Runs == nil {
		return nil
	}
	out := make([]stepRef, 0, len(a.Runs.Steps))
	for _, s := range a.Runs.Steps {
		out = append(out, stepRef{step: s})
	}
	return out
}

// usesAction reports whether a step runs the remote action name
// (owner/repo[/path], compared case-insensitively) at any ref.
func usesAction(s *ciconfig.Step, name string) bool {
	if s.Uses == nil {
		return false
	}
	u := ciconfig.ParseUses(s.Uses.Value)
	return u.Kind == ciconfig.UsesRemote && strings.EqualFold(u.FullName(), name)
}

// actionName returns owner/repo[/path] of a step's remote action, lower
// case, or "" for run steps, local, docker and expression references.
func actionName(s *ciconfig.Step) string {
	if s.Uses == nil {
		return ""
	}
	u := ciconfig.ParseUses(s.Uses.Value)
	if u.Kind != ciconfig.UsesRemote {
		return ""
	}
	return strings.ToLower(u.FullName())
}

// inputValue returns the value of a step's with: input, "" when absent.
func inputValue(s *ciconfig.Step, name string) string {
	if p := s.Input(name); p != nil && p.Value != nil {
		return p.Value.Value
	}
	return ""
}

// Event sets. Names are GitHub's webhook event names.
var (
	// untrustedTriggers start a workflow on input that outsiders control:
	// pull requests (from forks), issues, comments, discussions, and
	// workflow_run (which follows pull request workflows).
	untrustedTriggers = []string{
		"pull_request", "pull_request_target", "pull_request_review", "pull_request_review_comment",
		"issues", "issue_comment", "discussion", "discussion_comment", "workflow_run",
	}
	// writeTokenTriggers are the untrustedTriggers on which outsiders'
	// input meets the repository's default token with its write scopes:
	// pull_request and its review events from a fork get a read-only
	// token whatever permissions: says.
	writeTokenTriggers = []string{
		"pull_request_target", "issues", "issue_comment", "discussion", "discussion_comment", "workflow_run",
	}
	// forkPRTriggers run jobs that a pull request from a fork can start.
	forkPRTriggers = []string{
		"pull_request", "pull_request_target", "pull_request_review", "pull_request_review_comment", "issue_comment",
	}
	// privilegedTriggers run in the base repository's context, with its
	// secrets and a write token, on behalf of a pull request.
	privilegedTriggers = []string{"pull_request_target", "workflow_run"}
)

// triggered returns the first event of w whose name is in names.
func triggered(w *ciconfig.Workflow, names []string) *ciconfig.Event {
	for i := range w.On {
		for _, n := range names {
			if w.On[i].Name.Value == n {
				return &w.On[i]
			}
		}
	}
	return nil
}

// maintainerActivities are activity types of issues and discussion
// events that only people with triage or write access can cause.
var maintainerActivities = []string{
	"labeled", "unlabeled", "assigned", "unassigned", "milestoned", "demilestoned",
	"pinned", "unpinned", "locked", "unlocked", "transferred", "deleted", "category_changed", "answered", "unanswered",
}

// outsiderTriggered is triggered(w, writeTokenTriggers) without the
// issues and discussion events whose types: are all maintainers' actions
// (issues: types: [labeled] runs when a triager labels, not when an
// outsider opens an issue).
func outsiderTriggered(w *ciconfig.Workflow) *ciconfig.Event {
	for i := range w.On {
		e := &w.On[i]
		if !slices.Contains(writeTokenTriggers, e.Name.Value) {
			continue
		}
		if (e.Name.Value == "issues" || e.Name.Value == "discussion") && len(e.Types) > 0 &&
			!slices.ContainsFunc(e.Types, func(t ciconfig.String) bool { return !slices.Contains(maintainerActivities, t.Value) }) {
			continue
		}
		return e
	}
	return nil
}

// containsWord reports whether s contains word delimited by non-word
// characters (letters, digits, '_', '-' and '.' are word characters).
func containsWord(s, word string) bool {
	return wordIndex(s, word, 0) >= 0
}

// wordIndex returns the offset of the first delimited occurrence of word in
// s at or after from, or -1.
func wordIndex(s, word string, from int) int {
	for from <= len(s) {
		i := strings.Index(s[from:], word)
		if i < 0 {
			return -1
		}
		i += from
		end := i + len(word)
		if (i == 0 || !isWordByte(s[i-1])) && (end == len(s) || !isWordByte(s[end])) {
			return i
		}
		from = i + 1
	}
	return -1
}

func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.'
}
