package dnsproxy

import (
	"strings"
	"testing"
	"time"
)

func TestTunnelCheck(t *testing.T) {
	tests := []struct {
		name     string
		qname    string
		want     string
		wantHard bool
	}{
		{"ordinary", "registry.npmjs.example", "", false},
		{"long_words_no_digits", "my-company-production-artifacts-bucket.s3.example", "", false},
		{"short_hash", "d111111abcdef8.cloudfront.example", "", false},
		{"long_label", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.evil.example", "dns tunnelling suspected: label of 51 bytes", true},
		{"base32_payload", "nix3yregk4camvfm5ugxoy7nj7g7lcqo.evil.example", "dns tunnelling suspected: high-entropy label (4.3 bits/char)", false},
		{"hex_payload", "7b3e71c6ebb90455f22a08df004b5a9d.evil.example", "dns tunnelling suspected: high-entropy label (3.9 bits/char)", false},
		{"registrable_part_not_payload", "x.nix3yregk4camvfm5ugxoy7nj7g7lcqo.example", "", false},
		{
			"long_name",
			"a123456789.b123456789.c123456789.d123456789.e123456789.f123456789.g123456789.h123456789.i123456789.j123456789.k123456789.l123456789.m123456789.n123456789.o123456789.evil.example",
			"dns tunnelling suspected: name of 177 bytes", true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newTunnelDetector(50, time.Minute, 0)
			got, hard := d.check(tt.qname, false, time.Unix(0, 0))
			if got != tt.want || hard != tt.wantHard {
				t.Errorf("check(%q) = %q, %v; want %q, %v", tt.qname, got, hard, tt.want, tt.wantHard)
			}
		})
	}
}

func TestTunnelWindowSlides(t *testing.T) {
	d := newTunnelDetector(3, time.Minute, 0)
	t0 := time.Unix(1000, 0)
	names := []string{"a.x.example", "b.x.example", "c.x.example", "d.x.example"}
	var last string
	for _, n := range names {
		last, _ = d.check(n, false, t0)
	}
	if last != "dns tunnelling suspected: 4 unique names under x.example within 1m0s" {
		t.Errorf("fourth name: %q", last)
	}
	// Two minutes later the old names have left the window.
	if got, _ := d.check("e.x.example", false, t0.Add(2*time.Minute)); got != "" {
		t.Errorf("after the window: %q, want nothing", got)
	}
	// Repeating one name is not fan-out.
	d = newTunnelDetector(3, time.Minute, 0)
	for range 10 {
		last, _ = d.check("same.y.example", false, t0)
	}
	if last != "" {
		t.Errorf("repeated name flagged: %q", last)
	}
}

func TestTunnelMemoryBounded(t *testing.T) {
	d := newTunnelDetector(5, time.Hour, 0)
	t0 := time.Unix(0, 0)
	for i := range 1000 {
		d.check(string(rune('a'+i%26))+string(rune('a'+i/26%26))+".z.example", false, t0)
	}
	if n := len(d.domains["z.example"]); n > 20 {
		t.Errorf("kept %d names for one domain, want at most 4x the threshold", n)
	}
}

func TestRegistrable(t *testing.T) {
	for in, want := range map[string]string{
		"a.b.example.com":  "example.com",
		"x.example.co.uk":  "example.co.uk",
		"example.com":      "example.com",
		"localhost":        "",
		"deep.corp.de":     "corp.de",
		"a.b.corp.example": "corp.example",
	} {
		if got := registrable(strings.Split(in, ".")); got != want {
			t.Errorf("registrable(%q) = %q, want %q", in, got, want)
		}
	}
}
