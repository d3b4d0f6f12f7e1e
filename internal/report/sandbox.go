package report

import (
	"strconv"
	"strings"

	"github.com/buildwall/buildwall/internal/event"
	"github.com/buildwall/buildwall/internal/termsafe"
)

// sandboxRefusal is one blocked process event (a refused syscall, a
// stopped build killed, the run's own files tampered with), repeats added.
type sandboxRefusal struct {
	reason  string
	count   int
	process string
}

// sandboxRefusals lists the blocked process events in the order first
// seen, repeats (the aggregator's "(repeated)" events) added to the first.
func sandboxRefusals(events []event.Event) []sandboxRefusal {
	var out []sandboxRefusal
	at := map[string]int{}
	for _, e := range events {
		if e.Kind != event.KindProcess || e.Verdict != event.VerdictBlock {
			continue
		}
		reason := strings.TrimSuffix(e.Reason, " (repeated)")
		if e.Name != "" && !strings.Contains(reason, e.Name) {
			reason = e.Name + ": " + reason
		}
		n := max(e.Count, 1)
		if i, ok := at[reason]; ok {
			out[i].count += n
			continue
		}
		at[reason] = len(out)
		p := ""
		if e.PID != 0 || e.Cmdline != "" {
			p = strings.TrimSpace(strconv.Itoa(e.PID) + " " + e.Cmdline)
		}
		out = append(out, sandboxRefusal{reason: reason, count: n, process: p})
	}
	return out
}

func textSandbox(ew *errWriter, events []event.Event) {
	rs := sandboxRefusals(events)
	if len(rs) == 0 {
		return
	}
	ew.printf("  refused by the sandbox (%d):\n", len(rs))
	for i, r := range rs {
		if i == textTop {
			ew.printf("    ... and %d more\n", len(rs)-textTop)
			return
		}
		ew.printf("    %s (%d×)", termsafe.String(truncate(r.reason, 160)), r.count)
		if r.process != "" {
			ew.printf(" [by %s]", termsafe.String(truncate(r.process, 60)))
		}
		ew.printf("\n")
	}
}

func mdSandbox(ew *errWriter, events []event.Event) {
	rs := sandboxRefusals(events)
	if len(rs) == 0 {
		return
	}
	ew.printf("#### Refused by the sandbox\n\n| what | count | process |\n|---|---:|---|\n")
	for i, r := range rs {
		if i == textTop {
			break
		}
		proc := ""
		if r.process != "" {
			proc = "`" + mdCode(truncate(r.process, 60)) + "`"
		}
		ew.printf("| %s | %d | %s |\n", mdCell(truncate(r.reason, 160)), r.count, proc)
	}
	if len(rs) > textTop {
		ew.printf("\n… and %d more in the JSON report.\n", len(rs)-textTop)
	}
	ew.printf("\n")
}
