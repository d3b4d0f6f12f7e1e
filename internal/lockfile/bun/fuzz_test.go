package bun

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/buildwall/buildwall/internal/lockfile"
)

// FuzzParse checks that no input makes the parser panic, that failures are
// *lockfile.ParseError inside the input, and that every parsed package points
// at a line of the input. Seeds live in testdata/fuzz/FuzzParse; the
// fixtures are added too.
func FuzzParse(f *testing.F) {
	fixtures, err := filepath.Glob(filepath.Join("testdata", "*.lock"))
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
		lines := bytes.Count(data, []byte("\n")) + 1
		lf, err := Parser{}.Parse("bun.lock", data)
		if err != nil {
			var pe *lockfile.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is %T, want *lockfile.ParseError", err, err)
			}
			if pe.Line < 1 || pe.Line > lines || pe.Column < 1 {
				t.Fatalf("error %v outside the %d-line input", err, lines)
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

func TestParseDeepNesting(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		wantErr bool
	}{
		{"arrays_over_limit", `{"lockfileVersion": 1, "x": ` + strings.Repeat("[", 100000), true},
		{"objects_over_limit", `{"lockfileVersion": 1, "x": ` + strings.Repeat(`{"k": `, 100000), true},
		{"within_limit", `{"lockfileVersion": 1, "x": ` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + "}", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parser{}.Parse("bun.lock", []byte(tt.data))
			var pe *lockfile.ParseError
			if tt.wantErr != (err != nil) || err != nil && !errors.As(err, &pe) {
				t.Fatalf("Parse error = %v, want a *lockfile.ParseError: %t", err, tt.wantErr)
			}
		})
	}
}
