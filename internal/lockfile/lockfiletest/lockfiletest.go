// Package lockfiletest holds the fuzz harness that every lockfile parser's
// tests share. It is imported by tests only.
package lockfiletest

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/buildwall/buildwall/internal/lockfile"
)

// Fuzz describes how to fuzz one parser.
type Fuzz struct {
	Parser lockfile.Parser
	// Name is the file name passed to Parse.
	Name string
	// Seeds is a filepath.Glob pattern of fixtures added to the corpus
	// (next to the seeds under testdata/fuzz/FuzzParse).
	Seeds string
	// Lines counts the input's lines the way the format does (YAML counts
	// lone CRs, JSON does not).
	Lines func([]byte) int
	// ErrorPos requires every error to carry a line and column.
	ErrorPos bool
}

// Run fuzzes z.Parser: no input makes it panic, every failure is a
// *lockfile.ParseError inside the input, and every parsed package points at
// a line and column of the input.
func (z Fuzz) Run(f *testing.F) {
	f.Helper()
	fixtures, err := filepath.Glob(z.Seeds)
	if err != nil {
		f.Fatal(err)
	}
	for _, path := range fixtures {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := z.Lines(data)
		lf, err := z.Parser.Parse(z.Name, data)
		if err != nil {
			var pe *lockfile.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is %T, want *lockfile.ParseError", err, err)
			}
			if pe.Line > lines || z.ErrorPos && (pe.Line < 1 || pe.Column < 1) {
				t.Fatalf("error %v is outside the %d-line input", err, lines)
			}
			return
		}
		for _, p := range lf.Packages {
			if p.Line < 1 || p.Line > lines || p.Column < 1 {
				t.Fatalf("package %s@%s at %d:%d, outside the %d-line input", p.Name, p.Version, p.Line, p.Column, lines)
			}
		}
	})
}
