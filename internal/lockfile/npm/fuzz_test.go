package npm

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/buildwall/buildwall/internal/lockfile"
)

// FuzzParse checks that Parse never panics, that it fails only with a
// positioned *lockfile.ParseError, and that on success the input was valid
// JSON and every package has a name and a line. Seeds: testdata/fuzz and
// the fixtures.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/lockfiles/*.json")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lf, err := Parser{}.Parse("package-lock.json", data)
		if err != nil {
			var pe *lockfile.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) is not a *lockfile.ParseError", err, err)
			}
			if pe.Line < 1 || pe.Column < 1 {
				t.Fatalf("error without a position: %v", err)
			}
			return
		}
		if !json.Valid(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))) {
			t.Fatalf("Parse accepted invalid JSON %q", data)
		}
		for _, p := range lf.Packages {
			if p.Name == "" || p.Line < 1 || p.Column < 1 {
				t.Fatalf("package without name or position: %+v", p)
			}
		}
	})
}
