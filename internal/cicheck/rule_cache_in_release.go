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
		"npm/yarn/pnpm publish, docker push, goreleaser, twine upload, gh release create and the like.",
}

var cacheInRelease = Rule{Rule: cacheInReleaseRule, Workflow: checkCacheInRelease}

func checkCacheInRelease(c *Context, w *ciconfig.Workflow, report func(finding.Finding)) {
	why := ""
	if w.Trigger("release") != nil {
		why = "the workflow runs on release"
	} else if e := w.Trigger("push"); e != nil && len(e.Tags) > 0 {
		why = "the workflow runs on tag pushes"
	}
	for _, j := range w.Jobs {
		jobWhy := why
		if jobWhy == "" {
			if s, what := publishStep(j); s != nil {
				jobWhy = "job " + j.ID.Value + " publishes (" + what + ")"
			}
		}
		if jobWhy == "" {
			continue
		}
		for _, s := range j.Steps {
			if p, what := restoresCache(s); p != nil {
				report(c.at(&cacheInReleaseRule, *p,
					jobWhy+" but job "+j.ID.Value+" restores a cache ("+what+") that other workflows on the default branch can write, so a poisoned entry ends up in the release",
					"Remove cache restores from this job ("+cacheFix(s)+"); build releases from a clean state."))
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
		if name == "docker/build-push-action" && strings.EqualFold(strings.TrimSpace(inputValue(s, "push")), "true") {
			return s, "docker/build-push-action with push: true"
		}
	}
	return nil, ""
}

// restoresCache reports whether s restores a GitHub Actions cache, with
// the position to report (the deciding input, or the uses: value).
func restoresCache(s *ciconfig.Step) (*ciconfig.Pos, string) {
	name := actionName(s)
	if name == "" {
		return nil, ""
	}
	at := func(input string) *ciconfig.Pos {
		if p := s.Input(input); p != nil && p.Value != nil {
			return &p.Value.Pos
		}
		return &s.Uses.Pos
	}
	on := func(input string) bool {
		v := strings.ToLower(strings.TrimSpace(inputValue(s, input)))
		return v != "" && v != "false"
	}
	switch name {
	case "actions/cache", "actions/cache/restore":
		return &s.Uses.Pos, name
	case "swatinem/rust-cache", "mozilla-actions/sccache-action":
		return &s.Uses.Pos, name
	case "actions/setup-node", "actions/setup-python", "actions/setup-java", "actions/setup-dotnet":
		if on("cache") {
			return at("cache"), name + " with cache: " + inputValue(s, "cache")
		}
	case "actions/setup-go":
		// cache defaults to true since v4.
		if v := strings.ToLower(strings.TrimSpace(inputValue(s, "cache"))); v != "false" {
			return at("cache"), name + " (caches by default)"
		}
	case "ruby/setup-ruby":
		if on("bundler-cache") {
			return at("bundler-cache"), name + " with bundler-cache"
		}
	case "astral-sh/setup-uv":
		if on("enable-cache") {
			return at("enable-cache"), name + " with enable-cache"
		}
	case "gradle/actions/setup-gradle":
		if !on("cache-disabled") {
			return &s.Uses.Pos, name + " (caches by default)"
		}
	case "docker/build-push-action", "docker/bake-action":
		if v := inputValue(s, "cache-from"); strings.Contains(v, "type=gha") {
			return at("cache-from"), name + " with cache-from type=gha"
		}
	case "pyo3/maturin-action":
		if on("sccache") {
			return at("sccache"), name + " with sccache"
		}
	case "ramsey/composer-install":
		switch strings.ToLower(strings.TrimSpace(inputValue(s, "ignore-cache"))) {
		case "true", "yes", "1":
		default:
			return at("ignore-cache"), name + " (caches by default)"
		}
	case "jdx/mise-action":
		if v := strings.ToLower(strings.TrimSpace(inputValue(s, "cache"))); v != "false" {
			return at("cache"), name + " (caches by default)"
		}
	case "determinatesystems/magic-nix-cache-action", "nix-community/cache-nix-action":
		return &s.Uses.Pos, name
	}
	return nil, ""
}

func cacheFix(s *ciconfig.Step) string {
	switch name := actionName(s); name {
	case "actions/setup-go", "actions/setup-node", "actions/setup-python", "actions/setup-java", "actions/setup-dotnet":
		return "set `cache: false` on " + name
	case "ruby/setup-ruby":
		return "drop `bundler-cache: true`"
	case "astral-sh/setup-uv":
		return "set `enable-cache: false`"
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
