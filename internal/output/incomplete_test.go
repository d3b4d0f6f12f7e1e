package output

import (
	"bytes"
	"strings"
	"testing"
)

// TestIncompleteInEveryFormat: an interrupted scan says so in every format,
// and a complete one carries no trace of the field.
func TestIncompleteInEveryFormat(t *testing.T) {
	want := map[Format]string{
		FormatText:     incompleteNote,
		FormatJSON:     `"incomplete": true`,
		FormatSARIF:    `"executionSuccessful": false`,
		FormatMarkdown: incompleteNote,
	}
	for _, f := range Formats() {
		for _, incomplete := range []bool{true, false} {
			var b bytes.Buffer
			if err := Write(&b, f, Report{ToolVersion: "dev", Incomplete: incomplete}, Options{}); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if got := strings.Contains(b.String(), want[f]); got != incomplete {
				t.Errorf("%s, incomplete=%v: output contains %q = %v\n%s", f, incomplete, want[f], got, b.String())
			}
		}
	}
}
