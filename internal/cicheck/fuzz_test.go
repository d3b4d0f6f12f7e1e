package cicheck

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"

	"github.com/buildwall/buildwall/internal/advisory"
	"github.com/buildwall/buildwall/internal/ciconfig"
	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/testutil"
)

// FuzzDownloadExec checks that DownloadExec never panics and returns sorted,
// non-overlapping spans inside the script that start at a download command.
func FuzzDownloadExec(f *testing.F) {
	for _, s := range []string{
		"curl -fsSL https://get.example/x | sh",
		"wget -O /tmp/s.sh https://x.example/s && /tmp/s.sh",
		"bash <(curl -s https://x.example/i)",
		"curl -o a.sh x.example\nchmod +x a.sh\n./a.sh",
		"curl \\\n x | \\\n sudo -E bash",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, script string) {
		end := 0
		for _, sp := range DownloadExec(script) {
			if sp.Start < end || sp.End <= sp.Start || sp.End > len(script) {
				t.Fatalf("bad span %+v after %d in %q", sp, end, script)
			}
			if text := strings.ToLower(script[sp.Start:sp.End]); !strings.Contains(text, "curl") && !strings.Contains(text, "wget") &&
				!strings.Contains(text, "iwr") && !strings.Contains(text, "irm") && !strings.Contains(text, "invoke-") && !strings.Contains(text, "downloadstring") {
				t.Fatalf("span %q names no download", text)
			}
			end = sp.End
		}
	})
}

// FuzzExpressions checks that expression extraction never panics and
// returns ordered spans that start with "${{".
func FuzzExpressions(f *testing.F) {
	for _, s := range []string{
		"echo ${{ github.event.issue.title }}",
		"${{ contains(github.event.pull_request.title, '}}') }} ${{ github.head_ref }}",
		"${{ github['event']['comment']['body'] ",
		"${{ join(github.event.commits.*.message) }}${{",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		end := 0
		for _, e := range expressions(s) {
			if e.Start < end || e.End < e.Start || e.End > len(s) || !strings.HasPrefix(s[e.Start:], "${{") {
				t.Fatalf("bad expression span %+v after %d in %q", e, end, s)
			}
			end = e.End
			// Where actionlint's lexer ends a well-formed expression, the
			// cheap scan must agree.
			body := s[e.Start+3:]
			lex := actionlint.NewExprLexer(body)
			if _, err := actionlint.NewExprParser().Parse(lex); err == nil && e.Start+3+lex.Offset() != e.End {
				t.Fatalf("expression %q ends at %d, actionlint says %d", s[e.Start:], e.End, e.Start+3+lex.Offset())
			}
		}
	})
}

// FuzzCheck runs every rule on whatever the workflow and action parsers
// make of arbitrary bytes: no rule may panic, and every finding must carry
// a rule ID and a position inside the file.
func FuzzCheck(f *testing.F) {
	testutil.AddFileSeeds(f, "testdata/*/*.yml")
	db := advisory.Embedded()
	f.Fuzz(func(t *testing.T, src []byte) {
		c := &Context{Path: "x.yml", Advisories: db}
		var fs []finding.Finding
		if w, _ := ciconfig.ParseWorkflow(src); w != nil {
			fs = append(fs, CheckWorkflow(c, w)...)
		}
		if a, _ := ciconfig.ParseAction(src); a != nil {
			fs = append(fs, CheckAction(c, a)...)
		}
		lines := bytes.Count(src, []byte("\n")) + 1
		for _, f := range fs {
			if f.Rule == "" || f.Line < 1 || f.Line > lines || f.Column < 1 {
				t.Fatalf("bad finding %+v in a %d-line file", f, lines)
			}
		}
	})
}
