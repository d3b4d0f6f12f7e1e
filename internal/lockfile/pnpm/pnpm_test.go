package pnpm

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/buildwall/buildwall/internal/lockfile"
)

func TestParse(t *testing.T) {
	const (
		gitRepo       = "https://git.example/org/tiny-lib.git"
		commit        = "0123456789abcdef0123456789abcdef01234567"
		hostedTarball = "https://codeload.example/org/hosted/tar.gz/" + commit
	)
	tests := []struct {
		file string
		want *lockfile.Lockfile
	}{
		{
			file: "v9.yaml",
			want: &lockfile.Lockfile{
				Format:  "pnpm",
				Version: "9.0",
				Packages: []lockfile.Package{
					{
						Name: "@babel/core", Version: "7.23.9",
						Integrity: "sha512-5q0175NOjddqpvvzU+kDiSOAk4PfdO6FvwCWoQ6RO7rTzEe8vlo+4HVfcnAREhD4npMs0e9uZypjTwzZPCf/cw==",
						Source:    lockfile.SourceRegistry, Line: 43, Column: 3,
					},
					{
						Name: "fsevents", Version: "2.3.3",
						Integrity: "sha512-5xoDfX+fL7faATnagmWPpbFtwh/R77WmMMqqHGS65C3vvB0YHrgF+B1YmZ3441tMj5n63k0212XNoJwzlhffQw==",
						Source:    lockfile.SourceRegistry, Line: 47, Column: 3, Optional: true,
					},
					{
						Name: "lodash", Version: "4.17.20",
						Integrity: "sha512-PlhdFcillOINfeV7Ni6oF1TAEayyZBoZ8bcshTHqOYJYlrqzRK5hagpagky5o4HfCzzd1TRkXPMFq6cKk9rGmA==",
						Source:    lockfile.SourceRegistry, Line: 52, Column: 3,
					},
					{
						Name: "lodash", Version: "4.17.21",
						Integrity: "sha512-v2kDEe57lecTulaDIuNTPy3Ry4gLGJ6Z1O3vE1krgXZNrsQ+LFTGHVxVjcXPs17LhbZVGedAJv8XZ1tvj5FvSg==",
						Source:    lockfile.SourceRegistry, Line: 55, Column: 3,
					},
					{
						Name: "mirror-pkg", Version: "1.0.0",
						Resolved:  "https://mirror.example/npm/mirror-pkg/-/mirror-pkg-1.0.0.tgz",
						Integrity: "sha512-WWBGtyfDRrPIzxFy0HaPccRrj678i95zax2MixXJQT5RTkjHJJWsd/YhWwqy4EaG9POVDAK/RjxiWi0jaoAHnA==",
						Source:    lockfile.SourceRegistry, Line: 58, Column: 3,
					},
					{
						Name: "react-dom", Version: "18.2.0",
						Integrity: "sha512-6IMTriUmvsjHUjNtEDudZfuDQUoWXVxKHhlEGSk81n4YFS+r/Kl99wXiwlVXtPBtJenozv2P+hxDsw9eA7Xo6g==",
						Source:    lockfile.SourceRegistry, Line: 61, Column: 3,
					},
					{
						Name: "react", Version: "18.2.0",
						Integrity: "sha512-/3IjMdb2L9QbBdWiW5e3P2/npwMBaU9mHCSCUzNln0ZCYbcfTsGbTJrU/kGemdH2IWmB2ioZ+zkxtmq6g09fGQ==",
						Source:    lockfile.SourceRegistry, Line: 66, Column: 3,
					},
					{
						Name: "tarball-dep", Version: "2.0.0", Resolved: "https://cdn.example/tarball-dep-2.0.0.tgz",
						Source: lockfile.SourceTarball, Line: 70, Column: 3,
					},
					{
						Name: "tiny-lib", Version: "1.0.0", Resolved: gitRepo + "#" + commit,
						Source: lockfile.SourceGit, Line: 74, Column: 3,
					},
					{
						Name: "vendored", Version: "3.1.0", Resolved: "vendor/vendored",
						Source: lockfile.SourceFile, Line: 78, Column: 3,
					},
				},
				Importers: map[string]map[string]lockfile.Direct{
					".": {
						"@babel/core": {Name: "@babel/core", Spec: "^7.23.0", Version: "7.23.9"},
						"lodash":      {Name: "lodash", Spec: "^4.17.21", Version: "4.17.21"},
						"my-lodash":   {Name: "my-lodash", Spec: "npm:lodash@4.17.20", Version: "4.17.20"},
						"react-dom":   {Name: "react-dom", Spec: "^18.2.0", Version: "18.2.0"},
						"shared":      {Name: "shared", Spec: "workspace:*", Version: "link:packages/shared"},
						"tiny-lib": {
							Name: "tiny-lib", Spec: "git+" + gitRepo + "#v1.0.0",
							Version: "git+" + gitRepo + "#" + commit,
						},
						"fsevents": {Name: "fsevents", Spec: "^2.3.2", Version: "2.3.3"},
					},
					"packages/shared": {
						"tarball-dep": {
							Name: "tarball-dep", Spec: "https://cdn.example/tarball-dep-2.0.0.tgz",
							Version: "https://cdn.example/tarball-dep-2.0.0.tgz",
						},
					},
				},
			},
		},
		{
			file: "v9_env.yaml",
			want: &lockfile.Lockfile{
				Format:  "pnpm",
				Version: "9.0",
				Packages: []lockfile.Package{
					{
						Name: "pnpm", Version: "12.3.4",
						Integrity: "sha512-WWBGtyfDRrPIzxFy0HaPccRrj678i95zax2MixXJQT5RTkjHJJWsd/YhWwqy4EaG9POVDAK/RjxiWi0jaoAHnA==",
						Source:    lockfile.SourceRegistry, Line: 15, Column: 3,
					},
					{
						Name: "hosted", Version: "1.0.0", Resolved: hostedTarball,
						Integrity: "sha512-9g2T6EdgHnaFAnOn3AU56lGXsiMkC01zqBrApKdodPfnJsd/ZcsXP+QN2v2yN/m5XMx3hirhO8RzhjGVjcHsHw==",
						Source:    lockfile.SourceGit, Line: 43, Column: 3,
					},
					{
						Name: "is-odd", Version: "3.0.1",
						Integrity: "sha512-CQpnWPrDwmP1+SMHXZhtLtJv90yiyVfluGsX5iNCVkrhQtU3TQHsUWPG9wkdk9Lgd5yNpAg9jQEo90CBaXgWMA==",
						Source:    lockfile.SourceRegistry, Line: 47, Column: 3,
					},
				},
				Importers: map[string]map[string]lockfile.Direct{
					".": {
						"hosted": {Name: "hosted", Spec: "github:org/hosted", Version: hostedTarball},
						"is-odd": {Name: "is-odd", Spec: "3.0.1", Version: "3.0.1"},
					},
				},
			},
		},
		{
			file: "v6.yaml",
			want: &lockfile.Lockfile{
				Format:  "pnpm",
				Version: "6.0",
				Packages: []lockfile.Package{
					{
						Name: "@esbuild/linux-x64", Version: "0.19.12",
						Integrity: "sha512-o1rF1JnV5ANkEyHG8VhzbBpBmxG2zbRhSjIxH0r4Ux2q8kRjzx6rJxJ/zxmBn7UX6C7TY2VmyCJZEKH6nFGJ5g==",
						Source:    lockfile.SourceRegistry, Line: 22, Column: 3, Optional: true, InstallScript: true,
					},
					{
						Name: "@types/node", Version: "20.11.5",
						Integrity: "sha512-g557vgQjUUfN76MZAN/dt1z3dzcUsimuysco0KeluHgrPdJXkP/XdAURgyO2W9fZWHRtRBiVKzKn8vyOAwlG+w==",
						Source:    lockfile.SourceRegistry, Line: 31, Column: 3, Dev: true,
					},
					{
						Name: "esbuild", Version: "0.19.12",
						Integrity: "sha512-aARqgq8roFBj054KvQr5f1sFu0D65G+miZRCuJyJ0G13Zwx7vRar5Zhn2tkQNzIXcBrNVsv/8stehpj+GAjgbg==",
						Source:    lockfile.SourceRegistry, Line: 37, Column: 3, InstallScript: true,
					},
					{
						Name: "react-dom", Version: "18.2.0",
						Integrity: "sha512-6IMTriUmvsjHUjNtEDudZfuDQUoWXVxKHhlEGSk81n4YFS+r/Kl99wXiwlVXtPBtJenozv2P+hxDsw9eA7Xo6g==",
						Source:    lockfile.SourceRegistry, Line: 46, Column: 3,
					},
					{
						Name: "react", Version: "18.2.0",
						Integrity: "sha512-/3IjMdb2L9QbBdWiW5e3P2/npwMBaU9mHCSCUzNln0ZCYbcfTsGbTJrU/kGemdH2IWmB2ioZ+zkxtmq6g09fGQ==",
						Source:    lockfile.SourceRegistry, Line: 54, Column: 3,
					},
					{
						Name: "private-pkg", Version: "1.2.3",
						Resolved: "https://registry.example/private-pkg/-/private-pkg-1.2.3.tgz",
						Source:   lockfile.SourceRegistry, Line: 59, Column: 3,
					},
				},
				Importers: map[string]map[string]lockfile.Direct{
					".": {
						"esbuild":     {Name: "esbuild", Spec: "^0.19.0", Version: "0.19.12"},
						"react-dom":   {Name: "react-dom", Spec: "^18.2.0", Version: "18.2.0"},
						"@types/node": {Name: "@types/node", Spec: "^20.0.0", Version: "20.11.5"},
					},
				},
			},
		},
		{
			file: "v5.yaml",
			want: &lockfile.Lockfile{
				Format:  "pnpm",
				Version: "5.4",
				Packages: []lockfile.Package{
					{
						Name: "@scope/util", Version: "1.0.4", Integrity: "sha1-C+7Hteo/D9vJXQ3UfzxbwnXaijM=",
						Source: lockfile.SourceRegistry, Line: 15, Column: 3,
					},
					{
						Name: "react-dom", Version: "17.0.2",
						Integrity: "sha512-s4h96KtLDUQlsENhMn1ar8t2bEa+q/YAtj8pPPdIjPDGBDIVNsrD9aXNWqspUe6AzKCIG0C1HZZLqLV7qpOBGA==",
						Source:    lockfile.SourceRegistry, Line: 19, Column: 3,
					},
					{
						Name: "react", Version: "17.0.2",
						Integrity: "sha512-gnhPt75i/dq/z3/6q/0asP78D0u592D5L1pVCYuyLVMPeMyvLl0ay3jSBaYIB23tkVi+bB9aGbHHS2iy1OEDLQ==",
						Source:    lockfile.SourceRegistry, Line: 27, Column: 3,
					},
					{
						Name: "snake_case_pkg", Version: "2.1.1",
						Integrity: "sha512-WWBGtyfDRrPIzxFy0HaPccRrj678i95zax2MixXJQT5RTkjHJJWsd/YhWwqy4EaG9POVDAK/RjxiWi0jaoAHnA==",
						Source:    lockfile.SourceRegistry, Line: 32, Column: 3, InstallScript: true,
					},
				},
				Importers: map[string]map[string]lockfile.Direct{
					".": {
						"@scope/util":    {Name: "@scope/util", Spec: "^1.0.0", Version: "1.0.4"},
						"react-dom":      {Name: "react-dom", Spec: "^17.0.0", Version: "17.0.2"},
						"snake_case_pkg": {Name: "snake_case_pkg", Spec: "~2.1.0", Version: "2.1.1"},
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
		name     string
		input    string
		wantLine int
	}{
		{"empty", "", 1},
		{"not_a_mapping", "- a\n- b\n", 1},
		{"no_version", "importers:\n  .: {}\n", 1},
		{"bad_version", "lockfileVersion: banana\n", 1},
		{"bad_yaml", "lockfileVersion: '9.0'\npackages:\n  a@1.0.0:\n    resolution: {integrity: sha512-x\n", 4},
		{"bad_yaml_scanner", "lockfileVersion: '9.0'\npackages:\n  a@1.0.0:\n    resolution: {integrity: sha512-x}\n  \"b@1.0.0:\n", 5},
		{"bad_yaml_first_line", "lockfileVersion: [\n", 2},
		{"bad_yaml_block", "lockfileVersion: '9.0'\npackages:\n  a@1.0.0:\n    x: 1\n   y: 2\n", 3}, // yaml.v3 points at the enclosing mapping
		{"no_resolution", "lockfileVersion: '9.0'\n\npackages:\n\n  a@1.0.0:\n    engines: {node: '>=8'}\n", 5},
		{"empty_resolution", "lockfileVersion: '9.0'\npackages:\n  a@1.0.0:\n    resolution: {}\n", 4},
		{"package_not_mapping", "lockfileVersion: '9.0'\npackages:\n  a@1.0.0: 1\n", 3},
		{"key_without_version", "lockfileVersion: '9.0'\npackages:\n  justaname:\n    resolution: {integrity: sha512-AA==}\n", 3},
		{"packages_not_mapping", "lockfileVersion: '9.0'\npackages: [a]\n", 2},
		{"importer_not_mapping", "lockfileVersion: '9.0'\nimporters:\n  .: [a]\n", 3},
		{"dependency_bad", "lockfileVersion: '6.0'\ndependencies:\n  a: [1]\n", 3},
		{"truncated", "lockfileVersion: '9.0'\npackages:\n  a@1.0.0:\n    resolution: {integrity: sha512-AA==}\n  b@2.0.0:\n    resol", 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parser{}.Parse("pnpm-lock.yaml", []byte(tt.input))
			var pe *lockfile.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse error = %v, want *lockfile.ParseError", err)
			}
			if pe.Line != tt.wantLine || pe.Path != "pnpm-lock.yaml" {
				t.Errorf("Parse error at %s line %d, want pnpm-lock.yaml line %d (%v)", pe.Path, pe.Line, tt.wantLine, pe)
			}
		})
	}
}
