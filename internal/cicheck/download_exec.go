package cicheck

import (
	"path"
	"regexp"
	"slices"
	"strings"
)

// Span is a byte range [Start, End) of a script.
type Span struct {
	Start, End int
}

// DownloadExec finds the places in a shell script where something is
// downloaded and executed without being checked: `curl … | sh` (also
// wget, sudo, python, perl, …), `bash <(curl …)`, `sh -c "$(curl …)"`, and
// a file fetched with `curl -o f` / `wget -O f` / `curl … > f` / `curl -O
// url` / `wget url` that a later command runs (`sh f`, `bash f`, `./f`,
// `/abs/f`, `source f`, `python f`). Each Span starts at the fetching
// command and ends after the interpreter or the executed file name; spans
// are sorted and do not overlap.
//
// It is shared by the rules over workflows (run:), Dockerfiles (RUN) and
// GitLab CI (script:). It is a scanner over shell text, not a shell
// parser: quoting tricks and downloads through variables are not followed.
// It runs in time linear in the script for each download command found,
// with no regular expression over the whole script (scans cover thousands
// of files).
func DownloadExec(script string) []Span {
	if !strings.Contains(script, "curl") && !strings.Contains(script, "wget") {
		return nil
	}
	var out []Span
	for i := 0; i < len(script); {
		start, tool := nextFetcher(script, i)
		if start < 0 {
			break
		}
		i = start + len(tool)
		segEnd, term := commandEnd(script, i)
		if term == '|' {
			if end := interpreterAt(script, skipBlank(script, segEnd+1)); end > 0 {
				out = append(out, Span{start, end})
				continue
			}
		}
		if b := substitutionBefore(script, start); b >= 0 {
			out = append(out, Span{b, start + len(tool)})
			continue
		}
		if f := downloadedFile(tool, script[i:segEnd]); f != "" {
			if end := executes(script[segEnd:], f); end > 0 {
				out = append(out, Span{start, segEnd + end})
			}
		}
	}
	return mergeSpans(out)
}

// nextFetcher returns the offset of the next curl or wget command word at
// or after from, and which one, or -1.
func nextFetcher(s string, from int) (int, string) {
	for from < len(s) {
		c, w := strings.Index(s[from:], "curl"), strings.Index(s[from:], "wget")
		i, tool := c, "curl"
		if c < 0 || (w >= 0 && w < c) {
			i, tool = w, "wget"
		}
		if i < 0 {
			return -1, ""
		}
		i += from
		end := i + len(tool)
		if strings.HasPrefix(s[end:], ".exe") {
			end += len(".exe") // Windows images
		}
		before := i == 0 || !isWordByte(s[i-1]) || s[i-1] == '.'
		after := end == len(s) || s[end] == ' ' || s[end] == '\t' || s[end] == '\n' || s[end] == '\\'
		if before && after {
			return i, tool
		}
		from = i + 1
	}
	return -1, ""
}

// commandEnd returns where the simple command starting before from ends
// (the offset of its terminator, or len(s)) and the terminator: '|' for a
// pipe, ';', '&', ')', '\n', or 0 at the end. A backslash-newline
// continues the command; "||" ends it like ';'.
func commandEnd(s string, from int) (int, byte) {
	for i := from; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			i++ // skip the escaped character (a newline continues the line)
		case '|':
			if i+1 < len(s) && s[i+1] == '|' {
				return i, ';'
			}
			return i, '|'
		case ';', '&', ')', '\n':
			return i, c
		}
	}
	return len(s), 0
}

// skipBlank skips spaces, tabs and backslash-newlines.
func skipBlank(s string, i int) int {
	for i < len(s) {
		switch {
		case s[i] == ' ' || s[i] == '\t':
			i++
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == '\n':
			i += 2
		default:
			return i
		}
	}
	return i
}

// interpreters run code they read from stdin or a file.
var interpreters = []string{"sh", "bash", "zsh", "dash", "ksh", "fish", "ash", "python", "python2", "python3", "perl", "ruby", "node", "php", "pwsh", "iex"}

// interpreterAt returns the end of an interpreter command word at i —
// optionally after sudo/doas with flags, env with assignments, and a
// /usr/bin/-style directory — or -1.
func interpreterAt(s string, i int) int {
	for {
		w := word(s, i)
		switch {
		case w == "sudo" || w == "doas" || w == "env" || w == "exec":
			i = skipBlank(s, i+len(w))
			for i < len(s) && (s[i] == '-' || strings.Contains(word(s, i), "=")) {
				i = skipBlank(s, i+len(word(s, i)))
			}
			continue
		case w == "":
			return -1
		}
		name := path.Base(w)
		if isInterpreter(name) {
			return i + len(w)
		}
		return -1
	}
}

func isInterpreter(name string) bool {
	if slices.Contains(interpreters, name) {
		return true
	}
	// python3.12 and the like
	rest, ok := strings.CutPrefix(name, "python")
	return ok && strings.Trim(rest, "0123456789.") == ""
}

// word returns the blank-delimited word at i (up to a space, tab, newline
// or shell operator).
func word(s string, i int) string {
	j := i
	for j < len(s) && !strings.ContainsRune(" \t\n;&|()<>\"'`", rune(s[j])) {
		j++
	}
	return s[i:j]
}

// substituted matches the end of the text before a fetcher that runs the
// fetcher's output: sh <(, bash <(, source <(, . <(, sh -c "$(, eval "$(.
var substituted = regexp.MustCompile(`(?:(?:^|[\s;&|(])(?:(?:ba|z|da|k)?sh|source|eval|python[0-9.]*)|(?:^|[\s;&|(])\.)\s+(?:-\S+\s+)*(?:<\(|["']?\$\()\s*$`)

// substitutionBefore returns the start of an interpreter that runs the
// output of the fetcher at start through <( ) or $( ), or -1. Only the
// current line before start is looked at.
func substitutionBefore(s string, start int) int {
	from := strings.LastIndexByte(s[:start], '\n') + 1
	prefix := s[from:start]
	if !strings.Contains(prefix, "<(") && !strings.Contains(prefix, "$(") {
		return -1
	}
	m := substituted.FindStringIndex(prefix)
	if m == nil {
		return -1
	}
	b := from + m[0]
	for b < start && strings.ContainsRune(" \t;&|(", rune(s[b])) {
		b++
	}
	return b
}

// downloadedFile returns the file a curl or wget command (its arguments
// in args) writes, or "" when it writes to stdout or cannot be told.
func downloadedFile(tool, args string) string {
	fields := strings.Fields(strings.ReplaceAll(args, "\\\n", " "))
	var url string
	remoteName := tool == "wget"
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		next := func() string {
			if i+1 < len(fields) {
				i++
				return fields[i]
			}
			return ""
		}
		switch {
		case f == ">" || f == ">>":
			return cleanFile(next())
		case strings.HasPrefix(f, ">"):
			return cleanFile(strings.TrimLeft(f, ">"))
		case f == "--output" || f == "--output-document":
			return cleanFile(next())
		case strings.HasPrefix(f, "--output=") || strings.HasPrefix(f, "--output-document="):
			return cleanFile(f[strings.IndexByte(f, '=')+1:])
		case f == "--remote-name":
			remoteName = true
		case strings.HasPrefix(f, "--"):
		case strings.HasPrefix(f, "-") && len(f) > 1:
			// A group of short flags; the output flag takes the rest of
			// the group or the next field.
			for j := 1; j < len(f); j++ {
				switch {
				case tool == "curl" && f[j] == 'o', tool == "wget" && f[j] == 'O':
					if j+1 < len(f) {
						return cleanFile(f[j+1:])
					}
					return cleanFile(next())
				case tool == "curl" && f[j] == 'O':
					remoteName = true
				}
			}
		case strings.Contains(f, "://"):
			url = f
		}
	}
	if remoteName && url != "" {
		u := strings.Trim(url, `'"`)
		if k := strings.IndexAny(u, "?#"); k >= 0 {
			u = u[:k]
		}
		if k := strings.Index(u, "://"); k >= 0 && strings.Contains(u[k+3:], "/") {
			return cleanFile(path.Base(u))
		}
	}
	return ""
}

// cleanFile strips quotes and rejects names that are not files (stdout,
// /dev/null, variables, flags).
func cleanFile(f string) string {
	f = strings.Trim(f, `'"`)
	if f == "" || f == "-" || f == "/dev/null" || f == "/" || strings.HasPrefix(f, "-") || strings.ContainsAny(f, "$`*?") {
		return ""
	}
	return f
}

// executes returns the end offset in rest of the first command that runs
// file f — `sh f`, `bash -e f`, `source f`, `. f`, `python f`, `./f` or
// `/abs/f` — or -1. A mention of f as an argument of another command
// (chmod +x f, sha256sum f) is not a run.
func executes(rest, f string) int {
	name := strings.TrimPrefix(f, "./")
	for at := 0; at < len(rest); {
		k := strings.Index(rest[at:], name)
		if k < 0 {
			return -1
		}
		k += at
		at = k + 1
		end := k + len(name)
		if end < len(rest) && !strings.ContainsRune(" \t\n;&|)'\"", rune(rest[end])) {
			continue // a longer name
		}
		p := k
		if p > 0 && (rest[p-1] == '"' || rest[p-1] == '\'') {
			p--
			if end < len(rest) && rest[end] == rest[p] {
				end++
			}
		}
		// Direct execution: ./f or /abs/f as the command word.
		direct := p
		if !strings.HasPrefix(name, "/") {
			if p < 2 || rest[p-2:p] != "./" {
				direct = -1
			} else {
				direct = p - 2
			}
		}
		if direct >= 0 && atCommandStart(rest, direct) {
			return end
		}
		if p > 0 && (rest[p-1] == '/' || isWordByte(rest[p-1])) {
			continue // part of another path or word
		}
		// Interpreter with flags: bash -e f, . f, source f.
		line := rest[:p]
		if i := strings.LastIndexAny(line, "\n;&|("); i >= 0 {
			line = line[i+1:]
		}
		fields := strings.Fields(line)
		for len(fields) > 0 && (fields[0] == "sudo" || fields[0] == "exec" || fields[0] == "then" || fields[0] == "do") {
			fields = fields[1:]
		}
		if len(fields) == 0 {
			continue
		}
		cmd := path.Base(fields[0])
		if cmd != "." && cmd != "source" && !isInterpreter(cmd) {
			continue
		}
		flags := true
		for _, fl := range fields[1:] {
			flags = flags && strings.HasPrefix(fl, "-")
		}
		if flags {
			return end
		}
	}
	return -1
}

// atCommandStart reports whether offset i in s begins a command word: at
// the start, after a separator, or after sudo/exec/then/do.
func atCommandStart(s string, i int) bool {
	line := s[:i]
	if j := strings.LastIndexAny(line, "\n;&|("); j >= 0 {
		line = line[j+1:]
	}
	for _, w := range strings.Fields(line) {
		if w != "sudo" && w != "exec" && w != "then" && w != "do" {
			return false
		}
	}
	return true
}

func mergeSpans(s []Span) []Span {
	if len(s) < 2 {
		return s
	}
	slices.SortFunc(s, func(a, b Span) int { return a.Start - b.Start })
	out := s[:1]
	for _, x := range s[1:] {
		last := &out[len(out)-1]
		if x.Start < last.End {
			last.End = max(last.End, x.End)
			continue
		}
		out = append(out, x)
	}
	return out
}
