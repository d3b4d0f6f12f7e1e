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
	"encoding/json"
	"fmt"
	"io"
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
}

// Report is the buildwall.run/v1 document. Its JSON field names are a
// public contract.
type Report struct {
	Schema   string      `json:"schema"`
	Command  []string    `json:"command"`
	Mode     policy.Mode `json:"mode"`
	ExitCode int         `json:"exit_code"`
	// CommandExitCode is the command's own exit status (added in v1
	// without a version change: readers that ignore it are unaffected).
	CommandExitCode int           `json:"command_exit_code"`
	Start           time.Time     `json:"start"`
	End             time.Time     `json:"end"`
	DurationMS      int64         `json:"duration_ms"`
	Policy          *policy.Spec  `json:"policy,omitempty"`
	Warnings        []string      `json:"warnings,omitempty"`
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
	Counts            Counts       `json:"counts"`
}

// MaxSuspicious bounds Summary.DNSSuspicious.
const MaxSuspicious = 50

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

// Counts are event totals.
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

const tunnelPrefix = "dns tunnelling suspected"

// Build assembles the report of a run. events is copied, in the order
// given (the order they happened).
func Build(meta Meta, events []event.Event) *Report {
	r := &Report{
		Schema:          Schema,
		Command:         slices.Clone(meta.Command),
		Mode:            meta.Mode,
		ExitCode:        meta.ExitCode,
		CommandExitCode: meta.CommandExitCode,
		Start:           meta.Start,
		End:             meta.End,
		Policy:          meta.Policy,
		Warnings:        slices.Clone(meta.Warnings),
		Events:          slices.Clone(events),
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
	return r
}

type destKey struct {
	name, ip, proto string
	port            uint16
}

type agg struct {
	d       Destination
	reasons map[string]bool
	procs   map[string]bool
}

func summarize(events []event.Event) Summary {
	var s Summary
	lists := map[event.Verdict]map[destKey]*agg{
		event.VerdictAllow: {}, event.VerdictBlock: {}, event.VerdictAudit: {},
	}
	susp := map[string]*Suspicious{}
	for _, e := range events {
		s.Counts.Events++
		switch e.Kind {
		case event.KindDNS:
			s.Counts.DNS++
		case event.KindConnect:
			s.Counts.Connect++
		case event.KindPacket:
			s.Counts.Packet++
		}
		switch e.Verdict {
		case event.VerdictAllow:
			s.Counts.Allowed++
		case event.VerdictBlock:
			s.Counts.Blocked++
		case event.VerdictAudit:
			s.Counts.Audited++
		}
		if e.Kind == event.KindDNS && strings.Contains(e.Reason, tunnelPrefix) {
			s.Counts.Suspicious++
			if x, ok := susp[e.Name]; ok {
				x.Count++
				if e.Verdict == event.VerdictBlock {
					x.Verdict = e.Verdict
				}
			} else {
				susp[e.Name] = &Suspicious{Name: e.Name, Verdict: e.Verdict, Reason: e.Reason, Count: 1}
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
			a = &agg{d: Destination{Name: k.name, IP: k.ip, Port: k.port, Proto: k.proto}, reasons: map[string]bool{}, procs: map[string]bool{}}
			m[k] = a
		}
		n := e.Count
		if n <= 0 {
			n = 1
		}
		a.d.Count += n
		if a.d.Rule == "" {
			a.d.Rule = e.Rule
		}
		if e.Reason != "" && e.Verdict != event.VerdictAllow {
			a.reasons[e.Reason] = true
		}
		if e.PID != 0 || e.Cmdline != "" {
			p := strings.TrimSpace(strconv.Itoa(e.PID) + " " + e.Cmdline)
			if len(a.procs) < 3 {
				a.procs[p] = true
			}
		}
	}
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
		s.SuspiciousOmitted = len(s.DNSSuspicious) - MaxSuspicious
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
		d.Reasons = sortedKeys(a.reasons)
		d.Processes = sortedKeys(a.procs)
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

func sortedKeys(m map[string]bool) []string {
	if len(m) == 0 {
		return nil
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// WriteJSON writes the report as indented JSON followed by a newline.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write report: %w", err)
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
