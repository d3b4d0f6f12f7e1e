package advisory

import (
	"cmp"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Match is one advisory that affects a looked-up package version.
type Match struct {
	// ID is the record's id; when several matching records alias one
	// another, the MAL-* id is preferred, then GHSA-*, then the smallest.
	ID string
	// Aliases are the other ids of the same advisory, sorted.
	Aliases []string
	Summary string
	// Ecosystem and Name are the package as the record spells it.
	Ecosystem, Name string
	// Fixed are the versions the records name as fixing the package
	// (OSV "fixed" events of its ranges), in record order without
	// repeats: the known-good releases to move to. Empty when none is named.
	Fixed []string
}

// DB is a read-only set of malicious-package records indexed for lookup.
// It is safe for concurrent use; its methods never modify it.
type DB struct {
	records []*Record
	byKey   map[pkgKey][]entry
	status  Status
}

type entry struct {
	rec *Record
	aff *Affected
	eco string
}

// Status describes a DB for `buildwall db status`.
type Status struct {
	// IndexPath is the local index file Open looked for.
	IndexPath string
	// EmbeddedOnly is true when no local index was found (or none was
	// asked for) and only the records compiled into the binary are in use.
	EmbeddedOnly bool
	// UpdatedAt is when the local index was written; zero when EmbeddedOnly.
	UpdatedAt time.Time
	// Source is where the local index was built from (a path or URL).
	Source string
	// Records counts distinct, not withdrawn records; Withdrawn counts the
	// withdrawn ones (they never match).
	Records, Withdrawn int
	// EmbeddedRecords is the size of the compiled-in set.
	EmbeddedRecords int
	// Ecosystems counts records per ecosystem, sorted by ecosystem name. A
	// record affecting packages of two ecosystems counts in both.
	Ecosystems []EcosystemCount
	// Newest is the newest `modified` time of any record: how fresh the
	// data is.
	Newest time.Time
	// Conflicts are the local records that tried to withdraw, narrow or
	// rename a built-in record; the built-in records stay in force.
	Conflicts []Conflict
	// FutureDated counts local records modified more than a day after the
	// index was written (and after the newest built-in record): data
	// cannot be newer than its export, so they are left out of Newest
	// rather than let them make stale data look fresh.
	FutureDated int
}

// EcosystemCount is the number of records for one ecosystem.
type EcosystemCount struct {
	Ecosystem string `json:"ecosystem"`
	Records   int    `json:"records"`
}

// IndexFile is the name of the local index inside the database directory.
const IndexFile = "index.bwdb"

//go:embed data/*.json
var embeddedFS embed.FS

var embedded = sync.OnceValues(func() (*DB, error) {
	recs, err := loadEmbedded(embeddedFS)
	if err != nil {
		return newDB(nil, Status{EmbeddedOnly: true}), err
	}
	return newDB(recs, Status{EmbeddedOnly: true, EmbeddedRecords: len(recs)}), nil
})

func loadEmbedded(fsys fs.FS) ([]*Record, error) {
	names, err := fs.Glob(fsys, "data/*.json")
	if err != nil {
		return nil, fmt.Errorf("list embedded records: %w", err)
	}
	var recs []*Record
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, fmt.Errorf("read embedded record %s: %w", n, err)
		}
		r, err := ParseRecord(b)
		if err != nil {
			return nil, fmt.Errorf("parse embedded record %s: %w", n, err)
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// Embedded returns the curated records compiled into the binary. The
// embedded set is checked by the package's tests; should it ever fail to
// parse, Embedded returns an empty DB rather than panicking.
func Embedded() *DB {
	db, _ := embedded()
	return db
}

// DefaultDir returns the default database directory,
// os.UserCacheDir()/buildwall/db.
func DefaultDir() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find user cache directory: %w", err)
	}
	return filepath.Join(d, "buildwall", "db"), nil
}

// Open loads the local index in dir and merges it with the embedded
// records. Built-in records cannot be withdrawn or replaced by the index:
// a local record with a built-in id (in any case) only adds affected
// packages to it, whatever its `modified` time, and the attempts to
// withdraw or narrow one are listed in Status().Conflicts. A missing index is not an error: the DB then holds the embedded records
// only (Status().EmbeddedOnly). A corrupt index is an error wrapping
// ErrCorruptIndex.
func Open(dir string) (*DB, error) {
	path := filepath.Join(dir, IndexFile)
	emb := Embedded()
	idx, err := readIndexFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		db := *emb // shares the read-only maps and records
		db.status.IndexPath = path
		return &db, nil
	}
	if err != nil {
		return nil, err
	}
	recs, conflicts := overlay(emb.records, idx.records)
	db := newDB(recs, Status{
		IndexPath:       path,
		UpdatedAt:       idx.updatedAt,
		Source:          idx.source,
		EmbeddedRecords: len(emb.records),
		Conflicts:       conflicts,
	})
	db.status.Newest, db.status.FutureDated = freshness(recs, maxTime(idx.updatedAt, emb.status.Newest).Add(24*time.Hour))
	return db, nil
}

// freshness returns the newest modified time of recs no later than
// cutoff, and how many records are dated after it.
func freshness(recs []*Record, cutoff time.Time) (newest time.Time, future int) {
	for _, r := range recs {
		switch {
		case r.Modified.After(cutoff):
			future++
		case r.Modified.After(newest):
			newest = r.Modified
		}
	}
	return newest, future
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// mergeRecords dedupes by id, keeping the record with the newer modified
// time (the later list wins ties), and returns them sorted by id. Lists
// that are already sorted with unique ids (an index, the embedded set) are
// merged in linear time.
func mergeRecords(lists ...[]*Record) []*Record {
	var out []*Record
	for _, l := range lists {
		if !sortedUnique(l) {
			l = slices.Clone(l)
			slices.SortStableFunc(l, func(a, b *Record) int { return strings.Compare(a.ID, b.ID) })
			l = dedupeSorted(l)
		}
		out = mergeSorted(out, l)
	}
	return out
}

func sortedUnique(l []*Record) bool {
	for i := 1; i < len(l); i++ {
		if l[i-1].ID >= l[i].ID {
			return false
		}
	}
	return true
}

// dedupeSorted keeps one record per id of a list sorted stably by id: the
// newest, the later one on ties.
func dedupeSorted(l []*Record) []*Record {
	out := l[:0:0]
	for _, r := range l {
		if n := len(out); n > 0 && out[n-1].ID == r.ID {
			if !out[n-1].Modified.After(r.Modified) {
				out[n-1] = r
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// mergeSorted merges two sorted, unique lists; on equal ids the newer
// record wins, b on ties.
func mergeSorted(a, b []*Record) []*Record {
	if len(a) == 0 {
		return b
	}
	if len(b) == 0 {
		return a
	}
	out := make([]*Record, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch c := strings.Compare(a[i].ID, b[j].ID); {
		case c < 0:
			out = append(out, a[i])
			i++
		case c > 0:
			out = append(out, b[j])
			j++
		default:
			if a[i].Modified.After(b[j].Modified) {
				out = append(out, a[i])
			} else {
				out = append(out, b[j])
			}
			i++
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

// newDB indexes recs (which must have unique ids) and fills in the counts
// of st.
func newDB(recs []*Record, st Status) *DB {
	db := &DB{records: recs, byKey: make(map[pkgKey][]entry, len(recs))}
	st.Records, st.Withdrawn, st.Newest, st.Ecosystems = 0, 0, time.Time{}, nil // recomputed below
	perEco := map[string]int{}
	var slab []entry
	for _, r := range recs {
		if r.Modified.After(st.Newest) {
			st.Newest = r.Modified
		}
		if !r.Withdrawn.IsZero() {
			st.Withdrawn++
		} else {
			st.Records++
		}
		for i := range r.Affected {
			a := &r.Affected[i]
			eco := CanonicalEcosystem(a.Package.Ecosystem)
			k := key(eco, a.Package.Name)
			// Most names have one entry: carve it from a slab, capped so
			// that a second entry for the name reallocates.
			if len(slab) == cap(slab) {
				slab = make([]entry, 0, max(256, len(recs)-len(slab)))
			}
			slab = append(slab, entry{rec: r, aff: a, eco: eco})
			e := slab[len(slab)-1 : len(slab) : len(slab)]
			if old, ok := db.byKey[k]; ok {
				e = append(old, e[0])
			}
			db.byKey[k] = e
			if r.Withdrawn.IsZero() && !seenEco(r.Affected[:i], eco) {
				perEco[eco]++
			}
		}
	}
	for eco, n := range perEco {
		st.Ecosystems = append(st.Ecosystems, EcosystemCount{Ecosystem: eco, Records: n})
	}
	slices.SortFunc(st.Ecosystems, func(a, b EcosystemCount) int { return strings.Compare(a.Ecosystem, b.Ecosystem) })
	db.status = st
	return db
}

// pkgKey is a map key built without allocating for npm names, so that a
// lookup of a package no record names costs one hash.
type pkgKey struct{ eco, name string }

// seenEco reports whether an earlier affected entry has ecosystem eco, so
// that a record counts once per ecosystem.
func seenEco(earlier []Affected, eco string) bool {
	for _, a := range earlier {
		if CanonicalEcosystem(a.Package.Ecosystem) == eco {
			return true
		}
	}
	return false
}

func key(eco, name string) pkgKey {
	eco = CanonicalEcosystem(eco)
	return pkgKey{eco, NormalizeName(eco, name)}
}

// Status returns counts and freshness of the records in db.
func (db *DB) Status() Status {
	st := db.status
	st.Ecosystems = slices.Clone(st.Ecosystems)
	st.Conflicts = slices.Clone(st.Conflicts)
	return st
}

// Len returns the number of records in db, withdrawn ones included.
func (db *DB) Len() int { return len(db.records) }

// Lookup returns the advisories that say version of the named package is
// malicious, sorted by ID. Ecosystem is an OSV ecosystem name (any case);
// name is compared after NormalizeName. Withdrawn records never match, and
// records that alias one another (a MAL record and the GHSA advisory it
// imports) come back as one Match. Lookup costs one map access for a
// package no record names.
func (db *DB) Lookup(ecosystem, name, version string) []Match {
	if db == nil {
		return nil
	}
	entries := db.byKey[key(ecosystem, name)]
	if len(entries) == 0 {
		return nil
	}
	if len(entries) > manyEntries {
		return lookupMany(entries, version)
	}
	var hits []*Record
	for _, e := range entries {
		if !e.rec.Withdrawn.IsZero() || slices.Contains(hits, e.rec) {
			continue
		}
		if affects(e.eco, e.aff, version) {
			hits = append(hits, e.rec)
		}
	}
	return groupMatches(hits, func(r *Record) *Affected {
		for _, e := range entries {
			if e.rec == r {
				return e.aff
			}
		}
		return nil
	})
}

// manyEntries is where Lookup switches from scanning its few entries to
// maps: a database (hostile or not) with thousands of records for one
// name must not make a lookup quadratic.
const manyEntries = 16

func lookupMany(entries []entry, version string) []Match {
	first := make(map[*Record]*Affected, len(entries))
	hit := map[*Record]bool{}
	var hits []*Record
	for _, e := range entries {
		if _, ok := first[e.rec]; !ok {
			first[e.rec] = e.aff
		}
		if !e.rec.Withdrawn.IsZero() || hit[e.rec] {
			continue
		}
		if affects(e.eco, e.aff, version) {
			hit[e.rec] = true
			hits = append(hits, e.rec)
		}
	}
	return groupMatches(hits, func(r *Record) *Affected { return first[r] })
}

// groupMatches merges records connected through ids and aliases into one
// Match each.
func groupMatches(hits []*Record, affOf func(*Record) *Affected) []Match {
	if len(hits) == 0 {
		return nil
	}
	parent := make([]int, len(hits))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	owner := map[string]int{}
	for i, r := range hits {
		for _, id := range append([]string{r.ID}, r.Aliases...) {
			if j, ok := owner[id]; ok {
				parent[find(i)] = find(j)
			} else {
				owner[id] = i
			}
		}
	}
	groups := map[int][]*Record{}
	for i, r := range hits {
		g := find(i)
		groups[g] = append(groups[g], r)
	}
	out := make([]Match, 0, len(groups))
	for _, g := range groups {
		slices.SortFunc(g, func(a, b *Record) int {
			return cmp.Or(cmp.Compare(idRank(a.ID), idRank(b.ID)), strings.Compare(a.ID, b.ID))
		})
		rep := g[0]
		ids := map[string]bool{}
		for _, r := range g {
			ids[r.ID] = true
			for _, a := range r.Aliases {
				ids[a] = true
			}
		}
		delete(ids, rep.ID)
		var aliases []string
		for id := range ids {
			aliases = append(aliases, id)
		}
		slices.Sort(aliases)
		m := Match{ID: rep.ID, Aliases: aliases, Summary: rep.Summary}
		if a := affOf(rep); a != nil {
			m.Ecosystem, m.Name = a.Package.Ecosystem, a.Package.Name
		}
		for _, r := range g {
			if a := affOf(r); a != nil {
				for _, rg := range a.Ranges {
					for _, e := range rg.Events {
						if e.Fixed != "" && !slices.Contains(m.Fixed, e.Fixed) {
							m.Fixed = append(m.Fixed, e.Fixed)
						}
					}
				}
			}
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Match) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func idRank(id string) int {
	switch {
	case strings.HasPrefix(id, "MAL-"):
		return 0
	case strings.HasPrefix(id, "GHSA-"):
		return 1
	}
	return 2
}

// IOC is one network indicator of compromise and the record listing it.
type IOC struct {
	// Kind is "domain", "ip" or "url".
	Kind, Value string
	// ID is the record that lists it.
	ID string
}

// IOCs returns the network indicators of every record that is not
// withdrawn, sorted by kind, value and record id. The run-time firewall
// can deny them outright.
func (db *DB) IOCs() []IOC {
	var out []IOC
	for _, r := range db.records {
		if !r.Withdrawn.IsZero() {
			continue
		}
		for _, d := range r.IOCs.Domains {
			out = append(out, IOC{"domain", d, r.ID})
		}
		for _, ip := range r.IOCs.IPs {
			out = append(out, IOC{"ip", ip, r.ID})
		}
		for _, u := range r.IOCs.URLs {
			out = append(out, IOC{"url", u, r.ID})
		}
	}
	slices.SortFunc(out, func(a, b IOC) int {
		return cmp.Or(strings.Compare(a.Kind, b.Kind), strings.Compare(a.Value, b.Value), strings.Compare(a.ID, b.ID))
	})
	return slices.Compact(out)
}
