package scan

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/buildwall/buildwall/internal/cicheck"
	"github.com/buildwall/buildwall/internal/config"
	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/lockcheck"
	"github.com/buildwall/buildwall/internal/spelling"
	"github.com/buildwall/buildwall/internal/trust"
)

var (
	ignoreInvalidRule = finding.Rule{
		ID:       "ignore-invalid",
		Severity: finding.SeverityMedium,
		Summary:  "An inline `# buildwall: ignore[rule-id] reason` comment is malformed, names an unknown rule or gives no reason, so it suppresses nothing.",
		Fix:      "Write `# buildwall: ignore[rule-id] reason` (optionally `until=YYYY-MM-DD` before the reason) with a real rule ID.",
		Help: "An inline ignore suppresses findings of the named rules on its own line and on the line below. " +
			"A reason is required, as in buildwall.yml. gate-weakened can never be ignored.",
	}
	ignoreExpiredRule = finding.Rule{
		ID:       "ignore-expired",
		Severity: finding.SeverityMedium,
		Summary:  "An ignore (buildwall.yml or inline) has passed its `until` date: it no longer suppresses anything.",
		Fix:      "Fix the findings it covered, or review the reason and move the date.",
		Help:     "An ignore with `until: 2027-01-31` applies through that day (UTC). After it, the findings it covered are in force again and this finding points at the ignore.",
	}
	ignoreUnusedRule = finding.Rule{
		ID:       IgnoreUnusedRule,
		Severity: finding.SeverityLow,
		Summary:  "An ignore (buildwall.yml or inline) matched no finding in this scan.",
		Fix:      "Remove the ignore: a stale ignore would silently hide a future finding.",
		Help:     "A buildwall.yml ignore scoped to paths outside the scanned directories is reported too when they are not scanned.",
	}
)

// IgnoreUnusedRule is the ID of the ignore-unused rule.
const IgnoreUnusedRule = "ignore-unused"

// ruleIDs lists the rule IDs an ignore may name.
var ruleIDs = sync.OnceValue(func() []string {
	var ids []string
	for _, r := range slices.Concat(lockcheck.Metadata(), cicheck.Metadata(), trust.Metadata(), Rules()) {
		ids = append(ids, r.ID)
	}
	return ids
})

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// applyConfigIgnores marks the findings buildwall.yml's ignores match
// (gate-weakened excepted) and returns the ignore-expired and
// ignore-unused findings about its entries.
//
// An ignore scoped to paths outside the scanned directories is not called
// unused: that scan did not look where it applies.
func applyConfigIgnores(fs []finding.Finding, cfg *config.Scan, opts *Options) []finding.Finding {
	now := opts.now()
	src := opts.ConfigPath
	if src == "" && opts.Config != nil && opts.Config.Path != "" {
		src = ConfigName(opts.Config.Path, opts.Base)
	}
	if src == "" {
		src = config.FileName
	}
	used := cfg.Suppress(fs, src, now, func(f *finding.Finding) bool { return f.Rule == trust.RuleID })
	var out []finding.Finding
	for i, ig := range cfg.Ignores {
		loc := finding.Location{Path: src, Line: ig.Line, Column: ig.Column}
		switch {
		case config.Expired(ig.Until, now):
			out = append(out, expired(loc, ig.Until))
		case used[i] == 0 && inScope(cfg.Ignores[i].Path, opts):
			out = append(out, unused(loc, "the scan.ignore entry"))
		}
	}
	return out
}

// inScope reports whether the path glob of an ignore ("" for none) can
// match under one of the scanned directories: its literal leading
// segments (before the first wildcard) and a scanned directory, both
// relative to the repository, are one inside the other.
func inScope(glob string, opts *Options) bool {
	if glob == "" {
		return true
	}
	var lit []string
	for _, seg := range strings.Split(glob, "/") {
		if strings.ContainsAny(seg, "*?[{") {
			break
		}
		lit = append(lit, seg)
	}
	prefix := strings.Join(lit, "/")
	for _, p := range opts.Paths {
		rel, ok := RelTo(opts.Base, p)
		if !ok || rel == "." || prefix == "" {
			return true // scanned outside the repository, or everything
		}
		if underSlash(prefix, rel) || underSlash(rel, prefix) {
			return true
		}
	}
	return false
}

// underSlash reports whether slash path a is b or below it.
func underSlash(a, b string) bool {
	return a == b || strings.HasPrefix(a, b+"/")
}

func expired(loc finding.Location, until time.Time) finding.Finding {
	return finding.Finding{
		Rule: ignoreExpiredRule.ID, Severity: ignoreExpiredRule.Severity, Location: loc, Fix: ignoreExpiredRule.Fix,
		Message: fmt.Sprintf("the ignore expired after %s; the findings it covered are in force again", until.Format(time.DateOnly)),
	}
}

func unused(loc finding.Location, what string) finding.Finding {
	return finding.Finding{
		Rule: ignoreUnusedRule.ID, Severity: ignoreUnusedRule.Severity, Location: loc, Fix: ignoreUnusedRule.Fix,
		Message: what + " matched no finding",
	}
}

// inlineSet is the inline ignores of one CI configuration file. Only the
// files people write (workflows, action.yml, Dockerfiles, GitLab CI) carry
// inline ignores: lockfiles are generated from registry data, where a
// tarball URL such as "https://x.example/a.tgz# buildwall: ignore[...]"
// would let a package author silence the findings about the package.
type inlineSet struct {
	path  string // the file, as findings name it
	igs   []config.Inline
	bad   []config.InlineError
	used  []int
	valid []bool // names only known rules and is not expired
	// weakened holds the gate-weakened findings for ignores the trusted
	// revision's copy of the file lacks; those ignores suppress nothing.
	weakened []finding.Finding
	now      time.Time
}

// readInline parses the inline ignores of data, the contents of the file
// at rel (as findings name it) and abs (absolute). It returns nil when
// ignores are off or the file has none, so that files without the marker
// cost one bytes.Index. With opts.Trust, an ignore that the revision's copy
// of the file does not hold (same rules, until and reason) is a
// gate-weakened finding and suppresses nothing: a pull request must not
// silence the gate by adding a comment.
func readInline(rel, abs string, data []byte, opts *Options) *inlineSet {
	if opts.NoIgnores || !bytes.Contains(data, []byte(config.InlineMarker)) {
		return nil
	}
	igs, bad := config.ParseInline(data)
	if len(igs) == 0 && len(bad) == 0 {
		return nil
	}
	s := &inlineSet{path: rel, igs: igs, bad: bad, used: make([]int, len(igs)), valid: make([]bool, len(igs)), now: opts.now()}
	var trusted map[string]bool
	if opts.Trust != nil && len(igs) > 0 {
		trusted = map[string]bool{}
		if r, err := filepath.Rel(opts.Trust.Top, abs); err == nil && filepath.IsLocal(r) {
			if old, err := opts.Trust.ReadFile(filepath.ToSlash(r)); err == nil {
				prev, _ := config.ParseInline(old)
				for i := range prev {
					trusted[prev[i].Key()] = true
				}
			}
		}
	}
	for i := range igs {
		in := &igs[i]
		loc := finding.Location{Path: rel, Line: in.Line, Column: in.Column}
		if msg := checkInlineRules(in.Rules); msg != "" {
			s.bad = append(s.bad, config.InlineError{Line: in.Line, Column: in.Column, Msg: msg})
			continue
		}
		if config.Expired(in.Until, s.now) {
			continue
		}
		if trusted != nil && !trusted[in.Key()] {
			s.weakened = append(s.weakened, trust.Weakened(loc, opts.Trust.Ref,
				fmt.Sprintf("inline ignore of %s that %s does not have", strings.Join(in.Rules, ", "), opts.Trust.Ref)))
			continue
		}
		s.valid[i] = true
	}
	return s
}

func checkInlineRules(rules []string) string {
	for _, r := range rules {
		if strings.EqualFold(r, trust.RuleID) {
			return "an inline ignore cannot name " + trust.RuleID + ": a change that weakens the gate must be reviewed, not ignored"
		}
		if !slices.Contains(ruleIDs(), r) {
			return fmt.Sprintf("inline ignore names unknown rule %q%s", r, spelling.Hint(r, ruleIDs()))
		}
	}
	return ""
}

// mark suppresses f when a valid ignore of the set covers it.
func (s *inlineSet) mark(f *finding.Finding) {
	if f.Suppressed != nil || f.Rule == trust.RuleID || f.Path != s.path {
		return
	}
	for i := range s.igs {
		if s.valid[i] && s.igs[i].Covers(f.Rule, f.Line) {
			f.Suppressed = &finding.Suppression{Kind: finding.SuppressionInSource, Reason: s.igs[i].Reason, Source: fmt.Sprintf("%s:%d", s.path, s.igs[i].Line)}
			s.used[i]++
			return
		}
	}
}

// findings returns the findings about the set's ignores: malformed,
// expired, unused, and gate-weakened ones.
func (s *inlineSet) findings() []finding.Finding {
	out := slices.Clone(s.weakened)
	for _, b := range s.bad {
		out = append(out, finding.Finding{
			Rule: ignoreInvalidRule.ID, Severity: ignoreInvalidRule.Severity, Fix: ignoreInvalidRule.Fix,
			Location: finding.Location{Path: s.path, Line: b.Line, Column: b.Column},
			Message:  b.Msg + "; it suppresses nothing",
		})
	}
	for i := range s.igs {
		in := &s.igs[i]
		loc := finding.Location{Path: s.path, Line: in.Line, Column: in.Column}
		switch {
		case config.Expired(in.Until, s.now) && checkInlineRules(in.Rules) == "":
			out = append(out, expired(loc, in.Until))
		case s.valid[i] && s.used[i] == 0:
			out = append(out, unused(loc, "the inline ignore of "+strings.Join(in.Rules, ", ")))
		}
	}
	return out
}
