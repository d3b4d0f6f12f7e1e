package scan

import (
	"os"
	"path/filepath"
	"testing"
)

func TestBase(t *testing.T) {
	tmp, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	mk := func(p string) string {
		p = filepath.Join(tmp, p)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	repo, other := mk("repo/.git"), mk("other/.git")
	repo, other = filepath.Dir(repo), filepath.Dir(other)
	sub, plain, plain2 := mk("repo/a/b"), mk("plain"), mk("plain2")
	file := filepath.Join(sub, "package-lock.json")
	os.WriteFile(file, []byte("{}"), 0o644)
	tests := []struct {
		name  string
		paths []string
		want  string
	}{
		{"repo_top", []string{repo}, repo},
		{"subdirectory", []string{sub}, repo},
		{"file", []string{file}, repo},
		{"two_in_repo", []string{sub, repo}, repo},
		{"two_repos", []string{sub, other}, ""},
		{"no_repo", []string{plain}, plain},
		{"two_without_repo", []string{plain, plain2}, ""},
		{"missing", []string{filepath.Join(tmp, "nope")}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Base(tt.paths); got != tt.want {
				t.Errorf("Base(%v) = %q, want %q", tt.paths, got, tt.want)
			}
		})
	}
	if rel, ok := RelTo(repo, file); !ok || rel != "a/b/package-lock.json" {
		t.Errorf("RelTo = %q, %v", rel, ok)
	}
	if _, ok := RelTo(repo, filepath.Join(other, "x")); ok {
		t.Errorf("RelTo accepted a path outside the base")
	}
	if got := ConfigName("origin/main:buildwall.yml", repo); got != "origin/main:buildwall.yml" {
		t.Errorf("ConfigName of a revision = %q", got)
	}
	if got := ConfigName(filepath.Join(repo, "buildwall.yml"), repo); got != "buildwall.yml" {
		t.Errorf("ConfigName = %q", got)
	}
}
