// Package event defines the closed set of things a `buildwall run` records —
// DNS queries, connections, dropped packets, processes — and the Recorder
// that keeps them in memory and streams them as JSON lines as they happen.
//
// Every interceptor decision becomes exactly one Event. The package imports
// only the standard library.
package event

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Kind says what an event describes.
type Kind string

// The kinds of events.
const (
	// KindDNS is one DNS query from the build.
	KindDNS Kind = "dns"
	// KindConnect is one TCP connection attempt from the build.
	KindConnect Kind = "connect"
	// KindPacket is one or more dropped packets (UDP, ICMP, IPv6, raw).
	KindPacket Kind = "packet"
	// KindProcess is a process-level observation (start, exit).
	KindProcess Kind = "process"
	// KindTruncated is the last line of an events file that reached its
	// size limit: later events are not written (the report counts them).
	// It is never held for the report.
	KindTruncated Kind = "truncated"
)

// Verdict is what happened to the thing an event describes.
type Verdict string

// The verdicts.
const (
	// VerdictAllow: the policy allows it and it was let through.
	VerdictAllow Verdict = "allow"
	// VerdictBlock: it was refused.
	VerdictBlock Verdict = "block"
	// VerdictAudit: block mode would refuse it; audit mode let it through.
	VerdictAudit Verdict = "audit"
)

// Event is one observation. Fields that do not apply are left zero and are
// omitted from JSON. The JSON field names are part of the buildwall.run/v1
// report schema.
type Event struct {
	Time    time.Time `json:"time"`
	Kind    Kind      `json:"kind"`
	Verdict Verdict   `json:"verdict"`
	// Proto is "tcp", "udp", "icmp", "icmpv6", "ipv6", ...
	Proto string `json:"proto,omitempty"`
	// Name is the DNS query name, or the name a connection is bound to.
	Name  string `json:"name,omitempty"`
	QType string `json:"qtype,omitempty"`
	// IP is the destination address; for DNS the answered address.
	IP   string `json:"ip,omitempty"`
	Port uint16 `json:"port,omitempty"`
	SNI  string `json:"sni,omitempty"`
	// Host is the HTTP Host header.
	Host string `json:"host,omitempty"`
	// Rule is the policy entry that matched, as written in the policy.
	Rule string `json:"rule,omitempty"`
	// Reason says why something was blocked or flagged, e.g. "not in
	// policy", "sni mismatch", "dns tunnelling suspected: ...".
	Reason string `json:"reason,omitempty"`
	PID    int    `json:"pid,omitempty"`
	// Cmdline is the process's command line, at most MaxCmdline bytes.
	Cmdline string `json:"cmdline,omitempty"`
	// Count is how many occurrences the event stands for when it stands
	// for more than one: packets of an aggregated packet event, or
	// repeats of an identical event that the Recorder folded into one
	// line (see Recorder). Zero or absent means one.
	Count int `json:"count,omitempty"`
	// Truncated names the fields that were cut to their limit, comma
	// separated ("cmdline", "name", "sni", "host", "reason"); see
	// MaxCmdline and MaxField.
	Truncated string `json:"truncated,omitempty"`
}

// Sink receives events. Implementations must be safe for concurrent use.
type Sink interface {
	Emit(Event)
}

// Discard is a Sink that drops every event.
var Discard Sink = discard{}

type discard struct{}

func (discard) Emit(Event) {}

// ReadJSONLines decodes a JSON-lines event stream as written by Recorder.
// Blank lines are skipped; a malformed line is an error naming its 1-based
// line number. A truncated final line (a build killed mid-write) is an error
// too; callers that want the events before it get them alongside the error.
func ReadJSONLines(rd io.Reader) ([]Event, error) {
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	var out []Event
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(trimSpace(b)) == 0 {
			continue
		}
		var e Event
		if err := json.Unmarshal(b, &e); err != nil {
			return out, fmt.Errorf("decode event on line %d: %w", line, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("read events: %w", err)
	}
	return out, nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
