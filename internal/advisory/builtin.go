package advisory

import (
	"slices"
	"strings"
)

// Built-in records are the curated set compiled into the binary. Local data
// (an index built from an OSV export, which whoever controls the export or
// the database directory can write) may add to them but never take away:
// a local record with a built-in record's id is folded into it, its
// affected packages added to the built-in ones, and a local record that
// would withdraw or narrow a built-in one is ignored for that purpose and
// reported as a Conflict.

// Conflict reasons, as `db status --format json` spells them.
const (
	// ConflictWithdrawn: the local record withdraws a built-in record.
	ConflictWithdrawn = "withdrawn"
	// ConflictNarrowed: the local record does not cover a package or
	// version the built-in record lists (fewer packages, other versions,
	// ranges that leave the listed versions out).
	ConflictNarrowed = "narrowed"
	// ConflictIDCase: the local record's id is a built-in id in another
	// case or with surrounding spaces.
	ConflictIDCase = "id-case"
	// ConflictWithdrawnAlias: a withdrawn local record names a built-in
	// record as an alias, or is named by one.
	ConflictWithdrawnAlias = "withdrawn-alias"
)

// Conflict is a local record that tried to change a built-in record. The
// built-in record stays in force whatever the local one says.
type Conflict struct {
	// ID is the local record's id, Builtin the built-in record's.
	ID      string `json:"id"`
	Builtin string `json:"builtin"`
	// Reason is one of the Conflict* constants.
	Reason string `json:"reason"`
}

// Describe renders the conflict for people.
func (c Conflict) Describe() string {
	switch c.Reason {
	case ConflictWithdrawn:
		return "local record " + c.ID + " withdraws built-in record " + c.Builtin + "; the built-in record still applies"
	case ConflictNarrowed:
		return "local record " + c.ID + " leaves out versions built-in record " + c.Builtin + " lists; the built-in versions still apply"
	case ConflictIDCase:
		return "local record " + c.ID + " reuses built-in id " + c.Builtin + " in another spelling; merged into the built-in record"
	case ConflictWithdrawnAlias:
		return "withdrawn local record " + c.ID + " is an alias of built-in record " + c.Builtin + "; the built-in record still applies"
	}
	return "local record " + c.ID + " conflicts with built-in record " + c.Builtin
}

// builtinSet finds built-in records by id without allocating for the ids of
// an ordinary OSV export.
type builtinSet struct {
	exact map[string]*Record   // by id
	byLen map[int][]*Record    // by byte length of the id, for case-folded lookups
	alias map[string][]*Record // by upper-cased alias
}

func newBuiltinSet(builtins []*Record) *builtinSet {
	s := &builtinSet{exact: map[string]*Record{}, byLen: map[int][]*Record{}, alias: map[string][]*Record{}}
	for _, b := range builtins {
		s.exact[b.ID] = b
		s.byLen[len(b.ID)] = append(s.byLen[len(b.ID)], b)
		for _, a := range b.Aliases {
			k := strings.ToUpper(strings.TrimSpace(a))
			s.alias[k] = append(s.alias[k], b)
		}
	}
	return s
}

// find returns the built-in record whose id is id, compared without case
// and surrounding spaces.
func (s *builtinSet) find(id string) *Record {
	if b, ok := s.exact[id]; ok {
		return b
	}
	t := strings.TrimSpace(id)
	for _, b := range s.byLen[len(t)] {
		if strings.EqualFold(b.ID, t) {
			return b
		}
	}
	return nil
}

// aliased returns the built-in records that r names as an alias or that
// name r.
func (s *builtinSet) aliased(r *Record) []*Record {
	var out []*Record
	for _, a := range r.Aliases {
		if b := s.find(a); b != nil && !slices.Contains(out, b) {
			out = append(out, b)
		}
	}
	for _, b := range s.alias[strings.ToUpper(strings.TrimSpace(r.ID))] {
		if !slices.Contains(out, b) {
			out = append(out, b)
		}
	}
	return out
}

// overlay merges local records (sorted by id, unique) over the built-in
// ones and returns the records in force, sorted by id, and the conflicts,
// sorted by local id, built-in id and reason. A local record with a
// built-in id (in any case) never replaces the built-in record: unless it
// is withdrawn its affected packages, aliases and indicators are added to
// a copy of it. Every other local record is kept as it is.
func overlay(builtins, local []*Record) ([]*Record, []Conflict) {
	set := newBuiltinSet(builtins)
	merged := map[*Record]*Record{}
	var conflicts []Conflict
	var rest []*Record // nil until a local record is folded into a built-in one
	for i, r := range local {
		b := set.find(r.ID)
		if b == nil {
			if !r.Withdrawn.IsZero() {
				for _, a := range set.aliased(r) {
					conflicts = append(conflicts, Conflict{ID: r.ID, Builtin: a.ID, Reason: ConflictWithdrawnAlias})
				}
			}
			if rest != nil {
				rest = append(rest, r)
			}
			continue
		}
		if rest == nil {
			rest = make([]*Record, i, len(local))
			copy(rest, local[:i])
		}
		if r.ID != b.ID {
			conflicts = append(conflicts, Conflict{ID: r.ID, Builtin: b.ID, Reason: ConflictIDCase})
		}
		if !r.Withdrawn.IsZero() {
			conflicts = append(conflicts, Conflict{ID: r.ID, Builtin: b.ID, Reason: ConflictWithdrawn})
			continue
		}
		if narrows(b, r) {
			conflicts = append(conflicts, Conflict{ID: r.ID, Builtin: b.ID, Reason: ConflictNarrowed})
		}
		m := merged[b]
		if m == nil {
			c := *b
			c.Affected = slices.Clip(b.Affected)
			c.Aliases = slices.Clone(b.Aliases) // sorted below: never the built-in's own array
			c.IOCs = IOCs{Domains: slices.Clip(b.IOCs.Domains), IPs: slices.Clip(b.IOCs.IPs), URLs: slices.Clip(b.IOCs.URLs)}
			m = &c
			merged[b] = m
		}
		m.Affected = append(m.Affected, r.Affected...)
		m.Aliases = append(m.Aliases, r.Aliases...) // deduplicated below
		m.IOCs.Domains = append(m.IOCs.Domains, r.IOCs.Domains...)
		m.IOCs.IPs = append(m.IOCs.IPs, r.IOCs.IPs...)
		m.IOCs.URLs = append(m.IOCs.URLs, r.IOCs.URLs...)
	}
	if rest == nil {
		rest = local // nothing taken out: keep the sorted list as it is
	}
	bs := builtins
	if len(merged) > 0 {
		bs = make([]*Record, len(builtins))
		for i, b := range builtins {
			bs[i] = b
			if m := merged[b]; m != nil {
				slices.Sort(m.Aliases)
				m.Aliases = slices.DeleteFunc(slices.Compact(m.Aliases), func(a string) bool { return a == m.ID })
				bs[i] = m
			}
		}
	}
	slices.SortFunc(conflicts, func(a, b Conflict) int {
		if c := strings.Compare(a.ID, b.ID); c != 0 {
			return c
		}
		if c := strings.Compare(a.Builtin, b.Builtin); c != 0 {
			return c
		}
		return strings.Compare(a.Reason, b.Reason)
	})
	return mergeRecords(bs, rest), slices.Compact(conflicts)
}

// narrows reports whether local, in place of b, would leave out a package
// version b names: every version b lists and every bound its ranges start
// or end at must also be affected according to local.
func narrows(b, local *Record) bool {
	for i := range b.Affected {
		a := &b.Affected[i]
		k := key(a.Package.Ecosystem, a.Package.Name)
		for _, v := range probeVersions(a) {
			if !localAffects(local, k, v) {
				return true
			}
		}
	}
	return false
}

// localAffects reports whether an affected entry of r for the package k
// covers version v.
func localAffects(r *Record, k pkgKey, v string) bool {
	for j := range r.Affected {
		l := &r.Affected[j]
		if key(l.Package.Ecosystem, l.Package.Name) == k && affects(k.eco, l, v) {
			return true
		}
	}
	return false
}

// probeVersions lists the versions a built-in affected entry certainly
// covers: its listed versions and the introduced and last_affected bounds
// of its ranges (other than the open "0"). Commit SHAs of actions are left
// out: buildwall lists them where advisories usually do not, so an honest
// update would always seem to narrow them (they stay in force anyway).
func probeVersions(a *Affected) []string {
	out := slices.DeleteFunc(slices.Clone(a.Versions), isCommitSHA)
	for _, g := range a.Ranges {
		if g.Type == "GIT" {
			continue
		}
		for _, e := range g.Events {
			switch k, v := e.kind(); {
			case k == eventIntroduced && v != "0", k == eventLastAffected:
				out = append(out, v)
			}
		}
	}
	return out
}
