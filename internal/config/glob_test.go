package config

import (
	"math/rand/v2"
	"path"
	"strings"
	"testing"
	"time"
)

// backtrack is the obvious recursive matcher (exponential in the number of
// "**"), kept as the reference for small inputs.
func backtrack(pat, segs []string) bool {
	if len(pat) == 0 {
		return len(segs) == 0
	}
	if pat[0] == "**" {
		for i := range len(segs) + 1 {
			if backtrack(pat[1:], segs[i:]) {
				return true
			}
		}
		return false
	}
	if len(segs) == 0 {
		return false
	}
	ok, _ := path.Match(pat[0], segs[0])
	return ok && backtrack(pat[1:], segs[1:])
}

func TestGlobMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	atoms := []string{"**", "*", "a", "b", "a*", "?"}
	names := []string{"a", "b", "ab", "ba"}
	for range 20000 {
		pat := make([]string, 1+r.IntN(6))
		for i := range pat {
			pat[i] = atoms[r.IntN(len(atoms))]
		}
		segs := make([]string, 1+r.IntN(7))
		for i := range segs {
			segs[i] = names[r.IntN(len(names))]
		}
		g, err := compileGlob(strings.Join(pat, "/"))
		if err != nil {
			t.Fatal(err)
		}
		p := strings.Join(segs, "/")
		if got, want := g.match(p), backtrack(pat, segs); got != want {
			t.Fatalf("glob %q match %q = %v, want %v", strings.Join(pat, "/"), p, got, want)
		}
	}
}

// TestGlobPathological: "**" repeated against a deep path that almost
// matches took exponential time with backtracking; the work is now
// pattern segments times path segments (no timed assertion: the test only
// bounds each match so that a regression fails instead of hanging).
func TestGlobPathological(t *testing.T) {
	pattern := "**/a/**/a/**/a/**/a/**/b"
	g, err := compileGlob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	for _, depth := range []int{1000, 2000, 4000} {
		p := strings.Repeat("a/", depth) + "c"
		done := make(chan bool)
		go func() { done <- g.match(p) }()
		select {
		case got := <-done:
			if got {
				t.Errorf("depth %d: matched, want no match", depth)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("depth %d: match did not return in 10 s", depth)
		}
	}
	// Too many segments is a configuration error, not a slow match.
	if _, err := compileGlob(strings.Repeat("**/a/", 40) + "b"); err == nil {
		t.Error("a pattern of 81 segments compiled, want an error")
	}
}
