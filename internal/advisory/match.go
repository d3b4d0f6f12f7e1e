package advisory

import (
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// Ecosystem names as OSV spells them.
const (
	EcosystemNPM           = "npm"
	EcosystemPyPI          = "PyPI"
	EcosystemGitHubActions = "GitHub Actions"
	EcosystemGo            = "Go"
	EcosystemCratesIO      = "crates.io"
)

var knownEcosystems = []string{
	EcosystemNPM, EcosystemPyPI, EcosystemGitHubActions, EcosystemGo, EcosystemCratesIO,
	"RubyGems", "Maven", "NuGet", "Packagist", "Pub", "Hex", "Hackage", "CRAN", "SwiftURL",
}

// CanonicalEcosystem returns OSV's spelling of an ecosystem name given in
// any case ("pypi" → "PyPI"); unknown names come back unchanged.
func CanonicalEcosystem(eco string) string {
	switch eco { // the common, already canonical case costs no folding
	case EcosystemNPM, EcosystemPyPI, EcosystemGitHubActions, EcosystemGo, EcosystemCratesIO:
		return eco
	}
	for _, k := range knownEcosystems {
		if strings.EqualFold(k, eco) {
			return k
		}
	}
	return eco
}

// NormalizeName returns the form of name that lookups compare: PyPI names
// are normalised as PEP 503 says (lowercase, runs of "-", "_" and "." become
// one "-"); GitHub Actions names ("owner/repo[/path]") compare
// case-insensitively; npm and every other ecosystem compare exactly.
func NormalizeName(ecosystem, name string) string {
	switch CanonicalEcosystem(ecosystem) {
	case EcosystemPyPI:
		return pep503(name)
	case EcosystemGitHubActions:
		return strings.ToLower(name)
	}
	return name
}

func pep503(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	sep := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '-' || c == '_' || c == '.' {
			sep = true
			continue
		}
		if sep && b.Len() > 0 {
			b.WriteByte('-')
		}
		sep = false
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

// affects reports whether version of a's package is affected: listed in
// Versions, or inside one of the ECOSYSTEM/SEMVER ranges. GIT ranges need
// the repository's history and are not evaluated.
func affects(eco string, a *Affected, version string) bool {
	if eco == EcosystemGitHubActions && isCommitSHA(version) {
		// A commit is not a release: it can only be listed. Ranges over an
		// action's tags say nothing about a SHA pin.
		for _, v := range a.Versions {
			if strings.EqualFold(v, version) {
				return true
			}
		}
		return false
	}
	c := comparerFor(eco)
	q := query{c: c, raw: version}
	for _, v := range a.Versions {
		if v == version || (c.loose && q.equal(v)) {
			return true
		}
	}
	for i := range a.Ranges {
		if rangeAffects(&q, &a.Ranges[i]) {
			return true
		}
	}
	return false
}

func isCommitSHA(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// comparer orders the versions of one ecosystem. parse returns ok=false
// for a string that is not a version of that ecosystem. loose means two
// spellings of one version are the same release ("1.0" and "1.0.0" in
// PyPI); in semver ecosystems they are different published versions.
type comparer struct {
	parse   func(string) (any, bool)
	compare func(a, b any) int
	loose   bool
}

var (
	semverComparer = comparer{
		parse: func(s string) (any, bool) {
			v, err := semver.NewVersion(s)
			return v, err == nil
		},
		compare: func(a, b any) int { return a.(*semver.Version).Compare(b.(*semver.Version)) },
	}
	pep440Comparer = comparer{
		parse: func(s string) (any, bool) {
			v, ok := parsePEP440(s)
			return v, ok
		},
		compare: func(a, b any) int { return a.(pep440).compare(b.(pep440)) },
		loose:   true,
	}
)

func comparerFor(eco string) comparer {
	if eco == EcosystemPyPI {
		return pep440Comparer
	}
	return semverComparer
}

// query is the version being looked up, parsed at most once.
type query struct {
	c      comparer
	raw    string
	parsed any
	state  int // 0 not parsed yet, 1 parsed, -1 not a version
}

func (q *query) version() (any, bool) {
	if q.state == 0 {
		q.state = -1
		if v, ok := q.c.parse(q.raw); ok {
			q.parsed, q.state = v, 1
		}
	}
	return q.parsed, q.state == 1
}

func (q *query) equal(s string) bool {
	v, ok := q.version()
	if !ok {
		return false
	}
	w, ok := q.c.parse(s)
	return ok && q.c.compare(v, w) == 0
}

// rangeAffects evaluates one range as the OSV schema describes: events
// sorted by version, "introduced" switches affected on, "fixed" (at or
// after) and "last_affected" (after) switch it off; with "limit" events the
// version must lie below one of them. A range holding an event the
// ecosystem cannot order never matches: buildwall does not guess.
func rangeAffects(q *query, g *Range) bool {
	if g.Type != "ECOSYSTEM" && g.Type != "SEMVER" {
		return false
	}
	if everyVersion(g) {
		return true
	}
	v, ok := q.version()
	if !ok {
		return false
	}
	type ev struct {
		kind eventKind
		zero bool // introduced "0": before every version
		v    any
	}
	evs := make([]ev, 0, len(g.Events))
	for _, e := range g.Events {
		k, s := e.kind()
		if k == eventIntroduced && s == "0" {
			evs = append(evs, ev{kind: k, zero: true})
			continue
		}
		pv, ok := q.c.parse(s)
		if !ok {
			return false
		}
		evs = append(evs, ev{kind: k, v: pv})
	}
	slices.SortStableFunc(evs, func(a, b ev) int {
		switch {
		case a.zero && b.zero:
			return 0
		case a.zero:
			return -1
		case b.zero:
			return 1
		}
		return q.c.compare(a.v, b.v)
	})
	affected, limited, belowLimit := false, false, false
	for _, e := range evs {
		c := 1 // every version is after introduced "0"
		if !e.zero {
			c = q.c.compare(v, e.v)
		}
		switch e.kind {
		case eventIntroduced:
			if c >= 0 {
				affected = true
			}
		case eventFixed:
			if c >= 0 {
				affected = false
			}
		case eventLastAffected:
			if c > 0 {
				affected = false
			}
		case eventLimit:
			limited = true
			if c < 0 {
				belowLimit = true
			}
		}
	}
	return affected && (!limited || belowLimit)
}

// everyVersion reports whether g is the whole-package form: only
// introduced "0" events. Such a range matches any version string, even one
// the ecosystem cannot parse.
func everyVersion(g *Range) bool {
	if len(g.Events) == 0 {
		return false
	}
	for _, e := range g.Events {
		if k, v := e.kind(); k != eventIntroduced || v != "0" {
			return false
		}
	}
	return true
}
