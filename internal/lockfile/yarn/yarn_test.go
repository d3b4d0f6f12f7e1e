package yarn

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/buildwall/buildwall/internal/lockfile"
)

const (
	shaLodash  = "sha512-WWBGtyfDRrPIzxFy0HaPccRrj678i95zax2MixXJQT5RTkjHJJWsd/YhWwqy4EaG9POVDAK/RjxiWi0jaoAHnA=="
	shaAppB    = "sha512-s3tKsUt+I+SwnKeu2AvoYFpToEZ61kQzk79j3w8MvL7RIlK1OEKaQF0AJZWKykc0jRW2VfjsTRBjS++eTqcMKA=="
	shaPatched = "sha512-9g2T6EdgHnaFAnOn3AU56lGXsiMkC01zqBrApKdodPfnJsd/ZcsXP+QN2v2yN/m5XMx3hirhO8RzhjGVjcHsHw=="
)

func TestParse(t *testing.T) {
	tests := []struct {
		file string
		want *lockfile.Lockfile
	}{
		{
			file: "classic.lock",
			want: &lockfile.Lockfile{
				Format:  "yarn",
				Version: "1",
				Packages: []lockfile.Package{
					{
						Name: "@babel/code-frame", Version: "7.12.13",
						Resolved:  "https://registry.example/@babel/code-frame/-/code-frame-7.12.13.tgz",
						Integrity: "sha512-HV1Cm0Q3ZrpCR93tkWOYiuYIgLxZXZFVG2VgK+MBWjUqZTundupbfx2aXarXuw5Ko5aMcjtJgbSXQ0Ef+zYsRJw==",
						Source:    lockfile.SourceRegistry, Line: 5, Column: 1,
					},
					{
						Name: "left-pad", Version: "1.3.0",
						Resolved:  "http://registry.example/left-pad/-/left-pad-1.3.0.tgz",
						Integrity: "sha1-FsOFpsvXxq0GzWpxlar65JMvzz0=",
						Source:    lockfile.SourceRegistry, Line: 12, Column: 1,
					},
					{
						Name: "lodash", Version: "4.17.21",
						Resolved:  "https://registry.example/lodash/-/lodash-4.17.21.tgz",
						Integrity: "sha512-v2kDEe57lecTulaDIuNTPy3Ry4gLGJ6Z1O3vE1krgXZNrsQ+LFTGHVxVjcXPs17LhbZVGedAJv8XZ1tvj5FvSg==",
						Source:    lockfile.SourceRegistry, Line: 16, Column: 1,
					},
					{
						Name: "lodash", Alias: "my-lodash", Version: "4.17.20",
						Resolved:  "https://registry.example/lodash/-/lodash-4.17.20.tgz",
						Integrity: "sha512-PlhdFcillOINfeV7Ni6oF1TAEayyZBoZ8bcshTHqOYJYlrqzRK5hagpagky5o4HfCzzd1TRkXPMFq6cKk9rGmA==",
						Source:    lockfile.SourceRegistry, Line: 21, Column: 1,
					},
					{
						Name: "tiny-lib", Version: "1.0.0",
						Resolved: "git+https://git.example/org/tiny-lib.git#0123456789abcdef0123456789abcdef01234567",
						Source:   lockfile.SourceGit, Line: 26, Column: 1,
					},
					{
						Name: "tarball-dep", Version: "2.0.0",
						Resolved:  "https://cdn.example/tarball-dep-2.0.0.tgz",
						Integrity: "sha1-C+7Hteo/D9vJXQ3UfzxbwnXaijM=",
						Source:    lockfile.SourceTarball, Line: 30, Column: 1,
					},
					{
						Name: "local-thing", Version: "0.1.0",
						Source: lockfile.SourceFile, Line: 34, Column: 1,
					},
					{
						Name: "optional-native", Version: "2.3.2",
						Resolved:  "https://registry.example/optional-native/-/optional-native-2.3.2.tgz",
						Integrity: "sha512-xiqMQR4xAeHTuB9uWm+fFRcIOgKBMiOBP+eXiyT7jsgVCq1bkVygt00oASowB7EdtpOHaaPgKt812P9ab+DDKA==",
						Source:    lockfile.SourceRegistry, Line: 37, Column: 1,
					},
				},
				Descriptors: map[string]string{
					"@babel/code-frame@^7.0.0":     "7.12.13",
					"@babel/code-frame@^7.10.4":    "7.12.13",
					"left-pad@1.3.0":               "1.3.0",
					"lodash@^4.17.0":               "4.17.21",
					"lodash@^4.17.21":              "4.17.21",
					"my-lodash@npm:lodash@4.17.20": "4.17.20",
					"tiny-lib@git+https://git.example/org/tiny-lib.git#v1.0.0": "1.0.0",
					"tarball-dep@https://cdn.example/tarball-dep-2.0.0.tgz":    "2.0.0",
					"local-thing@file:./vendor/local-thing":                    "0.1.0",
					"optional-native@^2.3.2":                                   "2.3.2",
				},
			},
		},
		{
			file: "berry.lock",
			want: &lockfile.Lockfile{
				Format:  "yarn",
				Version: "berry 8",
				Packages: []lockfile.Package{
					{
						Name: "@types/node", Version: "20.11.5", Resolved: "@types/node@npm:20.11.5",
						Integrity: shaAppB, Source: lockfile.SourceRegistry, Line: 8, Column: 1,
					},
					{
						Name: "app-b", Version: "0.0.0-use.local", Resolved: "app-b@workspace:packages/b",
						Source: lockfile.SourceLink, Line: 17, Column: 1,
					},
					{
						Name: "app", Version: "0.0.0-use.local", Resolved: "app@workspace:.",
						Source: lockfile.SourceLink, Line: 26, Column: 1,
					},
					{
						Name: "fsevents", Version: "2.3.3", Resolved: "fsevents@npm:2.3.3",
						Integrity: shaLodash, Source: lockfile.SourceRegistry, Line: 42, Column: 1, Conditions: "os=darwin", Optional: true,
					},
					{
						Name: "lodash", Version: "4.17.21", Resolved: "lodash@npm:4.17.21",
						Integrity: shaLodash, Source: lockfile.SourceRegistry, Line: 52, Column: 1,
					},
					{
						Name: "lodash", Alias: "my-lodash", Version: "4.17.20", Resolved: "lodash@npm:4.17.20",
						Integrity: shaPatched, Source: lockfile.SourceRegistry, Line: 59, Column: 1,
					},
					{
						Name: "resolve", Version: "1.22.8",
						Resolved:  "resolve@patch:resolve@npm%3A1.22.8#optional!builtin<compat/resolve>::version=1.22.8&hash=c3c19d",
						Integrity: shaPatched, Source: lockfile.SourceRegistry, Line: 66, Column: 1,
					},
					{
						Name: "tarball-dep", Version: "2.0.0", Resolved: "tarball-dep@https://cdn.example/tarball-dep-2.0.0.tgz",
						Integrity: shaAppB, Source: lockfile.SourceTarball, Line: 73, Column: 1,
					},
					{
						Name: "tiny-lib", Version: "1.0.0",
						Resolved: "tiny-lib@git+https://git.example/org/tiny-lib.git#commit=0123456789abcdef0123456789abcdef01234567",
						Source:   lockfile.SourceGit, Line: 80, Column: 1,
					},
					{
						Name: "vendored", Version: "3.1.0",
						Resolved: "vendored@file:./vendor/vendored.tgz#./vendor/vendored.tgz::hash=4d5e6f&locator=app%40workspace%3A.",
						Source:   lockfile.SourceFile, Line: 86, Column: 1,
					},
					{
						Name: "linked", Version: "0.0.0-use.local",
						Resolved: "linked@portal:../linked::locator=app%40workspace%3A.",
						Source:   lockfile.SourceLink, Line: 92, Column: 1,
					},
				},
				Importers: map[string]map[string]lockfile.Direct{
					".": {
						"@types/node": {Name: "@types/node", Spec: "^20.0.0", Version: "20.11.5"},
						"app-b":       {Name: "app-b", Spec: "workspace:packages/b", Version: "0.0.0-use.local"},
						"fsevents":    {Name: "fsevents", Spec: "^2.3.2", Version: "2.3.3"},
						"lodash":      {Name: "lodash", Spec: "^4.17.0", Version: "4.17.21"},
						"my-lodash":   {Name: "my-lodash", Spec: "npm:lodash@4.17.20", Version: "4.17.20"},
						"resolve": {
							Name: "resolve", Spec: "patch:resolve@npm%3A^1.22.0#optional!builtin<compat/resolve>",
							Version: "1.22.8",
						},
					},
					"packages/b": {
						"lodash":   {Name: "lodash", Spec: "^4.17.21", Version: "4.17.21"},
						"tiny-lib": {Name: "tiny-lib", Spec: "git+https://git.example/org/tiny-lib.git#v1.0.0", Version: "1.0.0"},
					},
				},
				Descriptors: map[string]string{
					"@types/node@^20.0.0":          "20.11.5",
					"app-b@workspace:packages/b":   "0.0.0-use.local",
					"app@workspace:.":              "0.0.0-use.local",
					"fsevents@^2.3.2":              "2.3.3",
					"lodash@^4.17.0":               "4.17.21",
					"lodash@^4.17.21":              "4.17.21",
					"my-lodash@npm:lodash@4.17.20": "4.17.20",
					"resolve@patch:resolve@npm%3A^1.22.0#optional!builtin<compat/resolve>": "1.22.8",
					"tarball-dep@https://cdn.example/tarball-dep-2.0.0.tgz":                "2.0.0",
					"tiny-lib@git+https://git.example/org/tiny-lib.git#v1.0.0":             "1.0.0",
					"vendored@file:./vendor/vendored.tgz::locator=app%40workspace%3A.":     "3.1.0",
					"linked@portal:../linked::locator=app%40workspace%3A.":                 "0.0.0-use.local",
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
		{"classic_header_without_colon", "# yarn lockfile v1\n\nlodash@^4.17.0\n  version \"4.17.21\"\n", 3},
		{"classic_field_before_entry", "# yarn lockfile v1\n  version \"1.0.0\"\n", 2},
		{"classic_unterminated_quote", "lodash@^4:\n  version \"4.17.21\n", 2},
		{"classic_truncated_header", "lodash@^4:\n  version \"4.17.21\"\n\n\"left-pad@^1", 4},
		{"classic_entry_without_version", "a@^1:\n  version \"1.0.0\"\n\nb@^2:\n  resolved \"https://registry.example/b/-/b-2.0.0.tgz\"\n", 4},
		{"classic_odd_indentation", "a@^1:\n   version \"1.0.0\"\n", 2},
		{"classic_nested_without_block", "a@^1:\n  version \"1.0.0\"\n    b \"^1\"\n", 3},
		{"classic_missing_value", "a@^1:\n  version\n", 2},
		{"classic_tab_indent", "a@^1:\n\tversion \"1.0.0\"\n", 2},
		{"berry_bad_yaml", "__metadata:\n  version: 8\n\n\"a@npm:^1\":\n  version: 1.0.0\n  resolution \"a@npm:1.0.0\"\n", 6},
		{"berry_no_resolution", "__metadata:\n  version: 8\n\n\"a@npm:^1\":\n  version: 1.0.0\n", 4},
		{"berry_no_version", "__metadata:\n  version: 8\n\n\"a@npm:^1\":\n  resolution: \"a@npm:1.0.0\"\n", 4},
		{"berry_entry_not_mapping", "__metadata:\n  version: 8\n\"a@npm:^1\": 1.0.0\n", 3},
		{"berry_bad_checksum", "__metadata:\n  version: 8\n\"a@npm:^1\":\n  version: 1.0.0\n  resolution: \"a@npm:1.0.0\"\n  checksum: 10c0/xyz\n", 6},
		{"berry_metadata_without_version", "__metadata:\n  cacheKey: 10c0\n", 1},
		{"berry_truncated", "__metadata:\n  version: 8\n\n\"a@npm:^1\":\n  version: 1.0.0\n  resolution: \"a@npm:1.0", 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parser{}.Parse("yarn.lock", []byte(tt.input))
			var pe *lockfile.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse error = %v, want *lockfile.ParseError", err)
			}
			if pe.Line != tt.wantLine || pe.Path != "yarn.lock" {
				t.Errorf("Parse error at %s line %d, want yarn.lock line %d (%v)", pe.Path, pe.Line, tt.wantLine, pe)
			}
		})
	}
}

// TestBerryLongKey checks the explicit-key form yarn writes for keys longer
// than 1024 characters, which the YAML subset reader leaves to yaml.v3.
func TestBerryLongKey(t *testing.T) {
	var descs []string
	for i := range 60 {
		descs = append(descs, fmt.Sprintf("big@npm:^1.%d.0", i))
	}
	key := strings.Join(descs, ", ")
	data := "__metadata:\n  version: 8\n  cacheKey: 10c0\n\n? \"" + key + "\"\n:\n  version: 1.59.3\n  resolution: \"big@npm:1.59.3\"\n  languageName: node\n  linkType: hard\n"
	lf, err := Parser{}.Parse("yarn.lock", []byte(data))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := []lockfile.Package{{
		Name: "big", Version: "1.59.3", Resolved: "big@npm:1.59.3",
		Source: lockfile.SourceRegistry, Line: 5, Column: 3,
	}}
	if diff := cmp.Diff(want, lf.Packages); diff != "" {
		t.Errorf("Packages mismatch (-want +got):\n%s", diff)
	}
	if got := len(lf.Descriptors); got != 60 || lf.Descriptors["big@^1.42.0"] != "1.59.3" {
		t.Errorf("Descriptors = %d entries (big@^1.42.0 -> %q), want 60 resolving to 1.59.3", got, lf.Descriptors["big@^1.42.0"])
	}
}
