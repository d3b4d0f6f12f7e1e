package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestREADMEExample parses the configuration example in the README, so the
// documentation cannot drift from the schema.
func TestREADMEExample(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Skipf("no README: %v", err)
	}
	readme := string(data)
	_, after, ok := strings.Cut(readme, "### Configuration")
	if !ok {
		t.Skip("README has no Configuration section")
	}
	_, block, ok := strings.Cut(after, "```yaml\n")
	if !ok {
		t.Fatal("README Configuration section has no yaml block")
	}
	block, _, _ = strings.Cut(block, "```")
	c, err := Parse("README.md", []byte(block))
	if err != nil {
		t.Fatalf("the README's buildwall.yml example does not parse: %v", err)
	}
	if len(c.Scan.Ignores) == 0 || c.Scan.FailOn == nil {
		t.Errorf("README example parsed to %+v; expected fail-on and an ignore", c.Scan)
	}
}
