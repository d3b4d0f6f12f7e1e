package termsafe

import (
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain", "src/app/package-lock.json", "src/app/package-lock.json"},
		{"unicode_letters", "paquets/é/ü.json", "paquets/é/ü.json"},
		{"newline", "a\nb", `a\nb`},
		{"carriage_return", "a\rb", `a\rb`},
		{"escape_sequence", "\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`},
		{"workflow_command", "::error file=x::pwned", `\x3a:error file=x::pwned`},
		{"workflow_command_indented", "  ::add-mask::x", `  \x3a:add-mask::x`},
		{"workflow_command_after_newline", "x\n::error::y", `x\n::error::y`},
		{"colons_inside", "a::b", "a::b"},
		{"del_and_c1", "a\x7fb\u0085c", `a\x7fb\u0085c`},
		{"bidi_override", "a\u202eb", `a\u202eb`},
		{"line_separator", "a\u2028b", `a\u2028b`},
		{"invalid_utf8", "a\xffb", `a\xffb`},
		{"tab", "a\tb", `a\tb`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := String(tc.in); got != tc.want {
				t.Errorf("String(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestLines(t *testing.T) {
	got := Lines("ok\n::error::x\n\x1b]0;t\x07")
	want := "ok\n\\x3a:error::x\n\\x1b]0;t\\x07"
	if got != want {
		t.Errorf("Lines = %q, want %q", got, want)
	}
}

func FuzzString(f *testing.F) {
	for _, s := range []string{"", "::error::x", "a\nb", "\x1b[0m", "\u202e", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := String(s)
		if strings.ContainsAny(got, "\n\r\x1b\x00\x7f") {
			t.Fatalf("String(%q) = %q keeps a control character", s, got)
		}
		if strings.HasPrefix(strings.TrimLeft(got, " \t"), "::") {
			t.Fatalf("String(%q) = %q starts a workflow command", s, got)
		}
		for _, r := range got {
			if unsafeRune(r) {
				t.Fatalf("String(%q) = %q keeps %U", s, got, r)
			}
		}
		if clean(s) && got != s {
			t.Fatalf("clean input changed: %q -> %q", s, got)
		}
	})
}
