package cicheck

import (
	"strings"

	"github.com/buildwall/buildwall/internal/ciconfig"
	"github.com/buildwall/buildwall/internal/finding"
)

var excessivePermissionsRule = finding.Rule{
	ID:       "excessive-permissions",
	Severity: finding.SeverityMedium,
	Summary:  "The workflow's token gets more than it needs: a job without a permissions: block in a workflow without one (high when pull requests, issues or comments trigger it), write-all or read-all, or write scopes a job never uses.",
	Fix:      "Add a top-level permissions: contents: read (or {}) and grant write scopes only on the jobs that need them.",
	Help: "Without `permissions:` the GITHUB_TOKEN gets the repository's default, often write access to everything; any compromised step " +
		"(a poisoned action, an injected script) can then push code, cut releases or publish packages. " +
		"Unused write scopes are found by a heuristic: a scope counts as used when a step runs a command that needs it " +
		"(`git push`, `gh release`, `docker push`, `npm publish`, `gh pr`, OIDC tools, …), uses an action known to need it, " +
		"passes the token to a script (`GITHUB_TOKEN`, `gh api`), or uses any action not known to be read-only — so only jobs made of " +
		"plain scripts and well-known read-only actions (checkout, setup-*, cache, artifacts) are reported.",
}

var excessivePermissions = Rule{Rule: excessivePermissionsRule, Workflow: checkExcessivePermissions}

func checkExcessivePermissions(c *Context, w *ciconfig.Workflow, report func(finding.Finding)) {
	if onlyWorkflowCall(w) {
		return // a called workflow's token is capped by its caller
	}
	if w.Permissions == nil && len(w.On) > 0 {
		ev := outsiderTriggered(w)
		for _, j := range w.Jobs {
			if j.Permissions == nil {
				reportBareJob(c, j, ev, report)
			}
		}
	}
	if w.Permissions != nil {
		var inheriting []*ciconfig.Job
		for _, j := range w.Jobs {
			if j.Permissions == nil {
				inheriting = append(inheriting, j)
			}
		}
		if len(inheriting) > 0 {
			checkPermissionsUse(c, w.Permissions, nil, inheriting, report)
		}
	}
	for _, j := range w.Jobs {
		if j.Permissions != nil {
			checkPermissionsUse(c, j.Permissions, j, []*ciconfig.Job{j}, report)
		}
	}
}

// reportBareJob reports job j, which has no permissions: block in a
// workflow without one, at the job's line: high when ev (an untrusted
// trigger of the workflow, or nil) starts it.
func reportBareJob(c *Context, j *ciconfig.Job, ev *ciconfig.Event, report func(finding.Finding)) {
	sev, why := finding.SeverityMedium, ""
	if ev != nil {
		sev, why = finding.SeverityHigh, "; the workflow runs on "+ev.Name.Value+", so outsiders decide what the token is used for"
	}
	what := "its steps get"
	if j.Uses != nil {
		what = "the reusable workflow it calls (" + j.Uses.Value + ") gets"
	}
	f := c.at(&excessivePermissionsRule, j.ID.Pos,
		"job "+j.ID.Value+" has no permissions: block and neither has the workflow, so "+what+" the repository's default token permissions, often write-all"+why,
		"Add `permissions: contents: read` at the top of the workflow (or on the job) and grant write scopes only on the jobs that need them.")
	f.Severity = sev
	report(f)
}

// checkPermissionsUse reports read-all, write-all and the write scopes of
// p that none of jobs uses. job is the job that p belongs to (nil for the
// workflow's block): a job's findings are one per job, at the job's line.
func checkPermissionsUse(c *Context, p *ciconfig.Permissions, job *ciconfig.Job, jobs []*ciconfig.Job, report func(finding.Finding)) {
	owner, at := "workflow", ciconfig.Pos{}
	if job != nil {
		owner, at = "job "+job.ID.Value, job.ID.Pos
	}
	if p.All != nil {
		if at.Line == 0 {
			at = p.All.Pos
		}
		switch strings.ToLower(strings.TrimSpace(p.All.Value)) {
		case "write-all":
			report(c.at(&excessivePermissionsRule, at,
				owner+" grants the token write access to every scope (write-all)",
				"Replace write-all with the scopes the jobs need, e.g. `permissions: contents: read`."))
		case "read-all":
			f := c.at(&excessivePermissionsRule, at,
				owner+" grants the token read access to every scope (read-all), including private packages, security alerts and deployments",
				"Replace read-all with the scopes the jobs read, e.g. `permissions: contents: read`.")
			f.Severity = finding.SeverityLow
			report(f)
		}
		return
	}
	var unused []ciconfig.Pair
	for _, s := range p.Scopes {
		if s.Value == nil || !strings.EqualFold(strings.TrimSpace(s.Value.Value), "write") {
			continue
		}
		scope := strings.ToLower(s.Name.Value)
		used := false
		for _, j := range jobs {
			if jobUsesScope(c, j, scope) {
				used = true
				break
			}
		}
		if !used {
			unused = append(unused, s)
		}
	}
	if len(unused) == 0 {
		return
	}
	if job == nil {
		for _, s := range unused {
			report(c.at(&excessivePermissionsRule, s.Name.Pos,
				owner+" grants "+s.Name.Value+": write but no step that runs with it appears to need it",
				"Lower it to `"+s.Name.Value+": read` (or remove it), or grant it only on the job that "+scopeNeed(strings.ToLower(s.Name.Value))+"."))
		}
		return
	}
	names := make([]string, len(unused))
	for i, s := range unused {
		names[i] = s.Name.Value + ": write"
	}
	them := "them"
	if len(unused) == 1 {
		them = "it"
	}
	report(c.at(&excessivePermissionsRule, at,
		owner+" grants "+strings.Join(names, ", ")+" but no step of it appears to need "+them,
		"Lower "+them+" to read (or remove "+them+") in the job's permissions: block."))
}

func scopeNeed(scope string) string {
	if u, ok := scopeUses[scope]; ok && u.need != "" {
		return u.need
	}
	return "needs it"
}

// scopeUse lists what counts as using a write scope: command fragments in
// run: scripts and action name prefixes (lower case).
type scopeUse struct {
	need    string
	run     []string
	actions []string
}

var scopeUses = map[string]scopeUse{
	"contents": {
		need: "pushes, tags or releases",
		run:  []string{"git push", "git tag", "gh release", "semantic-release", "release-it", "goreleaser", "lerna publish", "changeset publish", "gh pr merge", "ghr "},
		actions: []string{"softprops/action-gh-release", "ncipollo/release-action", "actions/create-release", "actions/upload-release-asset",
			"goreleaser/goreleaser-action", "stefanzweifel/git-auto-commit-action", "peter-evans/create-pull-request", "endbug/add-and-commit",
			"changesets/action", "googleapis/release-please-action", "google-github-actions/release-please-action", "jamesives/github-pages-deploy-action",
			"peaceiris/actions-gh-pages", "ad-m/github-push-action", "cycjimmy/semantic-release-action", "svenstaro/upload-release-action",
			"release-drafter/release-drafter", "mathieudutour/github-tag-action", "anothrnick/github-tag-action", "rickstaa/action-create-tag"},
	},
	"packages": {
		need: "publishes packages or images",
		run: []string{"docker push", "--push", "npm publish", "yarn publish", "pnpm publish", "yarn npm publish", "buildah push", "podman push",
			"crane push", "ko build", "ko publish", "mvn deploy", "gradle publish", "gradlew publish", "nuget push", "oras push", "helm push",
			"skopeo copy", "goreleaser", "imagetools create", "docker manifest push"},
		actions: []string{"docker/build-push-action", "docker/bake-action", "goreleaser/goreleaser-action", "actions/delete-package-versions",
			"redhat-actions/push-to-registry", "ko-build/setup-ko", "js-devtools/npm-publish"},
	},
	"id-token": {
		need: "requests an OIDC token (cloud login, signing, trusted publishing)",
		run:  []string{"actions_id_token_request", "cosign", "--provenance", "npm publish", "gh attestation", "sigstore", "twine upload", "uv publish", "vault ", "aws ", "gcloud ", "az "},
		actions: []string{"aws-actions/configure-aws-credentials", "google-github-actions/auth", "azure/login", "pypa/gh-action-pypi-publish",
			"sigstore/", "actions/attest", "slsa-framework/", "hashicorp/vault-action", "actions/deploy-pages", "octo-sts/action", "rust-lang/crates-io-auth-action"},
	},
	"pull-requests": {
		need: "comments on, labels or opens pull requests",
		run:  []string{"gh pr"},
		actions: []string{"peter-evans/create-pull-request", "actions/labeler", "marocchino/sticky-pull-request-comment", "thollander/actions-comment-pull-request",
			"peter-evans/create-or-update-comment", "dependabot/fetch-metadata", "amannn/action-semantic-pull-request", "actions/stale", "actions/first-interaction",
			"googleapis/release-please-action", "changesets/action", "release-drafter/release-drafter", "reviewdog/", "mshick/add-pr-comment",
			"peter-evans/enable-pull-request-automerge", "hmarr/auto-approve-action"},
	},
	"issues": {
		need: "comments on or labels issues",
		run:  []string{"gh issue", "gh label"},
		actions: []string{"actions/stale", "peter-evans/create-issue-from-file", "actions/labeler", "actions/first-interaction",
			"peter-evans/create-or-update-comment", "dessant/lock-threads", "jasonetco/create-an-issue"},
	},
	"pages":           {need: "deploys GitHub Pages", actions: []string{"actions/deploy-pages"}},
	"security-events": {need: "uploads code-scanning results", actions: []string{"github/codeql-action", "ossf/scorecard-action"}},
	"attestations":    {need: "writes attestations", run: []string{"gh attestation"}, actions: []string{"actions/attest"}},
	"checks":          {need: "reports check runs", actions: []string{"golangci/golangci-lint-action", "dorny/test-reporter", "enricomi/publish-unit-test-result-action", "mikepenz/action-junit-report"}},
	"statuses":        {need: "sets commit statuses", actions: []string{"myrotvorets/set-commit-status-action", "ouzi-dev/commit-status-updater"}},
	"deployments":     {need: "creates deployments", actions: []string{"chrnorm/deployment-action", "bobheadxi/deployments", "actions/deploy-pages"}},
	"actions":         {need: "manages workflow runs or caches", run: []string{"gh run", "gh workflow", "gh cache"}},
}

// tokenMarkers in a run: script or a step's env: mean the script uses the
// token directly, for any scope.
var tokenMarkers = []string{"GITHUB_TOKEN", "github.token", "GH_TOKEN", "gh api", "api.github", "octokit"}

// readOnlyActions are action name prefixes known not to use write scopes.
var readOnlyActions = []string{
	"actions/checkout", "actions/setup-", "actions/cache", "actions/upload-artifact", "actions/download-artifact",
	"docker/setup-", "docker/metadata-action", "docker/login-action", "pnpm/action-setup", "oven-sh/setup-bun", "denoland/setup-deno",
	"ruby/setup-ruby", "dtolnay/rust-toolchain", "swatinem/rust-cache", "astral-sh/setup-uv", "hashicorp/setup-", "azure/setup-",
	"gradle/actions/setup-gradle", "actions-rs/toolchain", "jdx/mise-action", "extractions/setup-just", "taiki-e/install-action",
	"codecov/codecov-action", "mlugg/setup-zig", "erlef/setup-beam", "shivammathur/setup-php",
}

// jobUsesScope applies the heuristic described in the rule's help.
func jobUsesScope(c *Context, j *ciconfig.Job, scope string) bool {
	if j.Uses != nil {
		return true // a reusable workflow: its steps are elsewhere
	}
	u := scopeUses[scope]
	jobToken := false
	for _, e := range j.Env {
		for _, m := range tokenMarkers {
			if e.Value != nil && strings.Contains(e.Value.Value, m) {
				jobToken = true
			}
		}
	}
	for _, s := range j.Steps {
		if jobToken && s.Run != nil {
			return true // the job hands the token to its scripts
		}
		if s.Run != nil {
			low := c.lower(s.Run)
			for _, m := range u.run {
				if strings.Contains(low, m) {
					return true
				}
			}
			if hasTokenMarker(s) {
				return true
			}
			continue
		}
		if s.Uses == nil {
			continue
		}
		name := actionName(s)
		if name == "" {
			return true // local, docker or computed action: unknown
		}
		if name == "actions/github-script" {
			return true
		}
		for _, a := range u.actions {
			if strings.HasPrefix(name, a) {
				return true
			}
		}
		known := false
		for _, a := range readOnlyActions {
			if strings.HasPrefix(name, a) {
				known = true
				break
			}
		}
		if !known {
			return true
		}
	}
	return false
}

func hasTokenMarker(s *ciconfig.Step) bool {
	for _, m := range tokenMarkers {
		if s.Run != nil && strings.Contains(s.Run.Value, m) {
			return true
		}
		for _, e := range s.Env {
			if e.Value != nil && strings.Contains(e.Value.Value, m) {
				return true
			}
		}
	}
	return false
}

// onlyWorkflowCall reports whether w runs only when another workflow
// calls it.
func onlyWorkflowCall(w *ciconfig.Workflow) bool {
	for _, e := range w.On {
		if e.Name.Value != "workflow_call" {
			return false
		}
	}
	return len(w.On) > 0
}
