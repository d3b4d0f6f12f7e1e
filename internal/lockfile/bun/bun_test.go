package bun

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/buildwall/buildwall/internal/lockfile"
)

func TestParse(t *testing.T) {
	const tarball = "https://cdn.example/tarball-dep-2.0.0.tgz"
	tests := []struct {
		file string
		want *lockfile.Lockfile
	}{
		{
			file: "bun.lock",
			want: &lockfile.Lockfile{
				Format:  "bun",
				Version: "1",
				Packages: []lockfile.Package{
					{
						Name: "@types/node", Version: "20.11.5", Path: "node_modules/@types/node",
						Integrity: "sha512-g557vgQjUUfN76MZAN/dt1z3dzcUsimuysco0KeluHgrPdJXkP/XdAURgyO2W9fZWHRtRBiVKzKn8vyOAwlG+w==",
						Source:    lockfile.SourceRegistry, Line: 32, Column: 5,
					},
					{
						Name: "esbuild", Version: "0.19.12", Path: "node_modules/esbuild",
						Integrity: "sha512-aARqgq8roFBj054KvQr5f1sFu0D65G+miZRCuJyJ0G13Zwx7vRar5Zhn2tkQNzIXcBrNVsv/8stehpj+GAjgbg==",
						Source:    lockfile.SourceRegistry, Line: 34, Column: 5, InstallScript: true,
					},
					{
						Name: "lodash", Version: "4.17.21", Path: "node_modules/lodash",
						Resolved:  "https://mirror.example/npm/lodash/-/lodash-4.17.21.tgz",
						Integrity: "sha512-v2kDEe57lecTulaDIuNTPy3Ry4gLGJ6Z1O3vE1krgXZNrsQ+LFTGHVxVjcXPs17LhbZVGedAJv8XZ1tvj5FvSg==",
						Source:    lockfile.SourceRegistry, Line: 36, Column: 5,
					},
					{
						Name: "lodash", Alias: "my-lodash", Version: "4.17.20", Path: "node_modules/my-lodash",
						Integrity: "sha512-PlhdFcillOINfeV7Ni6oF1TAEayyZBoZ8bcshTHqOYJYlrqzRK5hagpagky5o4HfCzzd1TRkXPMFq6cKk9rGmA==",
						Source:    lockfile.SourceRegistry, Line: 38, Column: 5,
					},
					{
						Name: "shared", Version: "0.3.0", Path: "node_modules/shared", Resolved: "workspace:packages/shared",
						Source: lockfile.SourceLink, Line: 40, Column: 5,
					},
					{
						Name: "tarball-dep", Version: tarball, Path: "node_modules/tarball-dep", Resolved: tarball,
						Integrity: "sha512-WWBGtyfDRrPIzxFy0HaPccRrj678i95zax2MixXJQT5RTkjHJJWsd/YhWwqy4EaG9POVDAK/RjxiWi0jaoAHnA==",
						Source:    lockfile.SourceTarball, Line: 42, Column: 5,
					},
					{
						Name: "tiny-lib", Version: "github:org/tiny-lib#0123456", Path: "node_modules/tiny-lib",
						Resolved:  "github:org/tiny-lib#0123456",
						Integrity: "sha512-JlCMO+ehdEIKqlFxk6IfVoAUVmgz7cU7zD/h9XZ0qzeosSHmUJVOzSQvvYSYWXkFXC+IfLKSIffhv0sVZup6pA==",
						Source:    lockfile.SourceGit, Line: 44, Column: 5,
					},
					{
						Name: "vendored", Version: "file:vendor/vendored", Path: "node_modules/vendored",
						Resolved: "file:vendor/vendored", Source: lockfile.SourceFile, Line: 46, Column: 5,
					},
					{
						Name: "lodash", Version: "3.10.1", Path: "node_modules/shared/node_modules/lodash",
						Integrity: "sha512-9mDDwqVIma6OZX79ZlDACZl8sBm0TEnkf99zV3iMA4GzkIT/9hiqP5mY0HoT1iNLCrKc/R1HByV+yJfRWVJryQ==",
						Source:    lockfile.SourceRegistry, Line: 48, Column: 5,
					},
					{
						Name: "undici-types", Version: "5.26.5", Path: "node_modules/@types/node/node_modules/undici-types",
						Integrity: "sha512-JlCMO+ehdEIKqlFxk6IfVoAUVmgz7cU7zD/h9XZ0qzeosSHmUJVOzSQvvYSYWXkFXC+IfLKSIffhv0sVZup6pA==",
						Source:    lockfile.SourceRegistry, Line: 50, Column: 5,
					},
					{
						Name: "local-tgz", Version: "./vendor/local-tgz-1.0.0.tgz", Path: "node_modules/local-tgz",
						Resolved:  "./vendor/local-tgz-1.0.0.tgz",
						Integrity: "sha512-9mDDwqVIma6OZX79ZlDACZl8sBm0TEnkf99zV3iMA4GzkIT/9hiqP5mY0HoT1iNLCrKc/R1HByV+yJfRWVJryQ==",
						Source:    lockfile.SourceFile, Line: 52, Column: 5,
					},
				},
				Importers: map[string]map[string]lockfile.Direct{
					".": {
						"@types/node": {Name: "@types/node", Spec: "^20.0.0", Version: "20.11.5"},
						"esbuild":     {Name: "esbuild", Spec: "^0.19.0", Version: "0.19.12"},
						"lodash":      {Name: "lodash", Spec: "^4.17.21", Version: "4.17.21"},
						"my-lodash":   {Name: "my-lodash", Spec: "npm:lodash@4.17.20", Version: "4.17.20"},
						"shared":      {Name: "shared", Spec: "workspace:*", Version: "0.3.0"},
						"tiny-lib":    {Name: "tiny-lib", Spec: "github:org/tiny-lib#v1.0.0", Version: "github:org/tiny-lib#0123456"},
						"tarball-dep": {Name: "tarball-dep", Spec: tarball, Version: tarball},
					},
					"packages/shared": {
						"lodash":   {Name: "lodash", Spec: "^3.10.0", Version: "3.10.1"},
						"vendored": {Name: "vendored", Spec: "file:../../vendor/vendored", Version: "file:vendor/vendored"},
					},
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", tt.file)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Parser{}.Parse(path, data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			tt.want.Path = path
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse(%s) mismatch (-want +got):\n%s", tt.file, diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name              string
		input             string
		wantLine, wantCol int
	}{
		{"empty", "", 1, 1},
		{"not_an_object", "[1, 2]", 1, 1},
		{"no_version", "{\n  \"packages\": {}\n}\n", 1, 1},
		{"version_not_number", "{\"lockfileVersion\": \"1\"}", 1, 1},
		{"missing_comma", "{\n  \"lockfileVersion\": 1\n  \"packages\": {}\n}\n", 3, 3},
		{"truncated", "{\n  \"lockfileVersion\": 1,\n  \"packages\": {\n    \"a\": [\"a@1.0.0\", \"\", {}, \"sha512-", 4, 30},
		{"truncated_after_comma", "{\n  \"lockfileVersion\": 1,\n  \"packages\": {\n    \"a\": [\"a@1.0.0\", \"\", {}, \"sha512-AA==\"],\n", 5, 1},
		{"unterminated_comment", "{\"lockfileVersion\": 1 /* oops\n}", 1, 23},
		{"trailing_garbage", "{\"lockfileVersion\": 1}\n}", 2, 1},
		{"bad_literal", "{\n\"lockfileVersion\": tru\n}", 2, 20},
		{"control_char", "{\"lockfileVersion\": 1, \"x\": \"a\nb\"}", 1, 31},
		{"bad_escape", "{\"lockfileVersion\": 1, \"x\": \"\\q\"}", 1, 29},
		{"packages_not_object", "{\"lockfileVersion\": 1,\n\"packages\": []}", 2, 13},
		{"package_not_array", "{\"lockfileVersion\": 1, \"packages\": {\n  \"a\": \"a@1.0.0\"}}", 2, 3},
		{"package_empty", "{\"lockfileVersion\": 1, \"packages\": {\n  \"a\": []}}", 2, 3},
		{"ident_without_version", "{\"lockfileVersion\": 1, \"packages\": {\n  \"a\": [\"a\"]}}", 2, 9},
		{"registry_short", "{\"lockfileVersion\": 1, \"packages\": {\n  \"a\": [\"a@1.0.0\", \"\"]}}", 2, 3},
		{"workspace_not_object", "{\"lockfileVersion\": 1, \"workspaces\": {\n  \"\": 1}}", 2, 3},
		{"dependency_not_string", "{\"lockfileVersion\": 1, \"workspaces\": {\"\": {\"dependencies\": {\n  \"a\": 1}}}}", 2, 3},
		{"trusted_not_array", "{\"lockfileVersion\": 1,\n \"trustedDependencies\": {}}", 2, 25},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parser{}.Parse("bun.lock", []byte(tt.input))
			var pe *lockfile.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse error = %v, want *lockfile.ParseError", err)
			}
			if pe.Line != tt.wantLine || pe.Column != tt.wantCol || pe.Path != "bun.lock" {
				t.Errorf("Parse error at %s:%d:%d, want bun.lock:%d:%d (%v)", pe.Path, pe.Line, pe.Column, tt.wantLine, tt.wantCol, pe)
			}
		})
	}
}
