package ciconfig

import (
	"errors"
	"strings"
	"testing"
)

// TestGitLabAliasBomb: nested aliases that would expand to billions of
// nodes are refused with a positioned error instead of exhausting memory.
func TestGitLabAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [\"echo x\", \"echo y\"]\n")
	for i := 1; i < 30; i++ {
		prev := "*a" + itoa(i-1)
		b.WriteString("a" + itoa(i) + ": &a" + itoa(i) + " [" + strings.Repeat(prev+", ", 9) + prev + "]\n")
	}
	b.WriteString("job:\n  script: *a29\n")
	_, err := ParseGitLabCI([]byte(b.String()))
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("ParseGitLabCI(alias bomb) error = %v, want a *ParseError", err)
	}
	if pe.Pos.Line < 1 || !strings.Contains(pe.Msg, "aliases") {
		t.Errorf("error = %v, want a positioned alias error", pe)
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
