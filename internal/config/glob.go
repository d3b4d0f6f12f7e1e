package config

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
)

// glob is a compiled slash-separated pattern. Each segment is a path.Match
// pattern, except "**", which matches zero or more whole segments.
type glob []string

// maxGlobSegments bounds a pattern's segments, so that matching (time
// proportional to pattern segments times path segments) stays bounded
// whatever a configuration file holds.
const maxGlobSegments = 64

func compileGlob(pattern string) (glob, error) {
	pattern = strings.TrimPrefix(pattern, "./")
	if pattern == "" || strings.HasPrefix(pattern, "/") {
		return nil, errors.New("pattern must be a relative slash-separated path")
	}
	segs := strings.Split(pattern, "/")
	if len(segs) > maxGlobSegments {
		return nil, fmt.Errorf("pattern has %d segments, more than %d", len(segs), maxGlobSegments)
	}
	var out glob
	for _, s := range segs {
		if s == "**" {
			if len(out) > 0 && out[len(out)-1] == "**" {
				continue // "**/**" is "**"
			}
			out = append(out, s)
			continue
		}
		if _, err := path.Match(s, ""); err != nil {
			return nil, errors.New("malformed pattern")
		}
		out = append(out, s)
	}
	return out, nil
}

func (g glob) match(p string) bool {
	return matchSegs(g, strings.Split(p, "/"))
}

// matchSegs matches by dynamic programming over (pattern segment, path
// segment) pairs: O(len(pat) * len(segs)) segment matches, never the
// exponential backtracking of trying every split point for every "**".
// ok[j] holds whether the pattern segments seen so far match segs[:j].
func matchSegs(pat, segs []string) bool {
	ok := make([]bool, len(segs)+1)
	ok[0] = true
	for _, p := range pat {
		if p == "**" {
			// Zero or more segments: reachable from any earlier j.
			for j := 1; j <= len(segs); j++ {
				ok[j] = ok[j] || ok[j-1]
			}
			continue
		}
		// One segment: right to left so ok[j-1] is still the old value.
		for j := len(segs); j >= 1; j-- {
			ok[j] = false
			if ok[j-1] {
				ok[j], _ = path.Match(p, segs[j-1])
			}
		}
		ok[0] = false
	}
	return ok[len(segs)]
}

func sortStrings(s []string) { slices.Sort(s) }

// Glob is an exclusion pattern (scan.exclude, --exclude) over slash paths
// relative to the scan root. A pattern without a slash matches a base name
// at any depth ("*.min.js", "fixtures"), as in .gitignore; one with a slash
// matches the whole path, with "**" for any number of directories. A
// directory that matches is skipped with everything below it.
type Glob struct {
	pattern string
	g       glob
}

// CompileGlob compiles an exclusion pattern.
func CompileGlob(pattern string) (Glob, error) {
	p := strings.TrimSuffix(strings.TrimSpace(pattern), "/")
	if p != "" && !strings.Contains(strings.TrimPrefix(p, "./"), "/") && !strings.HasPrefix(p, "./") {
		p = "**/" + p
	}
	g, err := compileGlob(p)
	if err != nil {
		return Glob{}, err
	}
	return Glob{pattern: pattern, g: g}, nil
}

// Match reports whether the slash path rel matches.
func (g Glob) Match(rel string) bool { return g.g != nil && g.g.match(rel) }

// String returns the pattern as written.
func (g Glob) String() string { return g.pattern }
