package advisory

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func mkRec(id string, aliases []string, affected ...Affected) *Record {
	return &Record{ID: id, Aliases: aliases, Summary: "summary of " + id, Modified: t0, Affected: affected}
}

func aff(eco, name string, versions []string, ranges ...Range) Affected {
	return Affected{Package: Package{Ecosystem: eco, Name: name}, Versions: versions, Ranges: ranges}
}

func rng(typ string, events ...Event) Range { return Range{Type: typ, Events: events} }

func intro(v string) Event { return Event{Introduced: v} }
func fixed(v string) Event { return Event{Fixed: v} }
func last(v string) Event  { return Event{LastAffected: v} }
func limit(v string) Event { return Event{Limit: v} }

func testDB(t *testing.T) *DB {
	t.Helper()
	withdrawn := mkRec("MAL-2026-0003", nil, aff("npm", "withdrawn-pkg", []string{"1.0.0"}))
	withdrawn.Withdrawn = t0
	recs := []*Record{
		mkRec("MAL-2026-0001", []string{"GHSA-aaaa-bbbb-cccc"}, aff("npm", "axios", []string{"0.30.4", "1.14.1"})),
		mkRec("GHSA-aaaa-bbbb-cccc", []string{"CVE-2026-1"}, aff("npm", "axios", nil, rng("SEMVER", intro("1.14.1"), fixed("1.14.2")))),
		mkRec("MAL-2026-0002", nil, aff("npm", "typosquat", nil, rng("SEMVER", intro("0")))),
		withdrawn,
		mkRec("MAL-2026-0004", nil, aff("npm", "@scope/Pkg", []string{"2.0.0"})),
		mkRec("MAL-2026-0005", nil, aff("npm", "ranged", nil, rng("SEMVER", intro("1.0.0"), fixed("1.2.0"), intro("2.0.0"), last("2.1.0")))),
		mkRec("MAL-2026-0006", nil, aff("npm", "limited", nil, rng("ECOSYSTEM", intro("0"), limit("3.0.0")))),
		mkRec("MAL-2026-0007", nil, aff("PyPI", "Foo_Bar.baz", []string{"1.0"}, rng("ECOSYSTEM", intro("2.0a1"), fixed("2.0.post1")))),
		mkRec("MAL-2026-0008", nil, aff("GitHub Actions", "Owner/Action", []string{"v1", "0123456789ABCDEF0123456789abcdef01234567"}, rng("ECOSYSTEM", intro("0"), fixed("46.0.1")))),
		mkRec("MAL-2026-0009", nil, aff("npm", "gitonly", nil, rng("GIT", intro("0")))),
		mkRec("GHSA-1111-2222-3333", nil, aff("npm", "other", []string{"1.0.0"})),
		mkRec("MAL-2026-0010", []string{"GHSA-1111-2222-3333"}, aff("npm", "other", []string{"1.0.0"})),
		mkRec("PYSEC-2026-9", []string{"GHSA-1111-2222-3333"}, aff("npm", "other", []string{"1.0.0"})),
	}
	return newDB(recs, Status{})
}

func TestLookup(t *testing.T) {
	db := testDB(t)
	tests := []struct {
		name              string
		eco, pkg, version string
		want              []string // "ID [aliases...]"
	}{
		{"versions_list_hit", "npm", "axios", "0.30.4", []string{"MAL-2026-0001 GHSA-aaaa-bbbb-cccc"}},
		{"versions_list_miss", "npm", "axios", "1.14.0", nil},
		{"aliases_deduped_mal_preferred", "npm", "axios", "1.14.1", []string{"MAL-2026-0001 GHSA-aaaa-bbbb-cccc CVE-2026-1"}},
		{"alias_chain_deduped", "npm", "other", "1.0.0", []string{"MAL-2026-0010 GHSA-1111-2222-3333 PYSEC-2026-9"}},
		{"unknown_package", "npm", "left-pad", "1.0.0", nil},
		{"introduced_zero_every_version", "npm", "typosquat", "9.9.9", []string{"MAL-2026-0002"}},
		{"introduced_zero_unparseable_version", "npm", "typosquat", "github:x/y#main", []string{"MAL-2026-0002"}},
		{"withdrawn_never_matches", "npm", "withdrawn-pkg", "1.0.0", nil},
		{"npm_names_case_sensitive", "npm", "@scope/pkg", "2.0.0", nil},
		{"npm_scoped_exact", "npm", "@scope/Pkg", "2.0.0", []string{"MAL-2026-0004"}},
		{"npm_axios_case", "npm", "Axios", "1.14.1", nil},
		{"range_before_introduced", "npm", "ranged", "0.9.0", nil},
		{"range_at_introduced", "npm", "ranged", "1.0.0", []string{"MAL-2026-0005"}},
		{"range_inside", "npm", "ranged", "1.1.9", []string{"MAL-2026-0005"}},
		{"range_prerelease_of_fix_inside", "npm", "ranged", "1.2.0-rc.1", []string{"MAL-2026-0005"}},
		{"range_at_fixed", "npm", "ranged", "1.2.0", nil},
		{"range_between", "npm", "ranged", "1.5.0", nil},
		{"range_second_interval", "npm", "ranged", "2.0.5", []string{"MAL-2026-0005"}},
		{"range_at_last_affected", "npm", "ranged", "2.1.0", []string{"MAL-2026-0005"}},
		{"range_after_last_affected", "npm", "ranged", "2.1.1", nil},
		{"range_unparseable_version", "npm", "ranged", "latest", nil},
		{"limit_below", "npm", "limited", "2.9.9", []string{"MAL-2026-0006"}},
		{"limit_at", "npm", "limited", "3.0.0", nil},
		{"git_ranges_not_evaluated", "npm", "gitonly", "1.0.0", nil},
		{"ecosystem_any_case", "NPM", "axios", "0.30.4", []string{"MAL-2026-0001 GHSA-aaaa-bbbb-cccc"}},
		{"pypi_pep503_name", "pypi", "foo-bar-baz", "1.0", []string{"MAL-2026-0007"}},
		{"pypi_pep503_name_runs", "PyPI", "FOO__bar-.Baz", "1.0", []string{"MAL-2026-0007"}},
		{"pypi_version_equal_spelling", "PyPI", "foo-bar-baz", "1.0.0", []string{"MAL-2026-0007"}},
		{"pypi_dev_before_prerelease", "PyPI", "foo-bar-baz", "2.0a1.dev1", nil},
		{"pypi_prerelease_in_range", "PyPI", "foo-bar-baz", "2.0b2", []string{"MAL-2026-0007"}},
		{"pypi_final_in_range", "PyPI", "foo-bar-baz", "2.0", []string{"MAL-2026-0007"}},
		{"pypi_post_fixed", "PyPI", "foo-bar-baz", "2.0.post1", nil},
		{"pypi_post_spelling_fixed", "PyPI", "foo-bar-baz", "2.0-1", nil},
		{"pypi_post_zero_in_range", "PyPI", "foo-bar-baz", "2.0.post0", []string{"MAL-2026-0007"}},
		{"pypi_below", "PyPI", "foo-bar-baz", "1.9", nil},
		{"actions_name_case_insensitive_tag", "GitHub Actions", "owner/action", "v1", []string{"MAL-2026-0008"}},
		{"actions_sha_case_insensitive", "github actions", "OWNER/ACTION", "0123456789abcdef0123456789ABCDEF01234567", []string{"MAL-2026-0008"}},
		{"actions_other_sha_not_in_range", "GitHub Actions", "owner/action", "1111111111111111111111111111111111111111", nil},
		{"actions_tag_in_range", "GitHub Actions", "owner/action", "v45.0.7", []string{"MAL-2026-0008"}},
		{"actions_tag_fixed", "GitHub Actions", "owner/action", "v46.0.1", nil},
		{"actions_branch_unordered", "GitHub Actions", "owner/action", "main", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, m := range db.Lookup(tt.eco, tt.pkg, tt.version) {
				s := m.ID
				for _, a := range m.Aliases {
					s += " " + a
				}
				got = append(got, s)
			}
			if diff := cmp.Diff(normAliases(tt.want), got); diff != "" {
				t.Errorf("Lookup(%q, %q, %q) mismatch (-want +got):\n%s", tt.eco, tt.pkg, tt.version, diff)
			}
		})
	}
}

// normAliases sorts the aliases part of each "ID aliases..." entry the way
// Lookup returns them.
func normAliases(in []string) []string {
	var out []string
	for _, s := range in {
		f := splitFields(s)
		sortStrings(f[1:])
		j := f[0]
		for _, a := range f[1:] {
			j += " " + a
		}
		out = append(out, j)
	}
	return out
}

func TestLookupMatchFields(t *testing.T) {
	db := testDB(t)
	got := db.Lookup("npm", "axios", "1.14.1")
	want := []Match{{
		ID:        "MAL-2026-0001",
		Aliases:   []string{"CVE-2026-1", "GHSA-aaaa-bbbb-cccc"},
		Summary:   "summary of MAL-2026-0001",
		Ecosystem: "npm",
		Name:      "axios",
		Fixed:     []string{"1.14.2"}, // from the aliased GHSA record's range
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Lookup mismatch (-want +got):\n%s", diff)
	}
	var nilDB *DB
	if got := nilDB.Lookup("npm", "axios", "1.14.1"); got != nil {
		t.Errorf("nil DB Lookup = %v, want nil", got)
	}
}

func TestNormalizeName(t *testing.T) {
	tests := []struct {
		eco, name, want string
	}{
		{"PyPI", "Django", "django"},
		{"PyPI", "zope.interface", "zope-interface"},
		{"PyPI", "a_-_b", "a-b"},
		{"PyPI", "-lead", "lead"},
		{"PyPI", "trail.", "trail"},
		{"npm", "@Scope/Name", "@Scope/Name"},
		{"GitHub Actions", "Checkmarx/KICS-github-action", "checkmarx/kics-github-action"},
		{"Go", "github.com/Foo/bar", "github.com/Foo/bar"},
	}
	for _, tt := range tests {
		if got := NormalizeName(tt.eco, tt.name); got != tt.want {
			t.Errorf("NormalizeName(%q, %q) = %q, want %q", tt.eco, tt.name, got, tt.want)
		}
	}
}

func TestPEP440Order(t *testing.T) {
	// Each version is strictly less than the next (PEP 440's own example
	// ordering, plus epochs and local labels).
	ordered := []string{
		"1.0.dev456", "1.0a1", "1.0a2.dev456", "1.0a12.dev456", "1.0a12",
		"1.0b1.dev456", "1.0b2", "1.0b2.post345.dev456", "1.0b2.post345", "1.0rc1.dev456",
		"1.0rc1", "1.0", "1.0+abc.5", "1.0+abc.7", "1.0+5", "1.0.post456.dev34", "1.0.post456",
		"1.0.15", "1.1.dev1", "2!0.1",
	}
	for i := 0; i+1 < len(ordered); i++ {
		c, ok := comparePEP440(ordered[i], ordered[i+1])
		if !ok || c >= 0 {
			t.Errorf("comparePEP440(%q, %q) = %d, %v; want < 0, true", ordered[i], ordered[i+1], c, ok)
		}
		c, ok = comparePEP440(ordered[i+1], ordered[i])
		if !ok || c <= 0 {
			t.Errorf("comparePEP440(%q, %q) = %d, %v; want > 0, true", ordered[i+1], ordered[i], c, ok)
		}
	}
	equal := [][2]string{
		{"1.0", "1.0.0"}, {"v1.0", "1.0"}, {"1.0alpha1", "1.0a1"}, {"1.0-beta.2", "1.0b2"},
		{"1.0c1", "1.0rc1"}, {"1.0-1", "1.0.post1"}, {"1.0.rev1", "1.0.post1"}, {"1.0-dev", "1.0.dev0"},
		{"1.0RC1", "1.0rc1"}, {"0!1.0", "1.0"},
	}
	for _, p := range equal {
		if c, ok := comparePEP440(p[0], p[1]); !ok || c != 0 {
			t.Errorf("comparePEP440(%q, %q) = %d, %v; want 0, true", p[0], p[1], c, ok)
		}
	}
	for _, bad := range []string{"", "latest", "1.0+", "1..0", "1.0-", "abc1", "1.0+a/b", "99999999999999999999999"} {
		if _, ok := parsePEP440(bad); ok {
			t.Errorf("parsePEP440(%q) ok, want not a version", bad)
		}
	}
}

func splitFields(s string) []string { return strings.Fields(s) }
func sortStrings(s []string)        { slices.Sort(s) }

// TestLookupManyRecordsForOneName: 50,000 records naming one package (a
// hostile export) cost a lookup linear time (it was quadratic: seconds),
// and each comes back once.
func TestLookupManyRecordsForOneName(t *testing.T) {
	var recs []*Record
	for i := range 50000 {
		recs = append(recs, mkRec(fmt.Sprintf("MAL-2030-%05d", i), nil,
			aff("npm", "react", []string{"0.0.1"}), aff("npm", "react", []string{"18.2.0"})))
	}
	db := newDB(recs, Status{})
	start := time.Now()
	got := db.Lookup("npm", "react", "18.2.0")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Lookup took %v", d)
	}
	if len(got) != 50000 || got[0].ID != "MAL-2030-00000" || got[0].Name != "react" {
		t.Errorf("%d matches, first %+v", len(got), got[0])
	}
	if small := newDB(recs[:3], Status{}).Lookup("npm", "react", "18.2.0"); len(small) != 3 {
		t.Errorf("few entries: %d matches, want 3", len(small))
	}
}
