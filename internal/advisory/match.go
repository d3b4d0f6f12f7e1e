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
	cmp := comparerFor(eco)
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
	for _, v := range a.Versions {
		if v == version || cmp.equal(v, version) {
			return true
		}
	}
	for i := range a.Ranges {
		if rangeAffects(cmp, &a.Ranges[i], version) {
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

// comparer orders the versions of one ecosystem. compare returns ok=false
// when either string is not a version of that ecosystem. loose means two
// spellings of one version are the same release ("1.0" and "1.0.0" in
// PyPI); in semver ecosystems they are different published versions.
type comparer struct {
	compare func(a, b string) (c int, ok bool)
	loose   bool
}

// equal reports whether a and b name the same release.
func (c comparer) equal(a, b string) bool {
	if !c.loose {
		return false
	}
	r, ok := c.compare(a, b)
	return ok && r == 0
}

func comparerFor(eco string) comparer {
	if eco == EcosystemPyPI {
		return comparer{compare: comparePEP440, loose: true}
	}
	return comparer{compare: compareSemver}
}

func compareSemver(a, b string) (int, bool) {
	va, err := semver.NewVersion(a)
	if err != nil {
		return 0, false
	}
	vb, err := semver.NewVersion(b)
	if err != nil {
		return 0, false
	}
	return va.Compare(vb), true
}

// rangeAffects evaluates one range as the OSV schema describes: events
// sorted by version, "introduced" switches affected on, "fixed" (at or
// after) and "last_affected" (after) switch it off; with "limit" events the
// version must lie below one of them.
func rangeAffects(cmp comparer, g *Range, version string) bool {
	if g.Type != "ECOSYSTEM" && g.Type != "SEMVER" {
		return false
	}
	if everyVersion(g) {
		return true
	}
	type ev struct {
		kind eventKind
		v    string
	}
	evs := make([]ev, 0, len(g.Events))
	for _, e := range g.Events {
		k, v := e.kind()
		if k == eventNone {
			return false
		}
		if !(k == eventIntroduced && v == "0") {
			if _, ok := cmp.compare(v, v); !ok {
				return false // an event we cannot order: do not guess
			}
		}
		evs = append(evs, ev{k, v})
	}
	if _, ok := cmp.compare(version, version); !ok {
		return false
	}
	compareTo := func(e ev) int {
		if e.kind == eventIntroduced && e.v == "0" {
			return 1 // every version is at or after "0"
		}
		c, _ := cmp.compare(version, e.v)
		return c
	}
	slices.SortStableFunc(evs, func(a, b ev) int {
		az, bz := a.kind == eventIntroduced && a.v == "0", b.kind == eventIntroduced && b.v == "0"
		switch {
		case az && bz:
			return 0
		case az:
			return -1
		case bz:
			return 1
		}
		c, _ := cmp.compare(a.v, b.v)
		return c
	})
	affected, limited, belowLimit := false, false, false
	for _, e := range evs {
		c := compareTo(e)
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
