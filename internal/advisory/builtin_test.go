package advisory

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestBuiltinsCannotBeWithdrawn feeds local records that try to switch off
// the built-in axios detection (MAL-2026-2307: axios 0.30.4 and 1.14.1) in
// every way an OSV record can say so. The detection must hold and each
// attempt must be reported.
func TestBuiltinsCannotBeWithdrawn(t *testing.T) {
	future := "2099-01-01T00:00:00Z"
	tests := []struct {
		name          string
		files         map[string][]byte
		wantConflicts []Conflict
		// alsoAffected is a version the local data adds, which must match.
		alsoAffected string
	}{
		{
			name: "same_id_withdrawn_in_the_future",
			files: map[string][]byte{"a.json": osvJSON(t, "MAL-2026-2307", "npm", "axios", []string{"1.14.1"}, map[string]any{
				"modified": future, "withdrawn": future})},
			wantConflicts: []Conflict{{"MAL-2026-2307", "MAL-2026-2307", ConflictWithdrawn}},
		},
		{
			name: "other_case_withdrawn",
			files: map[string][]byte{"a.json": osvJSON(t, "mal-2026-2307", "npm", "axios", []string{"1.14.1"}, map[string]any{
				"modified": future, "withdrawn": future})},
			wantConflicts: []Conflict{{"mal-2026-2307", "MAL-2026-2307", ConflictIDCase}, {"mal-2026-2307", "MAL-2026-2307", ConflictWithdrawn}},
		},
		{
			name: "padded_id_withdrawn",
			files: map[string][]byte{"a.json": osvJSON(t, " MAL-2026-2307 ", "npm", "axios", []string{"1.14.1"}, map[string]any{
				"withdrawn": future})},
			wantConflicts: []Conflict{{" MAL-2026-2307 ", "MAL-2026-2307", ConflictIDCase}, {" MAL-2026-2307 ", "MAL-2026-2307", ConflictWithdrawn}},
		},
		{
			name: "withdrawn_alias_of_builtin",
			files: map[string][]byte{"a.json": osvJSON(t, "GHSA-fw8c-xr5c-95f9", "npm", "axios", []string{"1.14.1"}, map[string]any{
				"aliases": []string{"MAL-2026-2307"}, "withdrawn": future,
				"database_specific": map[string]any{"type": "malware"}})},
			wantConflicts: []Conflict{{"GHSA-fw8c-xr5c-95f9", "MAL-2026-2307", ConflictWithdrawnAlias}},
		},
		{
			name: "affected_moved_to_another_package",
			files: map[string][]byte{"a.json": osvJSON(t, "MAL-2026-2307", "npm", "not-axios", []string{"1.14.1"}, map[string]any{
				"modified": future})},
			wantConflicts: []Conflict{{"MAL-2026-2307", "MAL-2026-2307", ConflictNarrowed}},
		},
		{
			name: "ranges_that_miss",
			files: map[string][]byte{"a.json": osvJSON(t, "MAL-2026-2307", "npm", "axios", nil, map[string]any{
				"modified": future,
				"affected": []any{map[string]any{
					"package": map[string]any{"ecosystem": "npm", "name": "axios"},
					"ranges":  []any{map[string]any{"type": "SEMVER", "events": []any{map[string]any{"introduced": "999.0.0"}}}},
				}}})},
			wantConflicts: []Conflict{{"MAL-2026-2307", "MAL-2026-2307", ConflictNarrowed}},
			alsoAffected:  "999.1.0",
		},
		{
			// Not a usable OSV record: skipped by Update, so no conflict.
			name: "affected_emptied",
			files: map[string][]byte{"a.json": osvJSON(t, "MAL-2026-2307", "npm", "axios", nil, map[string]any{
				"modified": future, "affected": []any{}})},
		},
		{
			name: "affected_without_versions_or_ranges",
			files: map[string][]byte{"a.json": osvJSON(t, "MAL-2026-2307", "npm", "axios", nil, map[string]any{
				"modified": future, "affected": []any{map[string]any{"package": map[string]any{"ecosystem": "npm", "name": "axios"}}}})},
			wantConflicts: []Conflict{{"MAL-2026-2307", "MAL-2026-2307", ConflictNarrowed}},
		},
		{
			name: "versions_replaced",
			files: map[string][]byte{"a.json": osvJSON(t, "MAL-2026-2307", "npm", "axios", []string{"9.9.9"}, map[string]any{
				"modified": future})},
			wantConflicts: []Conflict{{"MAL-2026-2307", "MAL-2026-2307", ConflictNarrowed}},
			alsoAffected:  "9.9.9",
		},
		{
			name: "honest_refresh_adds_a_version",
			files: map[string][]byte{"a.json": osvJSON(t, "MAL-2026-2307", "npm", "axios", []string{"0.30.4", "1.14.1", "1.14.2"}, map[string]any{
				"modified": future, "aliases": []string{"GHSA-fw8c-xr5c-95f9"}})},
			alsoAffected: "1.14.2",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, dir := t.TempDir(), t.TempDir()
			writeTree(t, src, tt.files)
			// One unrelated record so that an update never fails for want of records.
			writeTree(t, src, map[string][]byte{"z.json": osvJSON(t, "MAL-2026-9001", "npm", "evil-pkg", []string{"1.0.0"}, nil)})
			res, err := Update(context.Background(), UpdateOptions{Dir: dir, From: src, Now: func() time.Time { return fixedNow }})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantConflicts, res.Conflicts); diff != "" {
				t.Errorf("UpdateResult.Conflicts mismatch (-want +got):\n%s", diff)
			}
			db, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range []string{"1.14.1", "0.30.4"} {
				got := db.Lookup("npm", "axios", v)
				if len(got) != 1 || got[0].ID != "MAL-2026-2307" {
					t.Errorf("Lookup axios %s = %+v, want the built-in MAL-2026-2307", v, got)
				}
			}
			if tt.alsoAffected != "" && len(db.Lookup("npm", "axios", tt.alsoAffected)) != 1 {
				t.Errorf("Lookup axios %s: the local record's own versions were lost", tt.alsoAffected)
			}
			if got := db.Lookup("npm", "axios", "1.14.0"); len(got) != 0 {
				t.Errorf("Lookup axios 1.14.0 = %+v, want none", got)
			}
			if diff := cmp.Diff(tt.wantConflicts, db.Status().Conflicts); diff != "" {
				t.Errorf("Status().Conflicts mismatch (-want +got):\n%s", diff)
			}
			if got := db.Status().Records; got < Embedded().Status().Records {
				t.Errorf("Status().Records = %d, fewer than the %d built-in records", got, Embedded().Status().Records)
			}
		})
	}
}

// TestOverlayKeepsOtherRecords checks that an index with no built-in ids
// passes through unchanged and an older copy of a built-in record does not
// replace it.
func TestOverlayKeepsOtherRecords(t *testing.T) {
	emb := Embedded().records
	local := mergeRecords([]*Record{
		mkRec("MAL-2026-2306", nil, aff("npm", "plain-crypto-js", []string{"9.9.9"})),
		mkRec("MAL-2030-1", nil, aff("npm", "x", []string{"1.0.0"})),
	})
	local[0].Modified = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	recs, conflicts := overlay(emb, local)
	if len(recs) != len(emb)+1 {
		t.Errorf("%d records, want %d", len(recs), len(emb)+1)
	}
	db := newDB(recs, Status{})
	for _, v := range []string{"4.2.1", "9.9.9"} {
		if got := db.Lookup("npm", "plain-crypto-js", v); len(got) != 1 || got[0].ID != "MAL-2026-2306" {
			t.Errorf("Lookup plain-crypto-js %s = %+v", v, got)
		}
	}
	if want := []Conflict{{"MAL-2026-2306", "MAL-2026-2306", ConflictNarrowed}}; !cmp.Equal(want, conflicts) {
		t.Errorf("conflicts = %+v, want %+v", conflicts, want)
	}
	// Indicators of the local copy are added; the built-in ones stay.
	local2 := []*Record{mkRec("MAL-2026-2306", nil, aff("npm", "plain-crypto-js", []string{"4.2.1"}))}
	local2[0].IOCs = IOCs{Domains: []string{"c2.example"}}
	recs2, _ := overlay(emb, local2)
	iocs := fmt.Sprint(newDB(recs2, Status{}).IOCs())
	for _, want := range []string{"{domain c2.example MAL-2026-2306}", "{domain sfrclak.com MAL-2026-2306}"} {
		if !strings.Contains(iocs, want) {
			t.Errorf("IOCs = %s, want %s among them", iocs, want)
		}
	}
	// The built-in record itself is not modified.
	if n := len(Embedded().Lookup("npm", "plain-crypto-js", "9.9.9")); n != 0 {
		t.Error("overlay modified the embedded record")
	}
	plain := []*Record{mkRec("MAL-2030-1", nil, aff("npm", "x", []string{"1.0.0"}))}
	if recs, conflicts := overlay(emb, plain); len(recs) != len(emb)+1 || conflicts != nil {
		t.Errorf("overlay of an unrelated record: %d records, conflicts %+v", len(recs), conflicts)
	}
}

// TestOverlayLinearInVariants: many spellings of a built-in id, each with
// its own alias, are merged in linear time and leave the embedded record
// untouched.
func TestOverlayLinearInVariants(t *testing.T) {
	emb := Embedded().records
	before := fmt.Sprint(Embedded().Lookup("npm", "axios", "1.14.1"))
	var local []*Record
	for i := range 20000 {
		id := strings.Repeat(" ", i%1000) + "MAL-2026-2307" + strings.Repeat(" ", i/1000)
		r := mkRec(id, []string{fmt.Sprintf("GHSA-%d", i)}, aff("npm", "axios", []string{"0.30.4", "1.14.1"}))
		local = append(local, r)
	}
	start := time.Now()
	recs, conflicts := overlay(emb, mergeRecords(local))
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("overlay of 20,000 variants took %v", d)
	}
	if len(recs) != len(emb) || len(conflicts) != 20000-1 {
		t.Errorf("%d records, %d conflicts; want %d, %d", len(recs), len(conflicts), len(emb), 20000-1)
	}
	if after := fmt.Sprint(Embedded().Lookup("npm", "axios", "1.14.1")); after != before {
		t.Errorf("embedded record changed: %s, was %s", after, before)
	}
}

// TestHonestAdvisoryIsNoConflict: the published form of an embedded
// advisory (a range, no commit SHAs) narrows nothing.
func TestHonestAdvisoryIsNoConflict(t *testing.T) {
	local := mkRec("GHSA-mrrh-fwg8-r2c3", nil, aff("GitHub Actions", "tj-actions/changed-files", nil, rng("ECOSYSTEM", intro("0"), fixed("46.0.1"))))
	if _, conflicts := overlay(Embedded().records, []*Record{local}); len(conflicts) != 0 {
		t.Errorf("conflicts = %+v, want none", conflicts)
	}
}
