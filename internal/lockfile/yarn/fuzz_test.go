package yarn

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/buildwall/buildwall/internal/lockfile"
	"github.com/buildwall/buildwall/internal/lockfile/syml"
)

// FuzzParse checks that no input makes the parser panic, that failures are
// *lockfile.ParseError within the input, and that every parsed package points at a line of
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
		lines := syml.Lines(data) // counts lone CRs, as YAML does
		lf, err := Parser{}.Parse("yarn.lock", data)
		if err != nil {
			var pe *lockfile.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is %T, want *lockfile.ParseError", err, err)
			}
			if pe.Line > lines {
				t.Fatalf("error %v is past the %d-line input", err, lines)
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

// TestParseDeepNesting feeds nesting beyond the decoder's depth limit
// (an error) and deep but legal nesting (an error or a result, never a
// panic or a hang).
func TestParseDeepNesting(t *testing.T) {
	const header = "__metadata:\n  version: 8\n"
	tests := []struct {
		name    string
		data    []byte
		wantErr bool
	}{
		{"flow_sequence", append([]byte(header+"x: "), bytes.Repeat([]byte("["), 100000)...), true},
		{"flow_mapping", append([]byte(header+"x: "), bytes.Repeat([]byte("{k: "), 100000)...), true},
		{"block_mapping", append([]byte(header), deepBlock(2000)...), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parser{}.Parse("lockfile", tt.data)
			var pe *lockfile.ParseError
			if err != nil && !errors.As(err, &pe) {
				t.Fatalf("Parse error = %v, want *lockfile.ParseError", err)
			}
			if tt.wantErr && err == nil {
				t.Fatal("Parse succeeded, want a *lockfile.ParseError")
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
