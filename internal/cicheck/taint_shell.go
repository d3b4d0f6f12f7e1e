package cicheck

import (
	"slices"
	"strings"

	"github.com/buildwall/buildwall/internal/ciconfig"
)

// What run: scripts write to $GITHUB_ENV and $GITHUB_OUTPUT, for the taint
// of later steps (see taint).

// afterStep records what step s (with its own env in scope st) writes
// from untrusted input to $GITHUB_ENV (for later steps' env.*) and to
// $GITHUB_OUTPUT or ::set-output (steps.<id>.outputs.*). It returns the
// job's taint for the next steps, which shares (and adds to) jt's owned
// maps: jt must not be used afterwards.
func afterStep(jt taint, st *taint, s *ciconfig.Step) taint {
	if s.Run == nil {
		return jt
	}
	script := s.Run.Value
	if !strings.Contains(script, "GITHUB_ENV") && !strings.Contains(script, "GITHUB_OUTPUT") && !strings.Contains(script, "set-output") {
		return jt
	}
	// A multi-line value: echo "NAME<<EOF" >> "$GITHUB_OUTPUT", the
	// lines of the value, then a line with the delimiter.
	var heredoc struct {
		name, delim, from string
		soft, toEnv       bool
	}
	record := func(name, from string, soft, toEnv bool) {
		switch {
		case toEnv:
			if jt.ghEnv == nil {
				jt.ghEnv = &taintScope{parent: jt.env, vars: map[string]envVar{}, tainted: true}
				jt.env = jt.ghEnv
			}
			jt.ghEnv.vars[strings.ToLower(name)] = envVar{name, capOrigin("$GITHUB_ENV write of " + from)}
		case s.ID != nil:
			path := "steps." + strings.ToLower(s.ID.Value) + ".outputs." + strings.ToLower(name)
			jt.addPath(path, "output "+name+" of step "+s.ID.Value+" set from "+from, soft)
		}
	}
	taintOf := func(text string) (string, bool) {
		from, soft := untrustedIn1(text, st)
		if from == "" {
			from, soft = shellVarTaint(text, st)
		}
		if from == "" {
			from = eventPayloadText(text)
		}
		return from, soft
	}
	lines := slices.Collect(strings.Lines(script))
	group := groupTargets(lines)
	for i, line := range lines {
		if heredoc.delim != "" {
			if isDelimLine(line, heredoc.delim, group[i] != 0) {
				if heredoc.from != "" {
					record(heredoc.name, heredoc.from, heredoc.soft, heredoc.toEnv)
				}
				heredoc.delim = ""
			} else if heredoc.from == "" {
				heredoc.from, heredoc.soft = taintOf(line)
			}
			continue
		}
		toEnv := strings.Contains(line, "GITHUB_ENV") || group[i] == 'e'
		toOut := strings.Contains(line, "GITHUB_OUTPUT") || group[i] == 'o'
		name, value, ok := "", "", false
		if i := strings.Index(line, "::set-output name="); i >= 0 {
			name, value, ok = strings.Cut(line[i+len("::set-output name="):], "::")
			toOut = true
		} else if (toEnv || toOut) && strings.Contains(line, "<<") {
			if name, delim, ok := heredocStart(line); ok {
				heredoc.name, heredoc.delim, heredoc.from, heredoc.toEnv = name, delim, "", toEnv
			}
			continue
		} else if toEnv || toOut {
			name, value, ok = assignment(line)
		}
		if !ok || name == "" {
			continue
		}
		if from, soft := taintOf(value); from != "" {
			record(name, from, soft, toEnv)
		}
	}
	return jt
}

// eventPayloadText reports whether shell text reads an outsider's text
// from the event payload file (jq -r .pull_request.title
// "$GITHUB_EVENT_PATH"), and names it; "" when not.
func eventPayloadText(text string) string {
	if !strings.Contains(text, "GITHUB_EVENT_PATH") && !containsFold(text, "github.event_path") {
		return ""
	}
	for _, field := range payloadTextFields {
		if containsFold(text, field) {
			return "the event payload's " + strings.TrimPrefix(field, ".") + " read from $GITHUB_EVENT_PATH"
		}
	}
	return ""
}

// payloadTextFields are the free-text fields of event payloads, as a jq
// path or script names them (lower case).
var payloadTextFields = []string{".title", ".body", "head.ref", "head_ref", ".message", ".description", ".head_branch", ".display_title"}

// heredocStart reads NAME<<DELIM from a line that starts a multi-line
// value in $GITHUB_OUTPUT or $GITHUB_ENV.
func heredocStart(line string) (name, delim string, ok bool) {
	i := strings.Index(line, "<<")
	j := i
	for j > 0 && isWordByte(line[j-1]) && line[j-1] != '.' {
		j--
	}
	name = line[j:i]
	rest := strings.TrimLeft(line[i+2:], "'\"")
	k := 0
	for k < len(rest) && isWordByte(rest[k]) {
		k++
	}
	delim = rest[:k]
	return name, delim, name != "" && delim != ""
}

// isDelimLine reports whether line ends a multi-line value: it is the
// delimiter alone or echoes it (echo EOF >> "$GITHUB_OUTPUT", or echo EOF
// inside a group redirected as a whole).
func isDelimLine(line, delim string, grouped bool) bool {
	t := strings.TrimSpace(line)
	if t == delim {
		return true
	}
	return wordIndex(t, delim, 0) >= 0 && (grouped || strings.Contains(t, "GITHUB_OUTPUT") || strings.Contains(t, "GITHUB_ENV"))
}

// groupTargets marks the lines of each top-level shell group
// ({ ...; } >> "$GITHUB_OUTPUT") whose output goes to $GITHUB_OUTPUT ('o')
// or $GITHUB_ENV ('e'); 0 elsewhere. Nested groups are covered by the
// outermost one only, so marking stays linear.
func groupTargets(lines []string) []byte {
	out := make([]byte, len(lines))
	depth, start := 0, 0
	for i, line := range lines {
		t := strings.TrimSpace(line)
		switch {
		case t == "{" || strings.HasPrefix(t, "{ "):
			if depth == 0 {
				start = i
			}
			depth++
		case strings.HasPrefix(t, "}") && depth > 0:
			depth--
			if depth > 0 {
				continue
			}
			var target byte
			switch {
			case strings.Contains(t, "GITHUB_OUTPUT"):
				target = 'o'
			case strings.Contains(t, "GITHUB_ENV"):
				target = 'e'
			}
			for k := start; k < i && target != 0; k++ {
				out[k] = target
			}
		}
	}
	return out
}

// assignment finds NAME=VALUE in a line that writes to $GITHUB_ENV or
// $GITHUB_OUTPUT (echo "NAME=VALUE" >> "$GITHUB_ENV", printf, tee).
func assignment(line string) (name, value string, ok bool) {
	eq := strings.IndexByte(line, '=')
	if eq <= 0 {
		return "", "", false
	}
	i := eq
	for i > 0 && (isWordByte(line[i-1]) && line[i-1] != '.') {
		i--
	}
	name = line[i:eq]
	if name == "" || strings.HasPrefix(name, "-") {
		return "", "", false
	}
	value = line[eq+1:]
	if j := strings.Index(value, ">>"); j >= 0 {
		value = value[:j]
	}
	return name, value, true
}

// shellVarTaint reports whether shell text reads ($NAME, ${NAME}) an
// environment variable that the step's scope has from untrusted input.
func shellVarTaint(text string, st *taint) (string, bool) {
	if !st.env.any() {
		return "", false
	}
	for at := 0; ; {
		i := strings.IndexByte(text[at:], '$')
		if i < 0 {
			return "", false
		}
		at += i + 1
		j := at
		if j < len(text) && text[j] == '{' {
			j++
		}
		k := j
		for k < len(text) && isWordByte(text[k]) && text[k] != '.' && text[k] != '-' {
			k++
		}
		if from, ok := st.env.lookup(text[j:k]); ok {
			return "$" + text[j:k] + " set from " + from, false
		}
	}
}
