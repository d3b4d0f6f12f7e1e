package lockcheck

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNormSpec(t *testing.T) {
	tests := []struct {
		in     string
		family specFamily
		norm   string
	}{
		{"^1.2.0", specRange, "^1.2.0"},
		{"npm:^1.2.0", specRange, "^1.2.0"},
		{" 1.x ", specRange, "1.x"},
		{"*", specRange, "*"},
		{"npm:lodash@^4.17.0", specAlias, "npm:lodash@^4.17.0"},
		{"npm:@s/n@npm:^1", specAlias, "npm:@s/n@^1"},
		{"user/repo", specGit, "github:user/repo"},
		{"user/repo#v1", specGit, "github:user/repo#v1"},
		{"github:user/repo", specGit, "github:user/repo"},
		{"https://github.com/user/repo.git", specGit, "github:user/repo"},
		{"https://github.com/user/repo.git#commit=abc", specGit, "github:user/repo#abc"},
		{"git+https://github.com/user/repo.git#v1", specGit, "github:user/repo#v1"},
		{"git+ssh://git@github.com/user/repo.git", specGit, "github:user/repo"},
		{"git@github.com:user/repo.git", specGit, "github:user/repo"},
		{"git://GitHub.com/user/repo", specGit, "github:user/repo"},
		{"gitlab:group/proj#main", specGit, "gitlab:group/proj#main"},
		{"git+https://git.example/org/lib.git#v1.0.0", specGit, "git.example/org/lib#v1.0.0"},
		{"https://git.example/org/lib.git#head=v1.0.0", specGit, "git.example/org/lib#v1.0.0"},
		{"https://cdn.example/lib-1.0.0.tgz", specOther, "https://cdn.example/lib-1.0.0.tgz"},
		{"latest", specOther, "latest"},
		{"file:../lib", specOther, "file:../lib"},
		{"@scope/x", specOther, "@scope/x"},
	}
	for _, tt := range tests {
		family, norm := normSpec(tt.in)
		if diff := cmp.Diff([]any{tt.family, tt.norm}, []any{family, norm}); diff != "" {
			t.Errorf("normSpec(%q) mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestSpecsDiffer(t *testing.T) {
	tests := []struct {
		recorded, declared string
		want               bool
	}{
		{"^1.6.0", "^1.7.0", true},
		{"^1.6.0", "^1.6.0", false},
		{"npm:^1.6.0", "^1.6.0", false},
		{"github:stevemao/left-pad", "stevemao/left-pad", false},
		{"https://github.com/stevemao/left-pad.git", "stevemao/left-pad", false},
		{"https://github.com/stevemao/left-pad.git", "stevemao/left-pad#v2", true},
		{"https://git.example/org/lib.git#v1.0.0", "git+https://git.example/org/lib.git#v1.0.0", false},
		{"https://git.example/org/lib.git#v1.0.0", "git+https://git.example/other/lib.git#v1.0.0", true},
		{"npm:lodash@^4.17.0", "npm:lodash@^4.17.0", false},
		{"npm:lodash@^4.17.0", "npm:lodash@^3.0.0", true},
		{"npm:lodash@^4.17.0", "npm:underscore@^4.17.0", true},
		{"^1.0.0", "github:user/repo", true},
		{"npm:latest", "latest", false},
		{"https://cdn.example/a-1.tgz", "https://cdn.example/a-2.tgz", false},
		{"latest", "^1.0.0", false},
	}
	for _, tt := range tests {
		if got := specsDiffer(tt.recorded, tt.declared); got != tt.want {
			t.Errorf("specsDiffer(%q, %q) = %v, want %v", tt.recorded, tt.declared, got, tt.want)
		}
	}
}

func TestRangeOf(t *testing.T) {
	tests := []struct{ spec, version, rng, v string }{
		{"^1.0.0", "1.2.0", "^1.0.0", "1.2.0"},
		{"npm:lodash@^4.17.0", "4.17.21", "^4.17.0", "4.17.21"},
		{"npm:lodash@4.17.20", "lodash@4.17.20", "4.17.20", "4.17.20"},
		{"npm:^2", "2.0.1", "^2", "2.0.1"},
	}
	for _, tt := range tests {
		rng, v := rangeOf(tt.spec, tt.version)
		if diff := cmp.Diff([]string{tt.rng, tt.v}, []string{rng, v}); diff != "" {
			t.Errorf("rangeOf(%q, %q) mismatch (-want +got):\n%s", tt.spec, tt.version, diff)
		}
	}
}
