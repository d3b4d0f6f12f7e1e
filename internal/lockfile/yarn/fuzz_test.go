package yarn

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"

	"github.com/buildwall/buildwall/internal/lockfile"
	"github.com/buildwall/buildwall/internal/lockfile/lockfiletest"
	"github.com/buildwall/buildwall/internal/lockfile/syml"
)

// FuzzParse: no input makes the parser panic, failures are
// *lockfile.ParseError inside the input, and every parsed package points at a
// line of the input. Seeds live in testdata/fuzz/FuzzParse; the fixtures are
// added too.
func FuzzParse(f *testing.F) {
	lockfiletest.Fuzz{Parser: Parser{}, Name: "yarn.lock", Seeds: filepath.Join("testdata", "*.lock"), Lines: syml.Lines, ErrorPos: false}.Run(f)
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
