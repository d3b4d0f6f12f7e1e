package spelling

import (
	"strings"
	"testing"
)

func TestClosest(t *testing.T) {
	presets := []string{"npm", "go", "pypi", "github"}
	keys := []string{"mode", "allow", "tcp", "host-ports", "unix-sockets", "dns"}
	tests := []struct {
		name, word string
		cands      []string
		want       string
	}{
		{"transposed_preset", "nmp", presets, "npm"},
		{"case_insensitive", "NMP", presets, "npm"},
		{"github_typo", "gihtub", presets, "github"},
		{"exact", "npm", presets, "npm"},
		{"unrelated_host", "registry", presets, ""},
		{"two_edits_short_word", "nxx", presets, ""},
		{"plural_key", "allows", keys, "allow"},
		{"missing_letter", "hostports", keys, "host-ports"},
		{"far_key", "egress", keys, ""},
		{"too_long", strings.Repeat("a", 100), []string{strings.Repeat("a", 99)}, ""},
		{"empty", "", presets, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Closest(tc.word, tc.cands); got != tc.want {
				t.Errorf("Closest(%q) = %q, want %q", tc.word, got, tc.want)
			}
		})
	}
}

func TestHint(t *testing.T) {
	if got, want := Hint("nmp", []string{"npm"}), `; did you mean "npm"?`; got != want {
		t.Errorf("Hint = %q, want %q", got, want)
	}
	if got := Hint("npm", []string{"npm"}); got != "" {
		t.Errorf("Hint of an exact word = %q, want empty", got)
	}
}
