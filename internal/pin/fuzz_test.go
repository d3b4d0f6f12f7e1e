package pin

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzRewrite checks, for any file of any kind, that Find does not panic,
// that every reference it can rewrite has consistent byte ranges, and that
// the rewrite keeps the line count and every byte outside the splices (the
// output minus the inserted text is the input).
func FuzzRewrite(f *testing.F) {
	seeds := []string{
		"on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - uses: a/b@v1 # c\n",
		"on: push\r\njobs:\r\n  a:\r\n    runs-on: x\r\n    container: 'n:1'\r\n    steps:\r\n      - {uses: \"a/b@v1\", with: {x: 1}}",
		"runs:\n  using: composite\n  steps:\n    - uses: 'a/b/c@main'   \n",
		"FROM --platform=$P golang:1 AS b\nFROM b\nFROM reg.example:5000/x/y:2 as z\n",
		"image: {name: \"r:1\"}\nj:\n  services: [p:16, {name: q}]\n  script: [x]\n",
	}
	for i, s := range seeds {
		f.Add(uint8(i%4+1), []byte(s))
	}
	f.Fuzz(func(t *testing.T, k uint8, data []byte) {
		kind := FileKind(k%4 + 1)
		refs, findErr := Find(kind, data)
		var ss []splice
		inserted := 0
		for i := range refs {
			r := &refs[i]
			if r.Skip != "" {
				continue
			}
			if r.start < 0 || r.end > len(data) || r.start > r.end || string(data[r.start:r.end]) != r.Text {
				t.Fatalf("ref %q has range [%d,%d) over %q", r.Text, r.start, r.end, data)
			}
			var add []splice
			if r.Kind == ActionRef {
				add = actionSplices(data, r, strings.Repeat("a", 40))
			} else {
				add = []splice{imageSplice(r, "sha256:"+strings.Repeat("b", 64))}
			}
			for _, s := range add {
				if strings.ContainsAny(s.text, "\r\n") {
					t.Fatalf("splice inserts a line break: %q", s.text)
				}
				inserted += len(s.text) - (s.end - s.start)
			}
			ss = append(ss, add...)
		}
		out := apply(data, ss)
		if len(out) != len(data)+inserted {
			t.Fatalf("output is %d bytes, want %d", len(out), len(data)+inserted)
		}
		if bytes.Count(out, []byte("\n")) != bytes.Count(data, []byte("\n")) {
			t.Fatal("line count changed")
		}
		if len(ss) == 0 && !bytes.Equal(out, data) {
			t.Fatal("no splices but the output differs")
		}
		// The rewritten file still parses and has nothing left to pin
		// but what was skipped.
		again, err := Find(kind, out)
		if findErr == nil && err != nil {
			t.Fatalf("rewrite broke the file: %v\n%q\n%q", err, data, out)
		}
		if findErr == nil {
			skipped := 0
			for _, r := range refs {
				if r.Skip != "" {
					skipped++
				}
			}
			if len(again) != skipped {
				t.Fatalf("after rewrite %d references left, want %d skipped ones\n%q\n%q", len(again), skipped, data, out)
			}
		}
	})
}
