package scan

import (
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/buildwall/buildwall/internal/config"
	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/trust"
)

// memTrust is a trusted revision held in memory: slash path -> content.
func memTrust(top string, files map[string]string, apply bool) *Trust {
	return &Trust{
		Ref: "origin/main",
		Top: top,
		ReadFile: func(rel string) ([]byte, error) {
			if s, ok := files[rel]; ok {
				return []byte(s), nil
			}
			return nil, fs.ErrNotExist
		},
		Apply: apply,
	}
}

func TestTrustedRegistries(t *testing.T) {
	webLock := strings.ReplaceAll(lock, "registry.example", "npm.corp.example")
	tree := map[string]string{
		".git/HEAD":                  "ref: refs/heads/pr\n",
		".npmrc":                     "registry=https://npm.corp.example/\n",
		"apps/web/package.json":      testManifest,
		"apps/web/package-lock.json": webLock,
	}
	trusted := map[string]string{".npmrc": "registry=https://npm.corp.example/\n"}
	tests := []struct {
		name    string
		change  map[string]string
		trusted map[string]string
		root    string // scan root relative to the repository
		apply   bool
		want    []string
	}{
		{"unchanged", nil, trusted, ".", false, []string{"apps/web/package-lock.json:3 missing-integrity"}},
		{"same_registry_nearer", map[string]string{"apps/web/.npmrc": "registry=https://npm.corp.example/\n"}, trusted, ".", false,
			[]string{"apps/web/package-lock.json:3 missing-integrity"}},
		{"sub_path_of_trusted", map[string]string{"apps/web/.npmrc": "@x:registry=https://npm.corp.example/x/\n"}, trusted, ".", false,
			[]string{"apps/web/package-lock.json:3 missing-integrity"}},
		{"new_registry_in_workspace", map[string]string{"apps/web/.npmrc": "registry=https://evil.example/\n"}, trusted, ".", false,
			[]string{"apps/web/.npmrc:1 gate-weakened", "apps/web/package-lock.json:3 missing-integrity"}},
		{"root_changed_scanning_workspace", map[string]string{".npmrc": "registry=https://evil.example/\n"}, trusted, "apps/web", false,
			// The trusted .npmrc applies: npm.corp.example stays allowed.
			[]string{"../../.npmrc:1 gate-weakened", "package-lock.json:3 missing-integrity"}},
		// With Apply the trusted files decide even when the tree is stricter.
		{"apply_trusted", map[string]string{".npmrc": "registry=https://other.example/\n"},
			map[string]string{".npmrc": "registry=https://other.example/\nregistry=https://npm.corp.example/\n"}, ".", true,
			[]string{"apps/web/package-lock.json:3 missing-integrity"}},
		{"tree_stricter_not_applied", map[string]string{".npmrc": "registry=https://other.example/\n"},
			map[string]string{".npmrc": "registry=https://other.example/\nregistry=https://npm.corp.example/\n"}, ".", false,
			[]string{"apps/web/package-lock.json:3 missing-integrity", "apps/web/package-lock.json:3 untrusted-registry"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{}
			for k, v := range tree {
				files[k] = v
			}
			for k, v := range tt.change {
				files[k] = v
			}
			dir := writeTree(t, files)
			top, err := filepath.EvalSymlinks(dir)
			if err != nil {
				t.Fatal(err)
			}
			res := run(t, Options{Paths: []string{filepath.Join(top, tt.root)}, Trust: memTrust(top, tt.trusted, tt.apply)})
			if diff := cmp.Diff(tt.want, summary(res.Findings)); diff != "" {
				t.Errorf("findings mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestGateWeakenedNotIgnored: an ignore of every path suppresses other
// findings but never gate-weakened.
func TestGateWeakenedNotIgnored(t *testing.T) {
	dir := writeTree(t, map[string]string{
		".npmrc":            "registry=https://evil.example/\x1b[31m\n::error::forged\n",
		"package.json":      testManifest,
		"package-lock.json": lock,
	})
	top, _ := filepath.EvalSymlinks(dir)
	cfg := parseConfig(t, "scan:\n  ignore:\n    - path: \"**\"\n      reason: x\n")
	res := run(t, Options{Paths: []string{top}, Config: cfg, Trust: memTrust(top, nil, false)})
	if diff := cmp.Diff([]string{".npmrc:1 gate-weakened"}, summary(res.Findings)); diff != "" {
		t.Errorf("findings mismatch (-want +got):\n%s", diff)
	}
	if res.Suppressed != 1 {
		t.Errorf("Suppressed = %d, want 1 (missing-integrity)", res.Suppressed)
	}
	for _, f := range finding.Active(res.Findings) {
		if f.Rule != trust.RuleID || strings.ContainsAny(f.Message, "\x1b\n") {
			t.Errorf("finding %q: want an escaped gate-weakened message", f.Message)
		}
	}
}

func parseConfig(t *testing.T, yml string) *config.Config {
	t.Helper()
	c, err := config.Parse("buildwall.yml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	return c
}
