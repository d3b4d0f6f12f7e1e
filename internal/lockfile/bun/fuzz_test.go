package bun

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/buildwall/buildwall/internal/lockfile"
	"github.com/buildwall/buildwall/internal/lockfile/lockfiletest"
)

// FuzzParse: no input makes the parser panic, failures are
// *lockfile.ParseError inside the input, and every parsed package points at a
// line of the input. Seeds live in testdata/fuzz/FuzzParse; the fixtures are
// added too.
func FuzzParse(f *testing.F) {
	lockfiletest.Fuzz{Parser: Parser{}, Name: "bun.lock", Seeds: filepath.Join("testdata", "*.lock"), Lines: func(b []byte) int { return bytes.Count(b, []byte("\n")) + 1 }, ErrorPos: true}.Run(f)
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
