package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/buildwall/buildwall/internal/lockfile"
)

func TestParse(t *testing.T) {
	data, err := os.ReadFile("testdata/package.json")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse("package.json", data)
	if err != nil {
		t.Fatal(err)
	}
	want := &lockfile.Manifest{
		Path:    "package.json",
		Name:    "@acme/app",
		Version: "1.2.3",
		Dependencies: []lockfile.Dependency{
			{Name: "axios", Spec: "1.7.9", Kind: lockfile.DepProd, Line: 16, Column: 5}, // the later duplicate wins
			{Name: "left-pad", Spec: "github:owner/left-pad#v1", Kind: lockfile.DepProd, Line: 15, Column: 5},
			{Name: "typescript", Spec: "~5.4.0", Kind: lockfile.DepDev, Line: 19, Column: 5},
			{Name: "wéird", Spec: "npm:real@^1", Kind: lockfile.DepDev, Line: 20, Column: 5},
			{Name: "react", Spec: ">=18", Kind: lockfile.DepPeer, Line: 23, Column: 5},
			{Name: "fsevents", Spec: "^2.3.0", Kind: lockfile.DepOptional, Line: 26, Column: 5},
		},
		Workspaces: []string{"packages/*", "tools/cli"},
		Scripts:    map[string]string{"build": "tsc -p .", "postinstall": "node scripts/setup.js"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("manifest mismatch (-want +got):\n%s", diff)
	}
}

func TestParseForms(t *testing.T) {
	tests := []struct {
		name, in string
		want     *lockfile.Manifest
	}{
		{"empty_object", `{}`, &lockfile.Manifest{Path: "p"}},
		{"workspaces_object", `{"workspaces": {"packages": ["a/*"], "nohoist": ["**/x"]}}`,
			&lockfile.Manifest{Path: "p", Workspaces: []string{"a/*"}}},
		{"minified", `{"dependencies":{"a":"1"},"devDependencies":{"b":"2"}}`, &lockfile.Manifest{Path: "p", Dependencies: []lockfile.Dependency{
			{Name: "a", Spec: "1", Kind: lockfile.DepProd, Line: 1, Column: 18},
			{Name: "b", Spec: "2", Kind: lockfile.DepDev, Line: 1, Column: 46},
		}}},
		{"same_name_two_sections", "{\"dependencies\":{\"a\":\"1\"},\n\"peerDependencies\":{\"a\":\"*\"}}", &lockfile.Manifest{Path: "p", Dependencies: []lockfile.Dependency{
			{Name: "a", Spec: "1", Kind: lockfile.DepProd, Line: 1, Column: 18},
			{Name: "a", Spec: "*", Kind: lockfile.DepPeer, Line: 2, Column: 21},
		}}},
		{"ignores_unknown_types", `{"bin": 3, "files": [1], "private": "yes"}`, &lockfile.Manifest{Path: "p"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse("p", []byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("manifest mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in string
		want     lockfile.ParseError
	}{
		{"not_object", ` "x"`, lockfile.ParseError{Line: 1, Column: 2, Msg: "package.json must be a JSON object, found string"}},
		{"truncated", "{\n  \"dependencies\": {\n    \"a\": \"^1", lockfile.ParseError{Line: 3, Column: 10, Msg: "unterminated string"}},
		{"spec_not_string", "{\"dependencies\": {\"a\": 1}}", lockfile.ParseError{Line: 1, Column: 24, Msg: `"a" must be a string, found number`}},
		{"section_not_object", "{\"devDependencies\": []}", lockfile.ParseError{Line: 1, Column: 21, Msg: `"devDependencies" must be an object, found array`}},
		{"name_not_string", "{\"name\": null}", lockfile.ParseError{Line: 1, Column: 10, Msg: `"name" must be a string, found null`}},
		{"workspaces_string", "{\"workspaces\": \"a\"}", lockfile.ParseError{Line: 1, Column: 16, Msg: `"workspaces" must be an array or an object, found string`}},
		{"workspace_glob_number", "{\"workspaces\": {\"packages\": [1]}}", lockfile.ParseError{Line: 1, Column: 30, Msg: `"workspaces.packages[]" must be a string, found number`}},
		{"script_not_string", "{\"scripts\": {\"x\": true}}", lockfile.ParseError{Line: 1, Column: 19, Msg: `"x" must be a string, found boolean`}},
		{"trailing_comma", "{\"a\": 1,}", lockfile.ParseError{Line: 1, Column: 9, Msg: "unexpected character '}', expected a string key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse("package.json", []byte(tt.in))
			var pe *lockfile.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse = %v, %v; want a *lockfile.ParseError", m, err)
			}
			tt.want.Path = "package.json"
			if diff := cmp.Diff(tt.want, *pe); diff != "" {
				t.Errorf("error mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzParse checks that Parse never panics, fails only with a positioned
// *lockfile.ParseError, accepts only valid JSON, and that every dependency
// it returns has a position and a known kind.
func FuzzParse(f *testing.F) {
	if data, err := os.ReadFile("testdata/package.json"); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`{"overrides": {"a": {"b@1": {".": "2"}}}, "resolutions": {"@s/x/**/y": "1"}, "pnpm": {"overrides": {"p>q": "1"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse("package.json", data)
		if err != nil {
			var pe *lockfile.ParseError
			if !errors.As(err, &pe) || pe.Line < 1 || pe.Column < 1 {
				t.Fatalf("error %v is not a positioned *lockfile.ParseError", err)
			}
			return
		}
		if !json.Valid(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))) {
			t.Fatalf("Parse accepted invalid JSON %q", data)
		}
		for _, d := range m.Dependencies {
			if d.Line < 1 || d.Column < 1 {
				t.Fatalf("dependency without position: %+v", d)
			}
			switch d.Kind {
			case lockfile.DepProd, lockfile.DepDev, lockfile.DepOptional, lockfile.DepPeer:
			default:
				t.Fatalf("unknown kind %q", d.Kind)
			}
		}
	})
}

func TestOverrideTargets(t *testing.T) {
	src := `{"overrides": {"a": "1", "b@^2": {".": "2", "c": "3"}, "@s/d": "4"},
	"resolutions": {"**/e": "1", "p/@s/f": "2", "@s/g@npm:^1": "patch:x", "p/**/h@1": "3"},
	"pnpm": {"overrides": {"i@<2": "1", "p@1>@s/j": "2", "k": "3"}, "other": 1}}`
	m, err := Parse("package.json", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"a": "overrides", "b": "overrides", "c": "overrides", "@s/d": "overrides",
		"e": "resolutions", "@s/f": "resolutions", "@s/g": "resolutions", "h": "resolutions",
		"i": "pnpm.overrides", "@s/j": "pnpm.overrides", "k": "pnpm.overrides",
	}
	if len(m.Overrides) != len(want) {
		t.Errorf("got %v, want %v", m.Overrides, want)
	}
	for k, v := range want {
		if m.Overrides[k] != v {
			t.Errorf("Overrides[%q] = %q, want %q", k, m.Overrides[k], v)
		}
	}
	if _, err := Parse("package.json", []byte(`{"resolutions": []}`)); err == nil {
		t.Error("resolutions as an array: no error")
	}
}

// TestDeepOverrides: nested npm overrides recurse, so hostile nesting must
// end in a positioned error, not a stack overflow.
func TestDeepOverrides(t *testing.T) {
	const n = 100000
	src := `{"overrides": ` + strings.Repeat(`{"a": `, n) + `"1"` + strings.Repeat(`}`, n) + `}`
	_, err := Parse("package.json", []byte(src))
	var pe *lockfile.ParseError
	if !errors.As(err, &pe) || pe.Line < 1 {
		t.Fatalf("Parse of %d nested overrides: err = %v, want a positioned ParseError", n, err)
	}
}
