package lockfile

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRegistryTarball(t *testing.T) {
	tests := []struct {
		in         string
		name, file string
		ok         bool
	}{
		{"https://registry.example/a/-/a-1.0.0.tgz", "a", "a-1.0.0.tgz", true},
		{"https://registry.example/lodash/-/lodash-4.17.21.tgz", "lodash", "lodash-4.17.21.tgz", true},
		{"https://registry.example/@s/b/-/b-1.0.0.tgz", "@s/b", "b-1.0.0.tgz", true},
		{"https://registry.example/@s%2Fb/-/b-1.0.0.tgz", "@s/b", "b-1.0.0.tgz", true},
		{"https://registry.example/@s%2fn/-/n-1.0.0.tgz", "@s/n", "n-1.0.0.tgz", true},
		{"https://registry.example/%40s%2Fn/-/n-1.0.0.tgz", "@s/n", "n-1.0.0.tgz", true},
		{"https://registry.example/prefix/evil/-/good-1.0.0.tgz", "evil", "good-1.0.0.tgz", true},
		{"https://mirror.example/api/npm/npm-remote/lodash/-/lodash-4.17.21.tgz", "lodash", "lodash-4.17.21.tgz", true},
		{"https://mirror.example/api/npm/@s/n/-/n-1.0.0.tgz", "@s/n", "n-1.0.0.tgz", true},
		{"HTTP://registry.example/a/-/a-1.0.0.TGZ", "a", "a-1.0.0.TGZ", true},
		{"https://registry.example/a/-/a-1.0.0.tgz?x=1#sha1", "a", "a-1.0.0.tgz", true},
		{"https://user@registry.example/a/-/a-1.0.0.tgz", "a", "a-1.0.0.tgz", true},
		{"https://registry.example/a/-/a-1.0.0.tgz/extra", "", "", false},
		{"https://registry.example/a/-/.tgz", "", "", false},
		{"https://registry.example/a/-/x/a-1.0.0.tgz", "", "", false},
		{"https://registry.example/foo.tgz", "", "", false},
		{"https://registry.example/-/x.tgz", "", "", false},
		{"https://registry.example/a/-/a-1.0.0.zip", "", "", false},
		{"https://registry.example/@s%zz/-/n-1.0.0.tgz", "", "", false},
		{"https://registry.example/@s/-/n-1.0.0.tgz", "", "", false},
		{"https://registry.example", "", "", false},
		{"file:/a/-/a-1.0.0.tgz", "", "", false},
		{"git+https://host.example/a/-/a-1.0.0.tgz", "", "", false},
		{"not a url", "", "", false},
		{"", "", "", false},
	}
	for _, tt := range tests {
		name, file, ok := RegistryTarball(tt.in)
		if diff := cmp.Diff([]any{tt.name, tt.file, tt.ok}, []any{name, file, ok}); diff != "" {
			t.Errorf("RegistryTarball(%q) mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
}

func FuzzRegistryTarball(f *testing.F) {
	for _, s := range []string{
		"https://registry.example/a/-/a-1.0.0.tgz",
		"https://registry.example/@s%2Fb/-/b-1.0.0.tgz",
		"http://h.example/x/@s/b/-/b-1.tgz?q#f",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, file, ok := RegistryTarball(s)
		if !ok {
			return
		}
		if name == "" || len(file) <= 4 {
			t.Fatalf("RegistryTarball(%q) = %q, %q, true: empty part", s, name, file)
		}
	})
}
