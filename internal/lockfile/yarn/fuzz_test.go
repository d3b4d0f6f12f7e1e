package yarn

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/buildwall/buildwall/internal/lockfile"
)

// FuzzParse checks that no input makes the parser panic, that failures are
// *lockfile.ParseError, and that every parsed package points at a line of
// the input. Seeds live in testdata/fuzz/FuzzParse; the fixtures are added too.
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
		lf, err := Parser{}.Parse("yarn.lock", data)
		if err != nil {
			var pe *lockfile.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is %T, want *lockfile.ParseError", err, err)
			}
			return
		}
		lines := bytes.Count(data, []byte("\n")) + 1
		for _, p := range lf.Packages {
			if p.Line < 1 || p.Line > lines || p.Column < 1 {
				t.Fatalf("package %s@%s at %d:%d, outside the %d-line input", p.Name, p.Version, p.Line, p.Column, lines)
			}
		}
	})
}

func TestParseDeepNesting(t *testing.T) {
	for name, data := range map[string][]byte{
		"flow":  append([]byte("__metadata:\n  version: 8\nx: "), bytes.Repeat([]byte("["), 100000)...),
		"map":   append([]byte("__metadata:\n  version: 8\nx: "), bytes.Repeat([]byte("{k: "), 100000)...),
		"block": append([]byte("__metadata:\n  version: 8\n"), deepBlock(2000)...),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parser{}.Parse("yarn.lock", data)
			var pe *lockfile.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse error = %v, want *lockfile.ParseError", err)
			}
		})
	}
}

// deepBlock returns n block mappings nested one inside the other.
func deepBlock(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		b.Write(bytes.Repeat([]byte(" "), i))
		b.WriteString("k:\n")
	}
	return b.Bytes()
}
