package pin

import (
	"errors"
	"strings"
	"testing"

	"github.com/buildwall/buildwall/internal/ciconfig"
)

// Outcome lines carry a file name from the tree and reasons quoting
// servers: both come out escaped, and the reason is cut.
func TestOutcomeStringEscaped(t *testing.T) {
	o := Outcome{
		File: ".github/workflows/\x1b[2J\n::error::x.yml",
		Pos:  ciconfig.Pos{Line: 3, Column: 9},
		Old:  "o/r@v1\u202e",
		Err:  errors.New("Get \"https://evil.test/" + strings.Repeat("a", 5000) + "\": \x1b]0;t\x07"),
	}
	got := o.String()
	if strings.ContainsAny(got, "\n\r\x1b\x07\u202e") {
		t.Errorf("String() = %q has raw control characters", got)
	}
	if !strings.HasPrefix(got, `.github/workflows/\x1b[2J\n::error::x.yml:3:9: o/r@v1\u202e left unpinned: `) {
		t.Errorf("String() = %q", got[:min(len(got), 200)])
	}
	if len(got) > maxReason+200 {
		t.Errorf("String() is %d bytes long, want the reason cut", len(got))
	}
	o.File = "::warning::file.yml"
	if got := o.String(); strings.HasPrefix(got, "::") {
		t.Errorf("String() = %q starts a workflow command", got[:40])
	}
}
