package lockcheck

import (
	"strings"

	"github.com/Masterminds/semver/v3"
)

// ranges caches parsed npm ranges by spec; nil entries mark specs that are
// not semver ranges (tags, git, file:, npm: aliases, ...). Not safe for
// concurrent use: each Context builds its own.
type ranges map[string]*semver.Constraints

// satisfies reports whether version is inside the npm range spec. checked
// is false when spec or version is not semver (dist-tags such as "latest",
// git/file/workspace/npm: specs, link versions): only presence can be
// checked then.
func (r ranges) satisfies(spec, version string) (ok, checked bool) {
	spec = strings.TrimSpace(spec)
	if spec == "" || spec == "*" || spec == "x" || spec == "X" {
		return true, true
	}
	c, seen := r[spec]
	if !seen {
		c = parseRange(spec)
		r[spec] = c
	}
	if c == nil {
		return false, false
	}
	if i := strings.IndexByte(version, '('); i >= 0 { // pnpm peer suffix
		version = version[:i]
	}
	v, err := semver.StrictNewVersion(strings.TrimPrefix(version, "v"))
	if err != nil {
		return false, false
	}
	return c.Check(v), true
}

// parseRange parses an npm range into Masterminds constraints, or returns
// nil when spec is not a range.
func parseRange(spec string) *semver.Constraints {
	if !isRangeSpec(spec) {
		return nil
	}
	c, err := semver.NewConstraint(spec)
	if err != nil {
		return nil
	}
	return c
}

// isRangeSpec rejects specs that are not version ranges before they reach
// the semver parser: protocols (npm:, workspace:, file:, link:, git+...,
// github:, http:, catalog:, patch:), paths and GitHub shorthands.
func isRangeSpec(spec string) bool {
	if strings.ContainsAny(spec, ":/") || strings.HasPrefix(spec, ".") || strings.HasPrefix(spec, "~/") {
		return false
	}
	// A range starts with an operator, a digit, "v", "x" or "*"; dist-tags
	// ("latest", "next", "beta") start with other letters.
	switch c := spec[0]; {
	case c >= '0' && c <= '9', c == '^', c == '~', c == '>', c == '<', c == '=', c == '*', c == 'x', c == 'X', c == 'v', c == ' ':
		return true
	}
	return false
}

// isLocalSpec reports whether a package.json spec points at a local folder
// or workspace, which lockfiles record in format-specific ways.
func isLocalSpec(spec string) bool {
	for _, p := range [...]string{"workspace:", "link:", "portal:", "file:"} {
		if strings.HasPrefix(spec, p) {
			return true
		}
	}
	return false
}
