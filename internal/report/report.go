// Package report builds the versioned run report ("schema":
// "buildwall.run/v1") from the events of one `buildwall run`, renders it as
// JSON, as a short text summary for stderr and as Markdown for
// $GITHUB_STEP_SUMMARY, and suggests the smallest policy that allows what an
// audit run saw.
//
// Everything here is deterministic for the same input: lists are sorted and
// no map order leaks into output.
package report

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/buildwall/buildwall/internal/event"
	"github.com/buildwall/buildwall/internal/policy"
)

// Schema names the report format. A change that breaks readers gets a new
// version.
const Schema = "buildwall.run/v1"

// Meta is what the session knows about a run besides its events.
type Meta struct {
	// Command is the argv of the command that ran.
	Command []string
	Mode    policy.Mode
	// ExitCode is what buildwall exits with; CommandExitCode is the
	// command's own status (128+signal when a signal killed it). They
	// differ when block mode refused something and buildwall fails the run
	// although the command succeeded.
	ExitCode        int
	CommandExitCode int
	Start           time.Time
	End             time.Time
	// Policy is the policy the run used, echoed as written; nil when the
	// run had none.
	Policy *policy.Spec
	// Warnings are problems that did not stop the run (policy warnings,
	// lost events).
	Warnings []string
	// EventsSHA256 is the hex SHA-256 of the events file as written
	// (empty without one).
	EventsSHA256 string
	// Limits says what the run's resource bounds left out or refused;
	// nil when nothing is known about them.
	Limits *Limits
}

// Limits records the run's resource bounds and everything they left out,
// so that nothing is dropped silently. Counts are occurrences.
type Limits struct {
	// EventsAggregated: repeats of an identical event folded into the
	// count of one line instead of lines of their own.
	EventsAggregated int `json:"events_aggregated"`
	// EventsNotHeld: events beyond the memory bound for the report; they
	// are in the events file (unless it was cut too) and in the counts,
	// by kind and verdict in NotHeld, but not in Events.
	EventsNotHeld int         `json:"events_not_held"`
	NotHeld       event.Tally `json:"not_held"`
	// EventsFileTruncated: the events file reached its size bound and
	// ends with a "truncated" record; EventsNotWritten events came after.
	EventsFileTruncated bool  `json:"events_file_truncated"`
	EventsNotWritten    int   `json:"events_not_written"`
	EventsFileBytes     int64 `json:"events_file_bytes"`
	// FieldsTruncated: events with a field cut to its bound (cmdline 256
	// bytes; name, sni, host, reason 512).
	FieldsTruncated int `json:"fields_truncated"`
	// DNSDropped: queries read but not answered because the DNS server's
	// queue was full (each also counted in DNS, not as an event).
	DNSDropped int `json:"dns_dropped"`
	// MaxConnections is the proxy's bound on connections handled at once;
	// ConnectionsRefused counts those refused because of it (each is
	// also a block event with reason "connection limit").
	MaxConnections     int `json:"max_connections"`
	ConnectionsRefused int `json:"connections_refused"`
	// NoFile is buildwall's RLIMIT_NOFILE during the run; CommandNoFile
	// the soft limit the command started with.
	NoFile        uint64 `json:"nofile,omitempty"`
	CommandNoFile uint64 `json:"command_nofile,omitempty"`
}

// Report is the buildwall.run/v1 document. Its JSON field names are a
// public contract.
type Report struct {
	Schema string `json:"schema"`
	// ReportSHA256 is the hex SHA-256 of the report file as written with
	// this field's value empty (see Verify); EventsSHA256 that of the
	// events file. Both were added in v1 without a version change.
	ReportSHA256 string      `json:"report_sha256"`
	EventsSHA256 string      `json:"events_sha256,omitempty"`
	Command      []string    `json:"command"`
	Mode         policy.Mode `json:"mode"`
	ExitCode     int         `json:"exit_code"`
	// CommandExitCode is the command's own exit status (added in v1
	// without a version change: readers that ignore it are unaffected).
	CommandExitCode int           `json:"command_exit_code"`
	Start           time.Time     `json:"start"`
	End             time.Time     `json:"end"`
	DurationMS      int64         `json:"duration_ms"`
	Policy          *policy.Spec  `json:"policy,omitempty"`
	Warnings        []string      `json:"warnings,omitempty"`
	Limits          *Limits       `json:"limits,omitempty"`
	Events          []event.Event `json:"events"`
	Summary         Summary       `json:"summary"`
}

// Summary aggregates the events by destination.
type Summary struct {
	// Allowed are the destinations connections were let through to.
	Allowed []Destination `json:"allowed"`
	// Blocked are destinations refused (block mode) and dropped packets.
	Blocked []Destination `json:"blocked"`
	// Audited are destinations block mode would refuse, let through in
	// audit mode.
	Audited []Destination `json:"audited"`
	// DNSSuspicious are names flagged as possible DNS tunnelling, at most
	// MaxSuspicious of them (SuspiciousOmitted counts the rest).
	DNSSuspicious     []Suspicious `json:"dns_suspicious"`
	SuspiciousOmitted int          `json:"dns_suspicious_omitted,omitempty"`
	// AllowedOmitted, BlockedOmitted and AuditedOmitted count the
	// occurrences to destinations left out of the lists above once each
	// list holds MaxDestinations.
	AllowedOmitted int    `json:"allowed_omitted,omitempty"`
	BlockedOmitted int    `json:"blocked_omitted,omitempty"`
	AuditedOmitted int    `json:"audited_omitted,omitempty"`
	Counts         Counts `json:"counts"`
}

// MaxSuspicious bounds Summary.DNSSuspicious.
const MaxSuspicious = 50

// MaxDestinations bounds each destination list of the Summary (and the
// memory Build spends on it).
const MaxDestinations = 1000

// Destination is one place the build tried to reach, with how often.
// A DNS-only entry (Proto "dns", no Port) is a name that was looked up but
// never connected to.
type Destination struct {
	Name  string `json:"name,omitempty"`
	IP    string `json:"ip,omitempty"`
	Port  uint16 `json:"port,omitempty"`
	Proto string `json:"proto,omitempty"`
	Count int    `json:"count"`
	// Rule is the policy entry that allowed it (Allowed only).
	Rule string `json:"rule,omitempty"`
	// Reasons are the distinct reasons it was refused or flagged.
	Reasons []string `json:"reasons,omitempty"`
	// Processes are up to three distinct processes that tried, as
	// "pid cmdline".
	Processes []string `json:"processes,omitempty"`
}

// Suspicious is one name flagged as possible DNS tunnelling.
type Suspicious struct {
	Name    string        `json:"name"`
	Verdict event.Verdict `json:"verdict"`
	Reason  string        `json:"reason"`
	Count   int           `json:"count"`
}

// Counts are event totals: an event with a count stands for that many
// (packets, for packet events), and events not held in the report
// (Limits.NotHeld) are included.
type Counts struct {
	Events     int `json:"events"`
	DNS        int `json:"dns"`
	Connect    int `json:"connect"`
	Packet     int `json:"packet"`
	Allowed    int `json:"allowed"`
	Blocked    int `json:"blocked"`
	Audited    int `json:"audited"`
	Suspicious int `json:"suspicious"`
}

// Build assembles the report of a run from events, in the order given
// (the order they happened). The report keeps events: the caller must not
// change the slice afterwards.
func Build(meta Meta, events []event.Event) *Report {
	r := &Report{
		Schema:          Schema,
		EventsSHA256:    meta.EventsSHA256,
		Limits:          meta.Limits,
		Command:         slices.Clone(meta.Command),
		Mode:            meta.Mode,
		ExitCode:        meta.ExitCode,
		CommandExitCode: meta.CommandExitCode,
		Start:           meta.Start,
		End:             meta.End,
		Policy:          meta.Policy,
		Warnings:        slices.Clone(meta.Warnings),
		Events:          events,
	}
	if r.Command == nil {
		r.Command = []string{}
	}
	if r.Events == nil {
		r.Events = []event.Event{}
	}
	if !meta.End.IsZero() && !meta.Start.IsZero() {
		r.DurationMS = meta.End.Sub(meta.Start).Milliseconds()
	}
	r.Summary = summarize(r.Events)
	if l := r.Limits; l != nil {
		c := &r.Summary.Counts
		c.Events += l.NotHeld.Events
		c.DNS += l.NotHeld.DNS
		c.Connect += l.NotHeld.Connect
		c.Packet += l.NotHeld.Packet
		c.Allowed += l.NotHeld.Allowed
		c.Blocked += l.NotHeld.Blocked
		c.Audited += l.NotHeld.Audited
	}
	return r
}

type destKey struct {
	name, ip, proto string
	port            uint16
}

type agg struct {
	d       Destination
	reasons []string // at most maxReasons
	procs   []string // at most maxProcs
}

const (
	maxReasons = 5
	maxProcs   = 3
)

// addOnce appends v to list unless it is there or list holds limit.
func addOnce(list []string, v string, limit int) []string {
	if len(list) >= limit || slices.Contains(list, v) {
		return list
	}
	return append(list, v)
}

func summarize(events []event.Event) Summary {
	var s Summary
	lists := map[event.Verdict]map[destKey]*agg{
		event.VerdictAllow: {}, event.VerdictBlock: {}, event.VerdictAudit: {},
	}
	omitted := map[event.Verdict]*int{
		event.VerdictAllow: &s.AllowedOmitted, event.VerdictBlock: &s.BlockedOmitted, event.VerdictAudit: &s.AuditedOmitted,
	}
	susp := map[string]*Suspicious{}
	var tally event.Tally
	for _, e := range events {
		tally.Add(e)
		n := max(e.Count, 1)
		if e.Kind == event.KindDNS && IsTunnelReason(e.Reason) {
			s.Counts.Suspicious += n
			if x, ok := susp[e.Name]; ok {
				x.Count += n
				if e.Verdict == event.VerdictBlock {
					x.Verdict = e.Verdict
				}
			} else if len(susp) < 4*MaxSuspicious {
				susp[e.Name] = &Suspicious{Name: e.Name, Verdict: e.Verdict, Reason: e.Reason, Count: n}
			} else {
				s.SuspiciousOmitted++
			}
		}
		m, ok := lists[e.Verdict]
		if !ok || e.Kind == event.KindProcess {
			continue
		}
		if e.Kind == event.KindDNS && e.Verdict == event.VerdictAllow {
			continue // allowed lookups show up as the connections they lead to
		}
		k := destKey{name: e.Name, proto: e.Proto, port: e.Port}
		if e.Name == "" {
			k.ip = e.IP
		}
		if e.Kind == event.KindDNS {
			k = destKey{name: e.Name, proto: "dns"}
		}
		a, ok := m[k]
		if !ok {
			if len(m) >= MaxDestinations {
				*omitted[e.Verdict] += n
				continue
			}
			a = &agg{d: Destination{Name: k.name, IP: k.ip, Port: k.port, Proto: k.proto}}
			m[k] = a
		}
		a.d.Count += n
		if a.d.Rule == "" {
			a.d.Rule = e.Rule
		}
		if e.Reason != "" && e.Verdict != event.VerdictAllow {
			a.reasons = addOnce(a.reasons, e.Reason, maxReasons)
		}
		if e.PID != 0 || e.Cmdline != "" {
			a.procs = addOnce(a.procs, strings.TrimSpace(strconv.Itoa(e.PID)+" "+e.Cmdline), maxProcs)
		}
	}
	s.Counts.Events, s.Counts.DNS, s.Counts.Connect, s.Counts.Packet = tally.Events, tally.DNS, tally.Connect, tally.Packet
	s.Counts.Allowed, s.Counts.Blocked, s.Counts.Audited = tally.Allowed, tally.Blocked, tally.Audited
	s.Allowed = flatten(lists[event.VerdictAllow], false)
	s.Blocked = flatten(lists[event.VerdictBlock], true)
	s.Audited = flatten(lists[event.VerdictAudit], true)
	for _, x := range susp {
		s.DNSSuspicious = append(s.DNSSuspicious, *x)
	}
	slices.SortFunc(s.DNSSuspicious, func(a, b Suspicious) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return strings.Compare(a.Name, b.Name)
	})
	if len(s.DNSSuspicious) > MaxSuspicious {
		s.SuspiciousOmitted += len(s.DNSSuspicious) - MaxSuspicious
		s.DNSSuspicious = s.DNSSuspicious[:MaxSuspicious]
	}
	if s.DNSSuspicious == nil {
		s.DNSSuspicious = []Suspicious{}
	}
	return s
}

// flatten sorts the aggregated destinations: most used first, then by
// name, IP and port. With dropDNSOnly, a DNS-only entry is dropped when the
// same name also has a connection entry (the connection says more).
func flatten(m map[destKey]*agg, dropDNSOnly bool) []Destination {
	connected := map[string]bool{}
	for k := range m {
		if k.proto != "dns" && k.name != "" {
			connected[k.name] = true
		}
	}
	out := []Destination{}
	for k, a := range m {
		if dropDNSOnly && k.proto == "dns" && connected[k.name] {
			continue
		}
		d := a.d
		if len(a.reasons) > 0 {
			d.Reasons = slices.Sorted(slices.Values(a.reasons))
		}
		if len(a.procs) > 0 {
			d.Processes = slices.Sorted(slices.Values(a.procs))
		}
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b Destination) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		if c := strings.Compare(a.IP, b.IP); c != 0 {
			return c
		}
		if a.Port != b.Port {
			return int(a.Port) - int(b.Port)
		}
		return strings.Compare(a.Proto, b.Proto)
	})
	return out
}

// WriteJSON writes the report as indented JSON followed by a newline,
// with ReportSHA256 set (see Verify). Events are encoded one at a time,
// so the memory it takes does not grow with their number; the report is
// encoded twice (once to hash it), identically but for the hash.
func (r *Report) WriteJSON(w io.Writer) error {
	r.ReportSHA256 = ""
	h := sha256.New()
	if err := r.encode(h); err != nil {
		return err
	}
	r.ReportSHA256 = hex.EncodeToString(h.Sum(nil))
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := r.encode(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// eventsMarker is how the events array of an empty-events report encodes;
// it is unique in the document (a string value cannot hold unescaped
// quotes, and no other key is "events" with an array value).
var eventsMarker = []byte(`"events": [],`)

// encode writes the report as json.Encoder with a two-space indent
// would, but with the events encoded one by one.
func (r *Report) encode(w io.Writer) error {
	c := *r
	c.Events = []event.Event{}
	var hb bytes.Buffer
	enc := json.NewEncoder(&hb)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(&c); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	head := hb.Bytes()
	i := bytes.Index(head, eventsMarker)
	if i < 0 {
		return errors.New("write report: events marker not found")
	}
	var buf bytes.Buffer
	buf.Write(head[:i+len(eventsMarker)-3])
	buf.WriteByte('[')
	var eb bytes.Buffer
	eenc := json.NewEncoder(&eb)
	eenc.SetEscapeHTML(false)
	eenc.SetIndent("    ", "  ")
	for j, e := range r.Events {
		if j > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString("\n    ")
		eb.Reset()
		if err := eenc.Encode(e); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
		buf.Write(bytes.TrimSuffix(eb.Bytes(), []byte("\n")))
		if buf.Len() > 32<<10 {
			if _, err := w.Write(buf.Bytes()); err != nil {
				return fmt.Errorf("write report: %w", err)
			}
			buf.Reset()
		}
	}
	if len(r.Events) > 0 {
		buf.WriteString("\n  ")
	}
	buf.WriteString("],")
	buf.Write(head[i+len(eventsMarker):])
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// hashField is how the report_sha256 field appears in a written report.
var hashField = regexp.MustCompile(`"report_sha256": "[0-9a-f]{64}"`)

// Verify checks a report file's own hash: the SHA-256 of the file with
// the value of its first "report_sha256" field emptied must equal that
// value. The same check by hand:
//
//	sed -E '0,/"report_sha256": "[0-9a-f]{64}"/s//"report_sha256": ""/' run.json | sha256sum
func Verify(b []byte) error {
	loc := hashField.FindIndex(b)
	if loc == nil {
		return errors.New("verify run report: no report_sha256")
	}
	want := string(b[loc[0]+len(`"report_sha256": "`) : loc[1]-1])
	h := sha256.New()
	h.Write(b[:loc[0]])
	h.Write([]byte(`"report_sha256": ""`))
	h.Write(b[loc[1]:])
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("verify run report: content hashes to %s, report says %s", got, want)
	}
	return nil
}

// ReadJSON decodes a report written by WriteJSON. It refuses documents
// whose schema is not Schema.
func ReadJSON(rd io.Reader) (*Report, error) {
	var r Report
	dec := json.NewDecoder(rd)
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("decode run report: %w", err)
	}
	if r.Schema != Schema {
		return nil, fmt.Errorf("decode run report: schema %q is not %q", r.Schema, Schema)
	}
	return &r, nil
}

// String renders a destination as "name:port", "ip:port", "[v6]:port" or
// the bare name or address.
func (d Destination) String() string {
	host := d.Name
	if host == "" {
		host = d.IP
		if strings.Contains(host, ":") && d.Port != 0 {
			host = "[" + host + "]"
		}
	}
	if host == "" {
		host = "?"
	}
	if d.Port != 0 {
		return host + ":" + strconv.Itoa(int(d.Port))
	}
	return host
}
