package ciconfig

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLocate(t *testing.T) {
	src := "on: push\n" +
		"jobs:\n" +
		"  a:\n" +
		"    steps:\n" +
		"      - run: |\n" + // line 5
		"          echo one\n" +
		"          echo \"${{ x }}\" ${{ y }}\n" + // line 7
		"      - run: >\n" +
		"          echo\n" +
		"          ${{ z }}\n" + // line 10
		"      - run: \"a \\\"${{ q }}\\\"\"\n" + // line 11
		"      - run: 'é ${{ r }}'\n" // line 12
	s := NewSource([]byte(src))
	tests := []struct {
		name string
		str  String
		off  string // the text whose first occurrence in Value is located
		nth  int    // which occurrence (0-based)
		want Pos
	}{
		{"literal_first_expr", String{Value: "echo one\necho \"${{ x }}\" ${{ y }}\n", Pos: Pos{5, 14}}, "${{", 0, Pos{7, 17}},
		{"literal_second_expr", String{Value: "echo one\necho \"${{ x }}\" ${{ y }}\n", Pos: Pos{5, 14}}, "${{", 1, Pos{7, 27}},
		{"literal_word", String{Value: "echo one\necho \"${{ x }}\" ${{ y }}\n", Pos: Pos{5, 14}}, "echo", 1, Pos{7, 11}},
		{"literal_offset_zero", String{Value: "echo one\necho \"${{ x }}\" ${{ y }}\n", Pos: Pos{5, 14}}, "echo", 0, Pos{6, 11}},
		{"folded", String{Value: "echo ${{ z }}\n", Pos: Pos{8, 14}}, "${{", 0, Pos{10, 11}},
		{"double_quoted", String{Value: "a \"${{ q }}\"", Pos: Pos{11, 14}, Quoted: true}, "${{", 0, Pos{11, 19}},
		{"single_quoted_multibyte", String{Value: "é ${{ r }}", Pos: Pos{12, 14}, Quoted: true}, "${{", 0, Pos{12, 17}},
		{"missing_falls_back", String{Value: "nothing here", Pos: Pos{12, 14}}, "here", 0, Pos{12, 14}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			off := -1
			for i, from := 0, 0; i <= tt.nth; i++ {
				j := strings.Index(tt.str.Value[from:], tt.off)
				if j < 0 {
					off = len(tt.str.Value) - 1
					break
				}
				off = from + j
				from = off + len(tt.off)
			}
			if diff := cmp.Diff(tt.want, s.Locate(&tt.str, off)); diff != "" {
				t.Errorf("Locate mismatch (-want +got):\n%s", diff)
			}
		})
	}
	if got := s.Locate(nil, 3); got != (Pos{}) {
		t.Errorf("Locate(nil) = %v, want zero", got)
	}
}

func TestOffsetAndPosOf(t *testing.T) {
	s := NewSource([]byte("ab\né x\n\nlast"))
	for _, tt := range []struct {
		pos Pos
		off int
	}{{Pos{1, 1}, 0}, {Pos{1, 3}, 2}, {Pos{2, 1}, 3}, {Pos{2, 2}, 5}, {Pos{2, 3}, 6}, {Pos{3, 1}, 8}, {Pos{4, 4}, 12}} {
		if got := s.Offset(tt.pos); got != tt.off {
			t.Errorf("Offset(%v) = %d, want %d", tt.pos, got, tt.off)
		}
		if got := s.PosOf(tt.off); got != tt.pos {
			t.Errorf("PosOf(%d) = %v, want %v", tt.off, got, tt.pos)
		}
	}
	for _, p := range []Pos{{0, 1}, {5, 1}, {1, 0}, {1, 9}} {
		if got := s.Offset(p); got != -1 {
			t.Errorf("Offset(%v) = %d, want -1", p, got)
		}
	}
}

func TestTrailingComment(t *testing.T) {
	src := "a: x@1 # v1.2.3\n" +
		"b: \"x@2\"   # v2\n" +
		"c: 'x@3'#v3\n" +
		"d: x@4\n" +
		"e: x#4 #\n" +
		"f: |\n" +
		"  body # not a comment\n" +
		"g: \"x \\\" # y\" # real\r\n"
	s := NewSource([]byte(src))
	tests := []struct {
		pos  Pos
		want string
		ok   bool
	}{
		{Pos{1, 4}, "v1.2.3", true},
		{Pos{2, 4}, "v2", true},
		{Pos{3, 4}, "v3", true},
		{Pos{4, 4}, "", false},
		{Pos{5, 4}, "", true},
		{Pos{6, 4}, "", false},
		{Pos{8, 4}, "real", true},
	}
	for _, tt := range tests {
		got, ok := s.TrailingComment(&String{Pos: tt.pos})
		if got != tt.want || ok != tt.ok {
			t.Errorf("TrailingComment(%v) = %q, %v; want %q, %v", tt.pos, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseUses(t *testing.T) {
	tests := []struct {
		in   string
		want Uses
	}{
		{"actions/checkout@v4", Uses{Kind: UsesRemote, Owner: "actions", Repo: "checkout", Ref: "v4"}},
		{"github/codeql-action/init@abc", Uses{Kind: UsesRemote, Owner: "github", Repo: "codeql-action", Path: "init", Ref: "abc"}},
		{"o/r/.github/workflows/x.yml@refs/heads/main", Uses{Kind: UsesRemote, Owner: "o", Repo: "r", Path: ".github/workflows/x.yml", Ref: "refs/heads/main"}},
		{"./.github/actions/x", Uses{Kind: UsesLocal, Path: "./.github/actions/x"}},
		{"docker://alpine:3.20", Uses{Kind: UsesDocker, Image: Image{Name: "alpine", Tag: "3.20"}}},
		{"${{ matrix.a }}", Uses{Kind: UsesExpression}},
		{"actions/checkout", Uses{Kind: UsesInvalid}},
		{"checkout@v4", Uses{Kind: UsesInvalid}},
		{"/x@v1", Uses{Kind: UsesInvalid}},
		{"a/@v1", Uses{Kind: UsesInvalid}},
		{"a/b@", Uses{Kind: UsesInvalid}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, ParseUses(tt.in)); diff != "" {
			t.Errorf("ParseUses(%q) mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
	u := ParseUses("o/r/.github/workflows/x.yml@v1")
	if !u.IsReusableWorkflow() || u.Name() != "o/r" || u.FullName() != "o/r/.github/workflows/x.yml" {
		t.Errorf("reusable workflow: %+v", u)
	}
}

func TestParseImage(t *testing.T) {
	const d = "sha256:0a4eaa0eecf5f8c050e5bba433f58c052be7587ee8af3e8b3910ef9ab5fbe9f5"
	tests := []struct {
		in     string
		want   Image
		pinned bool
	}{
		{"node", Image{Name: "node"}, false},
		{"node:20", Image{Name: "node", Tag: "20"}, false},
		{"registry.example:5000/a/b", Image{Name: "registry.example:5000/a/b"}, false},
		{"registry.example:5000/a/b:1.2", Image{Name: "registry.example:5000/a/b", Tag: "1.2"}, false},
		{"node:20@" + d, Image{Name: "node", Tag: "20", Digest: d}, true},
		{"node@" + d, Image{Name: "node", Digest: d}, true},
		{"node@sha256:abc", Image{Name: "node", Digest: "sha256:abc"}, false},
		{"node@sha512:" + d[7:], Image{Name: "node", Digest: "sha512:" + d[7:]}, false},
	}
	for _, tt := range tests {
		got := ParseImage(tt.in)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseImage(%q) mismatch (-want +got):\n%s", tt.in, diff)
		}
		if got.Pinned() != tt.pinned {
			t.Errorf("ParseImage(%q).Pinned() = %v", tt.in, !tt.pinned)
		}
		if got.String() != tt.in {
			t.Errorf("String() = %q, want %q", got.String(), tt.in)
		}
	}
}

func TestIsCommitSHA(t *testing.T) {
	for s, want := range map[string]bool{
		"11bd71901bbe5b1630ceea73d27597364c9af683": true,
		"11BD71901BBE5B1630CEEA73D27597364C9AF683": true,
		"11bd71901bbe5b1630ceea73d27597364c9af68":  false,
		"11bd71901bbe5b1630ceea73d27597364c9af68g": false,
		"v4":                     false,
		strings.Repeat("ab", 32): true,
	} {
		if got := IsCommitSHA(s); got != want {
			t.Errorf("IsCommitSHA(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestLocateIncremental checks that Locate, which continues from its
// previous answer on the same scalar, gives the answers of a fresh Source
// whatever the order of the calls.
func TestLocateIncremental(t *testing.T) {
	src := []byte("job:\n  script:\n    - \"curl a | sh && curl \\u0062 | sh && ${{ x }} curl c | sh && ${{ y }}\"\n")
	value := "curl a | sh && curl b | sh && ${{ x }} curl c | sh && ${{ y }}"
	str := &String{Value: value, Pos: Pos{Line: 3, Column: 7}}
	var offs []int
	for i := 0; i+4 <= len(value); i++ {
		if value[i:i+4] == "curl" || value[i:i+3] == "${{" {
			offs = append(offs, i)
		}
	}
	order := append(append(append([]int{}, offs...), offs[2], offs[0]), offs...)
	shared := NewSource(src)
	for _, off := range order {
		want := NewSource(src).Locate(str, off)
		if got := shared.Locate(str, off); got != want {
			t.Errorf("Locate(%d) = %v after other calls, %v fresh", off, got, want)
		}
	}
	if got := shared.Locate(str, offs[1]); got.Line != 3 || got.Column != 23 {
		t.Errorf("second curl at %v, want 3:23", got)
	}
}
