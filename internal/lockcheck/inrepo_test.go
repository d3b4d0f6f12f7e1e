package lockcheck

import "testing"

func TestInRepository(t *testing.T) {
	for _, tt := range []struct {
		lock, resolved string
		want           bool
	}{
		{"package-lock.json", "file:packages/a", true},
		{"web/package-lock.json", "file:../shared/a-1.0.0.tgz", true},
		{"web/yarn.lock", "a@file:./vendor/a::locator=app%40workspace%3A.", true},
		{"pnpm-lock.yaml", "vendor/a", true},
		{"package-lock.json", "file:../outside", false},
		{"web/package-lock.json", "file:../../outside", false},
		{"package-lock.json", "file:/opt/a", false},
		{"package-lock.json", "file:///opt/a", false},
		{"package-lock.json", "file:~/a", false},
		{"package-lock.json", "file:..", false},
		{"package-lock.json", "file:C:\\a", false},
		{"yarn.lock", "a@exec:./build.js::locator=x", false},
		{"package-lock.json", "", false},
		{"package-lock.json", "file:a/../../b", false},
	} {
		c := &Context{Path: tt.lock}
		if got := c.inRepository(tt.resolved); got != tt.want {
			t.Errorf("%s: inRepository(%q) = %v, want %v", tt.lock, tt.resolved, got, tt.want)
		}
	}
}
