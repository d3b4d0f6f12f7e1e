package cicheck

import (
	"strings"

	"github.com/buildwall/buildwall/internal/ciconfig"
	"github.com/buildwall/buildwall/internal/finding"
)

var cacheInReleaseRule = finding.Rule{
	ID:       "cache-in-release",
	Severity: finding.SeverityMedium,
	Summary:  "A workflow that publishes (release, tag push, package publish) restores a GitHub Actions cache that less trusted workflows can write.",
	Fix:      "Do not restore caches in release jobs (set cache: false / drop actions/cache); build releases from a clean state.",
	Help: "Caches are shared by every workflow that runs on the default branch, including ones triggered by pull_request_target, issue comments " +
		"or a compromised dependency of any test job. An attacker who can run code in any of them can plant a cache entry (\"cache poisoning\", as in the 2024 " +
		"Ultralytics release) that the release job restores and ships. A release is published from a tag or release event, or by a job that runs " +
		"npm/yarn/pnpm publish, docker push, goreleaser, twine upload, gh release create and the like. " +
		"Actions that cache by default count (actions/setup-go, actions/setup-node v5+ when package.json names npm as its package manager and the job sets up no other one, reported as low, " +
		"astral-sh/setup-uv with enable-cache auto on GitHub-hosted runners, docker/setup-buildx-action's cache-binary, ...); actions/cache with " +
		"lookup-only: true, and caching turned off on tag and release runs by an expression or by the step's if:, do not. The finding is at the step's uses:.",
}

var cacheInRelease = Rule{Rule: cacheInReleaseRule, Workflow: checkCacheInRelease}

func checkCacheInRelease(c *Context, w *ciconfig.Workflow, report func(finding.Finding)) {
	why := ""
	if w.Trigger("release") != nil {
		why = "the workflow runs on release"
	} else if e := w.Trigger("push"); e != nil && len(e.Tags) > 0 {
		why = "the workflow runs on tag pushes"
	}
	// A job of a tag push that only lints or tests releases nothing: the
	// trigger counts for the jobs that can publish (see jobPublishes).
	tagOnly := why != "" && w.Trigger("release") == nil
	for _, j := range w.Jobs {
		jobWhy := why
		if tagOnly && !jobPublishes(w, j) {
			jobWhy = ""
		}
		if jobWhy == "" {
			if s, what := publishStep(j); s != nil {
				jobWhy = "job " + j.ID.Value + " publishes (" + what + ")"
			}
		}
		if jobWhy == "" {
			continue
		}
		for _, s := range j.Steps {
			if offOnReleases(s.If) {
				continue // the step does not run on tag or release runs
			}
			if what, sev := restoresCache(w.Source, j, s); what != "" {
				f := c.at(&cacheInReleaseRule, s.Uses.Pos,
					jobWhy+" but job "+j.ID.Value+" restores a cache ("+what+") that other workflows on the default branch can write, so a poisoned entry ends up in the release",
					"Remove cache restores from this job ("+cacheFix(s)+"); build releases from a clean state.")
				if sev != 0 {
					f.Severity = sev
				}
				report(f)
			}
		}
	}
}

var publishCommands = []string{
	"npm publish", "yarn publish", "yarn npm publish", "pnpm publish", "docker push", "twine upload", "gh release create", "gh release upload",
	"cargo publish", "gem push", "poetry publish", "uv publish", "flit publish", "hatch publish", "mvn deploy", "gradle publish", "gradlew publish",
	"nuget push", "goreleaser", "semantic-release", "vsce publish", "ovsx publish", "helm push", "lerna publish", "changeset publish",
}

var publishActions = []string{
	"softprops/action-gh-release", "ncipollo/release-action", "actions/create-release", "goreleaser/goreleaser-action",
	"pypa/gh-action-pypi-publish", "js-devtools/npm-publish", "changesets/action", "svenstaro/upload-release-action",
	"cycjimmy/semantic-release-action", "katyo/publish-crates", "haaleo/publish-vscode-extension",
}

// publishAnchors are words of which every publish command contains one;
// publishCommand looks for commands only around them.
var publishAnchors = []string{"publish", "push", "upload", "release", "deploy", "goreleaser"}

// publishCommand returns the first of publishCommands (in list order) that
// script contains, or "". It visits each occurrence of each anchor once
// and compares only the commands built around that anchor, instead of
// searching the script for every command.
func publishCommand(script string) string {
	best := len(publishCommands)
	for ai, anchor := range publishAnchors {
		for at := 0; ; {
			i := strings.Index(script[at:], anchor)
			if i < 0 {
				break
			}
			i += at
			at = i + 1
			for _, pc := range publishByAnchor[ai] {
				if pc.index < best && i >= pc.offset && strings.HasPrefix(script[i-pc.offset:], publishCommands[pc.index]) {
					best = pc.index
				}
			}
		}
	}
	if best == len(publishCommands) {
		return ""
	}
	return publishCommands[best]
}

// anchored is one publish command seen from one anchor: its index in
// publishCommands and the anchor's offset inside it.
type anchored struct{ index, offset int }

// publishByAnchor lists, per publishAnchors entry, the commands that
// contain it.
var publishByAnchor = func() [][]anchored {
	out := make([][]anchored, len(publishAnchors))
	for ci, c := range publishCommands {
		for ai, a := range publishAnchors {
			for off := 0; ; {
				k := strings.Index(c[off:], a)
				if k < 0 {
					break
				}
				out[ai] = append(out[ai], anchored{index: ci, offset: off + k})
				off += k + 1
			}
		}
	}
	return out
}()

// jobPublishes reports whether job j of w publishes or can: it has a
// publish step, uploads an artifact, hands a secret to a script, calls a
// reusable workflow, is named for releasing, or its token (or the
// workflow's, or the default one when neither sets permissions) can write
// contents or packages or mint an OIDC token.
func jobPublishes(w *ciconfig.Workflow, j *ciconfig.Job) bool {
	if s, _ := publishStep(j); s != nil || j.Uses != nil {
		return true
	}
	id := strings.ToLower(j.ID.Value)
	if strings.Contains(id, "release") || strings.Contains(id, "publish") || strings.Contains(id, "deploy") {
		return true
	}
	for _, s := range j.Steps {
		if actionName(s) == "actions/upload-artifact" || usesSecrets(s) {
			return true
		}
	}
	p := j.Permissions
	if p == nil {
		p = w.Permissions
	}
	return p == nil || canPublish(p)
}

// usesSecrets reports whether script step s is given a secret (a
// credential to publish with, by whatever command).
// Actions' inputs are not counted: the actions that publish are listed in
// publishActions, and a secret given to a reporting action (coverage
// upload) publishes nothing built.
func usesSecrets(s *ciconfig.Step) bool {
	if s.Run == nil {
		return false
	}
	if strings.Contains(s.Run.Value, "secrets.") {
		return true
	}
	for _, p := range s.Env {
		if p.Value != nil && strings.Contains(p.Value.Value, "secrets.") {
			return true
		}
	}
	return false
}

// canPublish reports whether permissions p can write contents or packages
// or mint an OIDC token.
func canPublish(p *ciconfig.Permissions) bool {
	if p.All != nil {
		return strings.EqualFold(strings.TrimSpace(p.All.Value), "write-all")
	}
	for _, sc := range p.Scopes {
		switch sc.Name.Value {
		case "contents", "packages", "id-token", "attestations":
			if sc.Value != nil && strings.EqualFold(strings.TrimSpace(sc.Value.Value), "write") {
				return true
			}
		}
	}
	return false
}

// publishStep returns the first step of j that publishes, and what.
func publishStep(j *ciconfig.Job) (*ciconfig.Step, string) {
	for _, s := range j.Steps {
		if s.Run != nil {
			if p := publishCommand(s.Run.Value); p != "" {
				return s, p
			}
			continue
		}
		name := actionName(s)
		for _, a := range publishActions {
			if name == a {
				return s, a
			}
		}
		if name == "docker/build-push-action" || name == "docker/bake-action" {
			// push: true, or an expression that is true on some runs
			// (push: ${{ github.event_name == 'push' }}).
			if v := strings.TrimSpace(inputValue(s, "push")); strings.EqualFold(v, "true") || strings.Contains(v, "${{") {
				return s, name + " with push: " + v
			}
		}
	}
	return nil, ""
}

// restoresCache reports whether s restores a GitHub Actions cache in a
// release run of job j, and what; sev is 0 for the rule's severity or a
// lower one when the cache depends on what the file does not show.
func restoresCache(src *ciconfig.Source, j *ciconfig.Job, s *ciconfig.Step) (what string, sev finding.Severity) {
	name := actionName(s)
	if name == "" {
		return "", 0
	}
	// on: the input is set to something other than false and is not
	// turned off on tag or release runs by an expression.
	on := func(input string) bool {
		v := strings.ToLower(strings.TrimSpace(inputValue(s, input)))
		return v != "" && v != "false" && !exprOffOnReleases(v)
	}
	// off: the input is false, or an expression that is false on tag or
	// release runs.
	off := func(input string) bool {
		v := strings.ToLower(strings.TrimSpace(inputValue(s, input)))
		return v == "false" || exprOffOnReleases(v)
	}
	switch name {
	case "actions/cache":
		if on("lookup-only") {
			return "", 0 // checks for an entry, restores nothing
		}
		return name, 0
	case "actions/cache/restore":
		return name, 0
	case "swatinem/rust-cache", "mozilla-actions/sccache-action":
		return name, 0
	case "actions/setup-python", "actions/setup-java", "actions/setup-dotnet":
		if on("cache") {
			return name + " with cache: " + inputValue(s, "cache"), 0
		}
	case "actions/setup-node":
		if on("cache") {
			return name + " with cache: " + inputValue(s, "cache"), 0
		}
		// v5 caches npm's store on its own when package.json names npm
		// as its package manager, unless package-manager-cache: false;
		// a job that sets up pnpm, yarn or bun does not use npm's.
		if inputValue(s, "cache") == "" && !off("package-manager-cache") && actionMajor(src, s) >= 5 && !otherPackageManager(j) {
			return name + " v5+ (caches npm's store by default when package.json names npm as its package manager)", finding.SeverityLow
		}
	case "actions/setup-go":
		// cache defaults to true since v4.
		if !off("cache") {
			return name + " (caches by default)", 0
		}
	case "ruby/setup-ruby":
		if on("bundler-cache") {
			return name + " with bundler-cache", 0
		}
	case "astral-sh/setup-uv":
		// enable-cache defaults to auto since v6: on for GitHub-hosted
		// runners, off for self-hosted ones.
		v := strings.ToLower(strings.TrimSpace(inputValue(s, "enable-cache")))
		switch {
		case off("enable-cache"):
		case v == "" || v == "auto":
			if selfHosted(j) || (v == "" && actionMajor(src, s) < 6 && actionMajor(src, s) >= 0) {
				break
			}
			return name + " (enable-cache: auto caches on GitHub-hosted runners)", 0
		default:
			return name + " with enable-cache", 0
		}
	case "docker/setup-buildx-action":
		// cache-binary (default true) keeps the buildx binary in the
		// Actions cache.
		if !off("cache-binary") {
			return name + " (caches the buildx binary by default)", 0
		}
	case "gradle/actions/setup-gradle":
		if !on("cache-disabled") {
			return name + " (caches by default)", 0
		}
	case "docker/build-push-action", "docker/bake-action":
		if v := inputValue(s, "cache-from"); strings.Contains(v, "type=gha") && !exprOffOnReleases(strings.ToLower(v)) {
			return name + " with cache-from type=gha", 0
		}
	case "pyo3/maturin-action":
		if on("sccache") {
			return name + " with sccache", 0
		}
	case "ramsey/composer-install":
		switch strings.ToLower(strings.TrimSpace(inputValue(s, "ignore-cache"))) {
		case "true", "yes", "1":
		default:
			return name + " (caches by default)", 0
		}
	case "jdx/mise-action":
		if !off("cache") {
			return name + " (caches by default)", 0
		}
	case "determinatesystems/magic-nix-cache-action", "nix-community/cache-nix-action":
		return name, 0
	}
	return "", 0
}

// otherPackageManager reports whether job j sets up or runs pnpm, yarn or
// bun, which setup-node's automatic (npm-only) caching does not cover.
func otherPackageManager(j *ciconfig.Job) bool {
	for _, s := range j.Steps {
		switch name := actionName(s); {
		case strings.HasPrefix(name, "pnpm/action-setup"), name == "oven-sh/setup-bun":
			return true
		}
		if s.Run != nil && (containsWord(s.Run.Value, "pnpm") || containsWord(s.Run.Value, "yarn") || containsWord(s.Run.Value, "bun")) {
			return true
		}
	}
	return false
}

// exprOffOnReleases reports whether v (lower case) is an expression that
// is false on tag and release runs: it tests github.ref / github.ref_name
// / github.ref_type / github.event_name against tags or releases, negated
// or compared with !=, e.g. ${{ !startsWith(github.ref, 'refs/tags/') }}
// or ${{ github.event_name != 'release' }}.
func exprOffOnReleases(v string) bool {
	if !strings.Contains(v, "${{") {
		return false
	}
	v = strings.ToLower(v)
	mentions := strings.Contains(v, "refs/tags") || strings.Contains(v, "ref_type") ||
		(strings.Contains(v, "event_name") && (strings.Contains(v, "'release'") || strings.Contains(v, "'push'")))
	if !mentions {
		return false
	}
	return strings.Contains(v, "!startswith") || strings.Contains(v, "! startswith") ||
		strings.Contains(v, "!=") || strings.Contains(v, "!contains")
}

// offOnReleases reports whether a step's if: keeps it from running on tag
// and release runs (the same test as exprOffOnReleases, with or without
// ${{ }}).
func offOnReleases(cond *ciconfig.String) bool {
	if cond == nil {
		return false
	}
	v := strings.TrimSpace(cond.Value)
	if !strings.Contains(v, "${{") {
		v = "${{ " + v + " }}"
	}
	return exprOffOnReleases(v)
}

// selfHosted reports whether job j runs on a self-hosted runner label.
func selfHosted(j *ciconfig.Job) bool {
	if j.RunsOn == nil {
		return false
	}
	for _, l := range j.RunsOn.Labels {
		if strings.EqualFold(strings.TrimSpace(l.Value), "self-hosted") {
			return true
		}
	}
	return false
}

// actionMajor returns the major version of a step's action from its ref
// (v5, v5.1.0) or, for a SHA pin, from its trailing comment (# v5.0.0);
// -1 when unknown.
func actionMajor(src *ciconfig.Source, s *ciconfig.Step) int {
	u := ciconfig.ParseUses(s.Uses.Value)
	ref := u.Ref
	if ciconfig.IsCommitSHA(ref) {
		comment, ok := src.TrailingComment(s.Uses)
		if !ok {
			return -1
		}
		ref = strings.Fields(comment + " ")[0]
	}
	ref = strings.TrimPrefix(strings.TrimPrefix(ref, "v"), "V")
	n, i := 0, 0
	for ; i < len(ref) && '0' <= ref[i] && ref[i] <= '9' && i < 4; i++ {
		n = n*10 + int(ref[i]-'0')
	}
	if i == 0 {
		return -1
	}
	return n
}

func cacheFix(s *ciconfig.Step) string {
	switch name := actionName(s); name {
	case "actions/setup-node":
		return "set `cache: false` and `package-manager-cache: false` on " + name
	case "actions/setup-go", "actions/setup-python", "actions/setup-java", "actions/setup-dotnet":
		return "set `cache: false` on " + name
	case "ruby/setup-ruby":
		return "drop `bundler-cache: true`"
	case "astral-sh/setup-uv":
		return "set `enable-cache: false`"
	case "docker/setup-buildx-action":
		return "set `cache-binary: false`"
	case "gradle/actions/setup-gradle":
		return "set `cache-disabled: true`"
	case "docker/build-push-action", "docker/bake-action":
		return "drop `cache-from: type=gha`"
	case "pyo3/maturin-action":
		return "drop `sccache: true`"
	case "ramsey/composer-install":
		return "set `ignore-cache: true`"
	case "jdx/mise-action":
		return "set `cache: false`"
	default:
		return "drop the " + name + " step"
	}
}
