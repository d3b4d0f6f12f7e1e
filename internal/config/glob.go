package config

import (
	"errors"
	"path"
	"slices"
	"strings"
)

// glob is a compiled slash-separated pattern. Each segment is a path.Match
// pattern, except "**", which matches zero or more whole segments.
type glob []string

func compileGlob(pattern string) (glob, error) {
	pattern = strings.TrimPrefix(pattern, "./")
	if pattern == "" || strings.HasPrefix(pattern, "/") {
		return nil, errors.New("pattern must be a relative slash-separated path")
	}
	segs := strings.Split(pattern, "/")
	for _, s := range segs {
		if s == "**" {
			continue
		}
		if _, err := path.Match(s, ""); err != nil {
			return nil, errors.New("malformed pattern")
		}
	}
	return glob(segs), nil
}

func (g glob) match(p string) bool {
	return matchSegs(g, strings.Split(p, "/"))
}

func matchSegs(pat, segs []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			// Collapse consecutive "**" and try every split point.
			for len(pat) > 0 && pat[0] == "**" {
				pat = pat[1:]
			}
			if len(pat) == 0 {
				return true
			}
			for i := range len(segs) + 1 {
				if matchSegs(pat, segs[i:]) {
					return true
				}
			}
			return false
		}
		if len(segs) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], segs[0]); !ok {
			return false
		}
		pat, segs = pat[1:], segs[1:]
	}
	return len(segs) == 0
}

func sortStrings(s []string) { slices.Sort(s) }
