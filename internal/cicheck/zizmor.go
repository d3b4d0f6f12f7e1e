package cicheck

import (
	"bytes"
	"strings"

	"github.com/buildwall/buildwall/internal/ciconfig"
	"github.com/buildwall/buildwall/internal/finding"
)

// InlineIgnore is one rule that an ignore comment in a CI file turns off
// for the line it is on.
type InlineIgnore struct {
	// Rule is buildwall's rule ID.
	Rule string
	// Reason is the comment's text after the rule list ("" when none).
	Reason string
	// Source names the comment's syntax and rule as written, e.g.
	// "zizmor: ignore[template-injection]".
	Source string
}

// zizmorRules maps zizmor's audit names to the buildwall rules that find
// the same problem. Audits without an equivalent are left out: an ignore
// of one of them ignores nothing here.
var zizmorRules = map[string]string{
	"template-injection":       "template-injection",
	"unpinned-uses":            "unpinned-action",
	"unpinned-images":          "unpinned-image",
	"excessive-permissions":    "excessive-permissions",
	"dangerous-triggers":       "dangerous-trigger",
	"artipacked":               "credential-persistence",
	"cache-poisoning":          "cache-in-release",
	"secrets-inherit":          "secrets-inherit",
	"self-hosted-runner":       "self-hosted-on-pr",
	"known-vulnerable-actions": "known-compromised-action",
}

// ZizmorIgnores returns the buildwall rules that a zizmor ignore comment
// on line (one line of a workflow or action file, without its newline)
// turns off, in the order written, with the comment's reason:
//
//	run: echo "${{ inputs.x }}" # zizmor: ignore[template-injection] trusted input
//
// gives {template-injection, "trusted input"}. Several rules may be listed
// (ignore[a, b]); names without an equivalent are skipped. The comment
// must start with '#' that is not inside a quoted scalar, else the line
// holds none (a script that prints "# zizmor: ignore[...]" ignores nothing).
func ZizmorIgnores(line string) []InlineIgnore {
	i := commentStart(line)
	if i < 0 {
		return nil
	}
	c := strings.TrimSpace(line[i+1:])
	rest, ok := strings.CutPrefix(c, "zizmor:")
	if !ok {
		return nil
	}
	rest, ok = strings.CutPrefix(strings.TrimSpace(rest), "ignore[")
	if !ok {
		return nil
	}
	list, reason, ok := strings.Cut(rest, "]")
	if !ok {
		return nil
	}
	reason = strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(reason), ":-—"))
	var out []InlineIgnore
	for _, name := range strings.Split(list, ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		if rule, ok := zizmorRules[name]; ok {
			out = append(out, InlineIgnore{Rule: rule, Reason: reason, Source: "zizmor: ignore[" + name + "]"})
		}
	}
	return out
}

// commentStart returns the offset of the '#' that starts a YAML comment on
// line, or -1: a '#' at the start of the line or after white space,
// outside single- and double-quoted text.
func commentStart(line string) int {
	var quote byte
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote == '"' && c == '\\':
			i++
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			if i == 0 || line[i-1] == ' ' || line[i-1] == '\t' || line[i-1] == ':' || line[i-1] == '[' || line[i-1] == ',' || line[i-1] == '-' {
				quote = c
			}
		case c == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
			return i
		}
	}
	return -1
}

// SplitInlineIgnored splits the findings of one CI file (src) into those
// that no zizmor ignore comment on the finding's line turns off and those
// that one does, with the ignore that matched each. It costs one search
// when src has no "zizmor:".
//
// It is not applied by the scan yet: a comment in the file under review
// would let the pull request that adds an injection also silence it, so
// it must go through the same base-revision trust check as configuration
// ignores (see package scan's trust handling) before it suppresses
// anything.
func SplitInlineIgnored(src []byte, fs []finding.Finding) (kept []finding.Finding, ignored []IgnoredFinding) {
	if !bytes.Contains(src, []byte("zizmor:")) {
		return fs, nil
	}
	s := ciconfig.NewSource(src)
	byLine := map[int][]InlineIgnore{}
	for _, f := range fs {
		if _, done := byLine[f.Line]; done || f.Line <= 0 {
			continue
		}
		start, end := s.Offset(ciconfig.Pos{Line: f.Line, Column: 1}), len(src)
		if start < 0 {
			byLine[f.Line] = nil
			continue
		}
		if j := bytes.IndexByte(src[start:], '\n'); j >= 0 {
			end = start + j
		}
		byLine[f.Line] = ZizmorIgnores(strings.TrimSuffix(string(src[start:end]), "\r"))
	}
	for _, f := range fs {
		matched := false
		for _, ig := range byLine[f.Line] {
			if ig.Rule == f.Rule {
				ignored = append(ignored, IgnoredFinding{Finding: f, Ignore: ig})
				matched = true
				break
			}
		}
		if !matched {
			kept = append(kept, f)
		}
	}
	return kept, ignored
}

// IgnoredFinding is a finding that an inline ignore comment turns off.
type IgnoredFinding struct {
	finding.Finding
	Ignore InlineIgnore
}
