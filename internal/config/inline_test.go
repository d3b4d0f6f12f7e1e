package config

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseInline(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // "line:col rules|until|reason" or "line:col error: msg"
	}{
		{"none", "a: b\n", nil},
		{"line_above", "a: 1\n# buildwall: ignore[r1] because\nb: 2\n", []string{"2:3 r1||because"}},
		{"trailing", "uses: x@v1 # buildwall: ignore[r1, r2] until=2027-01-31 two rules\n", []string{"1:14 r1,r2|2027-01-31|two rules"}},
		{"crlf", "#buildwall: ignore[r] reason\r\n", []string{"1:2 r||reason"}},
		{"not_a_comment", "run: echo buildwall: ignore[r] x\n", nil},
		{"in_a_string_after_hash", "run: echo '# buildwall: ignore[r] x'\n", []string{"1:14 r||x'"}},
		{"no_reason", "# buildwall: ignore[r]\n", []string{"1:3 error: inline ignore of r has no reason: say why the finding is acceptable"}},
		{"bad_date", "# buildwall: ignore[r] until=soon x\n", []string{`1:3 error: until: "soon" is not a date written YYYY-MM-DD`}},
		{"no_rule", "# buildwall: ignore[] x\n", []string{"1:3 error: ignore[] names no rule"}},
		{"unclosed", "# buildwall: ignore[r x\n", []string{"1:3 error: ignore[ has no closing ]"}},
		{"other_word", "# buildwall: allow everything\n", []string{`1:3 error: want "# buildwall: ignore[rule-id] reason"`}},
		{"third_line", "a\nb\n  # buildwall: ignore[r] x\n", []string{"3:5 r||x"}},
		{"at_eof", "# buildwall:", []string{`1:3 error: want "# buildwall: ignore[rule-id] reason"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			igs, bad := ParseInline([]byte(tc.in))
			var got []string
			for _, in := range igs {
				u := ""
				if !in.Until.IsZero() {
					u = in.Until.Format("2006-01-02")
				}
				got = append(got, fmt.Sprintf("%d:%d %s|%s|%s", in.Line, in.Column, strings.Join(in.Rules, ","), u, in.Reason))
			}
			for _, b := range bad {
				got = append(got, fmt.Sprintf("%d:%d error: %s", b.Line, b.Column, b.Msg))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseInlineBounded(t *testing.T) {
	data := strings.Repeat("# buildwall: ignore[r] x\n", maxInline+50)
	igs, bad := ParseInline([]byte(data))
	if len(igs) != maxInline || len(bad) != 1 {
		t.Errorf("got %d ignores, %d errors; want %d and 1", len(igs), len(bad), maxInline)
	}
}

func FuzzParseInline(f *testing.F) {
	f.Add([]byte("a\n# buildwall: ignore[r1,r2] until=2027-01-31 why\nb # buildwall: ignore[x]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		igs, bad := ParseInline(data)
		lines := strings.Count(string(data), "\n") + 1
		for _, in := range igs {
			if in.Line < 1 || in.Line > lines || in.Reason == "" || len(in.Rules) == 0 {
				t.Fatalf("bad ignore %+v", in)
			}
		}
		for _, b := range bad {
			if b.Line < 1 || b.Line > lines {
				t.Fatalf("bad error %+v", b)
			}
		}
	})
}
