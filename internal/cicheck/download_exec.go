package cicheck

import (
	"path"
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
// `/abs/f`, `source f`, `python f`) unless a checksum or signature check
// of the file (sha256sum -c, gpg --verify, cosign verify-blob, ...) comes
// between, and PowerShell's `iex (iwr URL)` /
// `irm URL | iex` on one line. Each Span starts at the fetching
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
	out := powershellDownloadExec(script)
	if !strings.Contains(script, "curl") && !strings.Contains(script, "wget") {
		return mergeSpans(out)
	}
	var downloads []download
	segEnd, term := -1, byte(0)
	fs := newFetchers(script)
	next, nextTool := fs.next(0)
	for next >= 0 {
		start, tool := next, nextTool
		i := start + len(tool)
		next, nextTool = fs.next(i)
		if i > segEnd {
			// Several fetchers in one command share its end; computing it
			// once keeps long commands linear.
			segEnd, term = commandEnd(script, i)
		}
		if term == '|' && (next < 0 || next > segEnd) {
			if end := interpreterAt(script, skipBlank(script, segEnd+1)); end > 0 {
				out = append(out, Span{start, end})
				continue
			}
		}
		if b := substitutionBefore(script, start); b >= 0 {
			out = append(out, Span{b, start + len(tool)})
			continue
		}
		argsEnd := segEnd
		if next >= 0 && next < argsEnd {
			argsEnd = next
		}
		if f := downloadedFile(tool, script[i:argsEnd]); f != "" {
			downloads = append(downloads, download{start: start, end: segEnd, file: f})
		}
	}
	out = append(out, downloadsRun(script, downloads)...)
	return mergeSpans(out)
}

// download is a fetching command that writes file, ending at end.
type download struct {
	start, end int
	file       string
}

// maxDownloadedNames bounds how many distinct downloaded file names are
// followed to an execution, so that a pathological script costs
// O(names × script) at most.
const maxDownloadedNames = 32

// downloadsRun pairs each download with the first later command that runs
// its file, one pass over the script per distinct file name.
func downloadsRun(script string, downloads []download) []Span {
	var names []string
	byName := map[string][]download{}
	for _, d := range downloads {
		if _, ok := byName[d.file]; !ok {
			if len(names) == maxDownloadedNames {
				continue
			}
			names = append(names, d.file)
		}
		byName[d.file] = append(byName[d.file], d)
	}
	var out []Span
	for _, name := range names {
		ds := byName[name]
		used := make([]bool, len(ds))
		k := 0 // ds[k-1] is the last download ending before the execution
		for _, e := range executions(script, ds[0].end, name) {
			for k < len(ds) && ds[k].end <= e.Start {
				k++
			}
			if k > 0 && !used[k-1] {
				used[k-1] = true
				if verifiedBetween(script[ds[k-1].end:e.Start], name) {
					continue
				}
				out = append(out, Span{ds[k-1].start, e.End})
			}
		}
	}
	return out
}

// verifiers are commands that check a file against a known digest or
// signature.
var verifiers = []string{
	"sha256sum", "sha512sum", "sha384sum", "shasum", "b2sum", "gpg --verify", "gpg2 --verify", "gpgv", "cosign verify",
	"minisign", "signify", "openssl dgst", "slsa-verifier", "gh attestation verify", "Get-FileHash",
}

// verifiedBetween reports whether text (the commands between a download
// and the run of its file) checks the file: a verifier and the file's
// name both appear. Every verifier needs the file (or a checksum list
// naming it) as an argument.
func verifiedBetween(text, file string) bool {
	if !strings.Contains(text, path.Base(file)) {
		return false
	}
	for _, v := range verifiers {
		if strings.Contains(text, v) {
			return true
		}
	}
	return false
}

// fetchers finds curl and wget command words in order. It remembers the
// next occurrence of each word so that a script with thousands of one and
// none of the other is still scanned once.
type fetchers struct {
	s          string
	curl, wget int // next candidate offsets; -1 when there is none left
}

func newFetchers(s string) *fetchers {
	return &fetchers{s: s, curl: indexFrom(s, "curl", 0), wget: indexFrom(s, "wget", 0)}
}

func indexFrom(s, w string, from int) int {
	if from > len(s) {
		return -1
	}
	if i := strings.Index(s[from:], w); i >= 0 {
		return from + i
	}
	return -1
}

// next returns the offset of the next curl or wget command word at or
// after from, and which one, or -1.
func (f *fetchers) next(from int) (int, string) {
	for {
		if f.curl >= 0 && f.curl < from {
			f.curl = indexFrom(f.s, "curl", from)
		}
		if f.wget >= 0 && f.wget < from {
			f.wget = indexFrom(f.s, "wget", from)
		}
		i, tool := f.curl, "curl"
		if i < 0 || (f.wget >= 0 && f.wget < i) {
			i, tool = f.wget, "wget"
		}
		if i < 0 {
			return -1, ""
		}
		if isCommandWord(f.s, i, len(tool)) {
			return i, tool
		}
		from = i + 1
	}
}

// isCommandWord reports whether the n bytes at i form a word of their own
// (curl, /usr/bin/curl, curl.exe; not mycurl or curling).
func isCommandWord(s string, i, n int) bool {
	end := i + n
	if strings.HasPrefix(s[end:], ".exe") {
		end += len(".exe") // Windows images
	}
	before := i == 0 || !isWordByte(s[i-1]) || s[i-1] == '.'
	after := end == len(s) || s[end] == ' ' || s[end] == '\t' || s[end] == '\n' || s[end] == '\\'
	return before && after
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

// substitutionBefore returns the start of an interpreter that runs the
// output of the fetcher at start through <( ) or $( ) — sh <(curl …),
// source <(curl …), . <(curl …), sh -c "$(curl …)", eval "$(wget …)" — or
// -1. It walks back over a few words only.
func substitutionBefore(s string, start int) int {
	j := skipBlankBack(s, start)
	if j < 2 || (s[j-2:j] != "<(" && s[j-2:j] != "$(") {
		return -1
	}
	j -= 2
	if j > 0 && (s[j-1] == '"' || s[j-1] == '\'') {
		j--
	}
	for range 8 {
		j = skipBlankBack(s, j)
		w, ws := wordBefore(s, j)
		switch base := path.Base(w); {
		case w == "":
			return -1
		case strings.HasPrefix(w, "-"):
			j = ws
		case base == "." || base == "source" || base == "eval" || isInterpreter(base):
			return ws
		default:
			return -1
		}
	}
	return -1
}

// skipBlankBack returns i moved back over spaces and tabs.
func skipBlankBack(s string, i int) int {
	for i > 0 && (s[i-1] == ' ' || s[i-1] == '\t') {
		i--
	}
	return i
}

// wordBefore returns the word ending at i (at most 64 bytes) and where it
// starts.
func wordBefore(s string, i int) (string, int) {
	j := i
	for j > 0 && i-j < 64 && !strings.ContainsRune(" \t\n;&|()<>\"'`", rune(s[j-1])) {
		j--
	}
	return s[j:i], j
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

// lookback bounds how far before a word the scanner looks for the command
// it belongs to; commands that run a file name are short.
const lookback = 256

// executions returns the commands after from that run file f — `sh f`,
// `bash -e f`, `source f`, `. f`, `python f`, `./f` or `/abs/f` — as spans
// ending after the file name. A mention of f as an argument of another
// command (chmod +x f, sha256sum f) is not a run. The cost is linear in
// the script: constant work per mention of f.
func executions(script string, from int, f string) []Span {
	name := strings.TrimPrefix(f, "./")
	var out []Span
	for at := from; at < len(script); {
		k := strings.Index(script[at:], name)
		if k < 0 {
			return out
		}
		k += at
		at = k + len(name)
		end := k + len(name)
		if end < len(script) && !strings.ContainsRune(" \t\n;&|)'\"", rune(script[end])) {
			continue // a longer name
		}
		p := k
		if p > from && (script[p-1] == '"' || script[p-1] == '\'') {
			p--
			if end < len(script) && script[end] == script[p] {
				end++
			}
		}
		// Direct execution: ./f or /abs/f as the command word.
		direct := p
		if !strings.HasPrefix(name, "/") {
			if p-2 < from || script[p-2:p] != "./" {
				direct = -1
			} else {
				direct = p - 2
			}
		}
		if direct >= 0 && atCommandStart(script, direct) {
			out = append(out, Span{direct, end})
			continue
		}
		if p > 0 && (script[p-1] == '/' || isWordByte(script[p-1])) {
			continue // part of another path or word
		}
		// Interpreter with flags: bash -e f, . f, source f.
		fields, ok := commandBefore(script, p)
		for len(fields) > 0 && (fields[0] == "sudo" || fields[0] == "exec" || fields[0] == "then" || fields[0] == "do") {
			fields = fields[1:]
		}
		if !ok || len(fields) == 0 {
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
			out = append(out, Span{p, end})
		}
	}
	return out
}

// commandBefore returns the words of the current command before offset i
// (from the last separator on), looking back at most lookback bytes; ok is
// false when the command starts further back than that.
func commandBefore(s string, i int) ([]string, bool) {
	lo := max(0, i-lookback)
	line := s[lo:i]
	if j := strings.LastIndexAny(line, "\n;&|("); j >= 0 {
		return strings.Fields(line[j+1:]), true
	}
	return strings.Fields(line), lo == 0
}

// atCommandStart reports whether offset i in s begins a command word: at
// the start, after a separator, or after sudo/exec/then/do.
func atCommandStart(s string, i int) bool {
	fields, ok := commandBefore(s, i)
	if !ok {
		return false
	}
	for _, w := range fields {
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
