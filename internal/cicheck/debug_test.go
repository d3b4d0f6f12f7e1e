package cicheck_test

import (
	"os"
	"strings"
	"testing"

	"github.com/buildwall/buildwall/internal/advisory"
)

func TestDebugDump(t *testing.T) {
	p := os.Getenv("DUMP")
	if p == "" {
		t.Skip()
	}
	src, _ := os.ReadFile(p)
	var b strings.Builder
	for _, f := range check(t, p[strings.LastIndex(p, "/")+1:], src, advisory.Embedded()) {
		writeFinding(&b, f)
	}
	t.Log("\n" + b.String())
}
