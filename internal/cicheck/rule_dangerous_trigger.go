package cicheck

import (
	"slices"
	"strconv"
	"strings"

	"github.com/buildwall/buildwall/internal/ciconfig"
	"github.com/buildwall/buildwall/internal/finding"
)

var dangerousTriggerRule = finding.Rule{
	ID:       "dangerous-trigger",
	Severity: finding.SeverityHigh,
	Summary:  "pull_request_target or workflow_run runs with the base repository's secrets and write token (critical when the workflow checks out the pull request's head and builds, installs or runs it; issue_comment too in that case; workflow_run is rated by its upstream workflows: medium/low when none runs on pull requests).",
	Fix:      "Use pull_request for anything that touches the pull request's code; keep privileged triggers for labelling and commenting, never checking out or running the head.",
	Help: "Both triggers run in the base repository's context, with its secrets and a token that can write, on behalf of a pull request from anyone. " +
		"Checking out the head (`ref: ${{ github.event.pull_request.head.sha }}`, `refs/pull/…`, workflow_run's head_sha or artifacts) and then running " +
		"`npm install`, `make`, a test suite or a local action executes the attacker's code with those privileges — the \"pwn request\" that started the 2026 Trivy compromise. " +
		"Critical when such a checkout is followed in the same job by a step that builds, installs or runs code; high for any use of the triggers otherwise. " +
		"The head is recognised in any letter case, through refs/pull/N/{head,merge}, format(), `git fetch` of pull/N, `gh pr checkout`, artifacts fetched by " +
		"actions/download-artifact, actions/github-script or `gh run download`, and through a computed ref (`ref: ${{ steps.pr.outputs.sha }}`: anything but the base's own refs). " +
		"issue_comment workflows (\"/test\" commands) also run with the base repository's secrets: the same checkout-and-build combination there is critical, " +
		"while issue_comment alone is not reported.",
}

var dangerousTrigger = Rule{Rule: dangerousTriggerRule, Workflow: checkDangerousTrigger}

func checkDangerousTrigger(c *Context, w *ciconfig.Workflow, report func(finding.Finding)) {
	var names []string
	for _, e := range w.On {
		for _, t := range privilegedTriggers {
			if e.Name.Value == t {
				names = append(names, t)
			}
		}
	}
	if len(names) == 0 {
		// issue_comment also runs with the base repository's secrets;
		// only its checkout-and-build combination is reported.
		if w.Trigger("issue_comment") == nil {
			return
		}
		names = append(names, "issue_comment")
	}
	trig := strings.Join(names, " and ")
	// A workflow_run whose upstream workflows are all known and none runs
	// on pull requests acts on runs that people with write access started.
	quiet := ""
	if len(names) == 1 && names[0] == "workflow_run" {
		quiet = upstreamWithoutPRs(c, w)
	}
	critical := false
	for _, j := range w.Jobs {
		for i, s := range j.Steps {
			pos, what, ok := headCheckout(w.Source, s)
			if !ok {
				continue
			}
			b, how := buildStep(j.Steps[i+1:])
			if b == nil {
				continue
			}
			critical = true
			f := c.at(&dangerousTriggerRule, pos,
				trig+" workflow checks out untrusted pull request code ("+what+") in job "+j.ID.Value+
					" and then runs it ("+how+" at line "+strconv.Itoa(b.Pos.Line)+") with the base repository's secrets and write token",
				"Move building and testing the pull request to a `pull_request` workflow (no secrets, read-only token); if results must be posted, pass them as an artifact to a separate privileged job that never executes them.")
			f.Severity = finding.SeverityCritical
			if quiet != "" {
				f.Severity = finding.SeverityMedium
				f.Message += "; lowered: " + quiet
			}
			report(f)
		}
	}
	if critical {
		return
	}
	for _, e := range w.On {
		for _, t := range privilegedTriggers {
			if e.Name.Value != t {
				continue
			}
			f := c.at(&dangerousTriggerRule, e.Name.Pos,
				"workflow runs on "+t+", with the base repository's secrets and a write token on behalf of outside pull requests",
				"Prefer `pull_request`; if "+t+" is needed, never check out or run the pull request's code, set minimal `permissions:` and treat every event field as untrusted.")
			if t == "workflow_run" && quiet != "" {
				f.Severity = finding.SeverityLow
				f.Message = "workflow runs on workflow_run, with the base repository's secrets and a write token; " + quiet
				f.Fix = "Keep the upstream workflows off pull requests, or treat the triggering run's artifacts and head as untrusted."
			}
			report(f)
		}
	}
}

// headMarkers are expression fragments that name the pull request's head
// (or the head of the run that triggered a workflow_run).
var headMarkers = []string{
	"github.event.pull_request.head.sha", "github.event.pull_request.head.ref",
	"github.event.pull_request.head.repo.", "github.event.pull_request.merge_commit_sha",
	"github.head_ref", "refs/pull/", "pull/${{",
	"github.event.workflow_run.head_sha", "github.event.workflow_run.head_branch",
	"github.event.workflow_run.head_commit.id", "github.event.workflow_run.head_repository.full_name",
}

// headMarker returns the first head marker in s (in any letter case:
// contexts are case-insensitive), or "".
func headMarker(s string) string {
	for _, m := range headMarkers {
		if containsFold(s, m) {
			return m
		}
	}
	return ""
}

// baseContexts are the expressions a privileged workflow's checkout may
// use without fetching the pull request's code.
var baseContexts = []string{
	"github.sha", "github.ref", "github.ref_name", "github.base_ref", "github.event.repository.default_branch",
	"github.event.pull_request.base.sha", "github.event.pull_request.base.ref", "github.event.pull_request.base.repo.full_name",
	"github.repository", "github.event.repository.full_name", "github.event.release.tag_name", "github.event.workflow_run.repository.full_name",
}

// computedRef reports whether a checkout's ref: or repository: value
// holds an expression other than the base repository's own refs (such
// as steps.pr.outputs.sha or needs.x.outputs.ref): in a privileged
// workflow that is how the pull request's head is usually reached.
func computedRef(v string) bool {
	for _, e := range expressions(v) {
		p, ok := plainPath(v[e.Start+3 : max(e.Start+3, e.End-2)])
		if !ok {
			return true
		}
		safe := false
		for _, b := range baseContexts {
			if strings.EqualFold(p, b) {
				safe = true
				break
			}
		}
		if !safe {
			return true
		}
	}
	return false
}

// headCheckout reports whether step s puts the pull request's code (or the
// triggering run's artifacts) into the workspace, and where.
func headCheckout(src *ciconfig.Source, s *ciconfig.Step) (ciconfig.Pos, string, bool) {
	switch name := actionName(s); {
	case name == "actions/checkout":
		for _, in := range []string{"ref", "repository"} {
			if p := s.Input(in); p != nil && p.Value != nil && headMarker(p.Value.Value) != "" {
				return p.Value.Pos, in + ": " + strings.TrimSpace(p.Value.Value), true
			}
		}
		for _, in := range []string{"ref", "repository"} {
			if p := s.Input(in); p != nil && p.Value != nil && computedRef(p.Value.Value) {
				return p.Value.Pos, in + ": " + strings.TrimSpace(p.Value.Value) + ", a computed ref that may name the pull request's head", true
			}
		}
	case name == "actions/download-artifact":
		// run-id names another run (the triggering one, or one found by
		// an earlier step), whose artifacts a pull request produced.
		if p := s.Input("run-id"); p != nil && p.Value != nil && strings.TrimSpace(p.Value.Value) != "" {
			if containsFold(p.Value.Value, "workflow_run") {
				return p.Value.Pos, "artifacts of the triggering run", true
			}
			return p.Value.Pos, "artifacts of another run", true
		}
	case name == "dawidd6/action-download-artifact", name == "aochmann/actions-download-artifact",
		name == "bettermarks/action-artifact-download", name == "blablacar/action-download-last-artifact":
		return s.Uses.Pos, "artifacts of another run", true
	case name == "actions/github-script":
		if p := s.Input("script"); p != nil && p.Value != nil {
			if i := strings.Index(p.Value.Value, "downloadArtifact"); i >= 0 {
				return src.Locate(p.Value, i), "artifacts downloaded by actions/github-script", true
			}
		}
	case s.Run != nil:
		r := s.Run.Value
		if i := strings.Index(r, "gh pr checkout"); i >= 0 {
			return src.Locate(s.Run, i), "gh pr checkout", true
		}
		if i := strings.Index(r, "gh run download"); i >= 0 {
			return src.Locate(s.Run, i), "artifacts downloaded by gh run download", true
		}
		for _, git := range []string{"git fetch", "git checkout", "git switch", "git pull", "git clone", "git worktree add", "git reset --hard"} {
			if i := strings.Index(r, git); i >= 0 {
				if m := headMarker(r[i:]); m != "" {
					return src.Locate(s.Run, i), git + " of " + strings.TrimSuffix(m, "."), true
				}
			}
		}
	}
	return ciconfig.Pos{}, "", false
}

// buildCommands are words that, as a command in a run: script, build,
// install or execute the code in the workspace.
var buildCommands = []string{
	"npm", "npx", "yarn", "pnpm", "bun", "node", "deno", "pip", "pip3", "python", "python3", "poetry", "uv", "tox", "nox", "pytest",
	"make", "cmake", "ninja", "cargo", "mvn", "./mvnw", "gradle", "./gradlew", "bundle", "rake", "composer", "dotnet", "msbuild",
	"ant", "sbt", "mix", "swift", "pre-commit", "go build", "go test", "go run", "go generate", "go install", "go vet", "go mod download",
	"docker build", "docker compose", "docker-compose", "docker buildx", "terraform plan", "terraform apply", "terraform init",
	"gomplate", "mkdocs", "vale", "hugo", "jekyll", "sphinx-build", "ruby", "perl", "php", "java", "mvnw", "gradlew",
	"source", ".", "tsc", "webpack", "vite", "jest", "vitest", "playwright", "cypress", "lerna", "nx", "turbo", "rush",
	"bazel", "bazelisk", "buck2", "meson", "scons", "just", "task", "earthly", "dagger", "tilt", "skaffold", "helm", "kustomize",
}

// buildActions run code from the workspace (besides local ./ actions).
var buildActions = []string{
	"docker/build-push-action", "docker/bake-action", "github/codeql-action/autobuild", "gradle/gradle-build-action",
	"goreleaser/goreleaser-action", "pre-commit/action", "cypress-io/github-action", "bahmutov/npm-install", "borales/actions-yarn",
	"oxsecurity/megalinter", "bridgecrewio/checkov-action", "actions/jekyll-build-pages", "sonarsource/sonarcloud-github-action",
	"sonarsource/sonarqube-scan-action", "gradle/actions/setup-gradle", "github/super-linter", "super-linter/super-linter",
	"golangci/golangci-lint-action", "docker/bake-action", "nrwl/nx-set-shas",
}

// buildStep returns the first of steps that builds, installs or runs the
// workspace's code, and what it runs.
func buildStep(steps []*ciconfig.Step) (*ciconfig.Step, string) {
	for _, s := range steps {
		if s.Run != nil {
			if cmd := buildCommand(s.Run.Value); cmd != "" {
				return s, "`" + cmd + "`"
			}
			continue
		}
		if s.Uses == nil {
			continue
		}
		if u := ciconfig.ParseUses(s.Uses.Value); u.Kind == ciconfig.UsesLocal {
			return s, "local action " + s.Uses.Value
		}
		name := actionName(s)
		for _, a := range buildActions {
			if name == a {
				return s, s.Uses.Value
			}
		}
		if name == "ruby/setup-ruby" && strings.EqualFold(inputValue(s, "bundler-cache"), "true") {
			return s, "ruby/setup-ruby with bundler-cache (bundle install)"
		}
		if name == "pnpm/action-setup" && inputValue(s, "run_install") != "" && !strings.EqualFold(inputValue(s, "run_install"), "false") {
			return s, "pnpm/action-setup with run_install"
		}
	}
	return nil, ""
}

// buildCommand returns the first build command that starts a command in
// script (at the start of a line or after ;, &&, ||, |, sudo), or "".
// Scripts in the workspace (./x, bash x.sh, sh scripts/…) count too.
func buildCommand(script string) string {
	for line := range strings.SplitSeq(script, "\n") {
		for _, cmd := range splitCommands(line) {
			cmd = strings.TrimSpace(cmd)
			cmd = strings.TrimPrefix(cmd, "sudo ")
			if cmd == "" || cmd[0] == '#' {
				continue
			}
			cmd = skipEnvAssignments(cmd)
			if cmd == "" {
				continue
			}
			for _, b := range buildCommands {
				if cmd == b || strings.HasPrefix(cmd, b+" ") {
					return b
				}
			}
			first := strings.Fields(cmd)[0]
			if strings.HasPrefix(first, "./") || strings.HasPrefix(first, "../") {
				return first
			}
			// A relative path (scripts/build.sh, .github/ci.sh) or one under
			// the workspace runs a file of the checkout.
			if !strings.HasPrefix(first, "/") && !strings.HasPrefix(first, "$") && !strings.HasPrefix(first, "~") && strings.Contains(first, "/") &&
				!strings.Contains(first, "://") && !strings.ContainsAny(first[:1], "\"'=-<>") {
				return first
			}
			for _, ws := range []string{"$GITHUB_WORKSPACE/", "${GITHUB_WORKSPACE}/", "${{ github.workspace }}/", "$PWD/", "${PWD}/"} {
				if strings.HasPrefix(first, ws) {
					return first
				}
			}
			for _, sh := range []string{"bash ", "sh "} {
				if rest, ok := strings.CutPrefix(cmd, sh); ok && !strings.HasPrefix(strings.TrimSpace(rest), "-c") {
					return strings.TrimSpace(cmd)
				}
			}
		}
	}
	return ""
}

// skipEnvAssignments drops leading NAME=value words and an env command
// (env A=1 npm test runs npm).
func skipEnvAssignments(cmd string) string {
	cmd = strings.TrimPrefix(cmd, "env ")
	for {
		cmd = strings.TrimSpace(cmd)
		sp := strings.IndexAny(cmd, " \t")
		word := cmd
		if sp >= 0 {
			word = cmd[:sp]
		}
		eq := strings.IndexByte(word, '=')
		if eq <= 0 || strings.ContainsAny(word[:eq], "\"'$/") {
			return cmd
		}
		if sp < 0 {
			// Only assignments (message=${message//'%'/'%25'}): no
			// command runs.
			return ""
		}
		cmd = cmd[sp+1:]
	}
}

func splitCommands(line string) []string {
	return strings.FieldsFunc(line, func(r rune) bool { return r == ';' || r == '&' || r == '|' })
}

// prTriggers are the events on which an outsider's pull request starts a
// workflow (and so a workflow_run after it); workflow_run itself is in
// the list because a chain passes the first run's origin on.
var prTriggers = []string{"pull_request", "pull_request_target", "pull_request_review", "pull_request_review_comment", "workflow_run"}

// upstreamWithoutPRs returns a sentence naming w's workflow_run upstream
// workflows when every one is a workflow of the repository (found by name
// in c.Workflows) that no pull request triggers, and "" otherwise (repository
// unknown, an upstream not found, or one that runs on pull requests).
func upstreamWithoutPRs(c *Context, w *ciconfig.Workflow) string {
	e := w.Trigger("workflow_run")
	if c.Workflows == nil || e == nil || len(e.Workflows) == 0 {
		return ""
	}
	var names []string
	for _, up := range e.Workflows {
		events, ok := c.Workflows[up.Value]
		if !ok || strings.ContainsAny(up.Value, "*?[") {
			return ""
		}
		for _, ev := range events {
			if slices.Contains(prTriggers, ev) {
				return ""
			}
		}
		names = append(names, strconv.Quote(up.Value)+" ("+strings.Join(events, ", ")+")")
	}
	return "its upstream workflow(s) " + strings.Join(names, ", ") + " never run on pull requests, so the triggering run's head and artifacts come from people with write access"
}
