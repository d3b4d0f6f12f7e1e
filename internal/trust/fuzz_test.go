package trust

import (
	"strings"
	"testing"
	"unicode"
)

// FuzzCheckRef: whatever CheckRef accepts can never be read by git as an
// option or split into several arguments.
func FuzzCheckRef(f *testing.F) {
	for _, s := range []string{"origin/main", "-x", "--upload-pack=x", "main --all", "HEAD~1", "a\x00b", "@{-1}", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		if CheckRef(ref) != nil {
			return
		}
		if ref == "" || ref[0] == '-' || len(ref) > maxRefLen || strings.Contains(ref, ":") {
			t.Fatalf("CheckRef accepted %q", ref)
		}
		for _, c := range ref {
			if c > unicode.MaxASCII || unicode.IsSpace(c) || unicode.IsControl(c) {
				t.Fatalf("CheckRef accepted %q with %q", ref, c)
			}
		}
	})
}
