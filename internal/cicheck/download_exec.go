package cicheck

import (
	"regexp"
	"slices"
	"strings"
)

// Span is a byte range [Start, End) of a script.
type Span struct {
	Start, End int
}

// Shell fragments of the download-and-execute patterns. A command may span
// lines with a trailing backslash.
const (
	fetcher     = `\b(?:curl|wget)\b`
	sameCommand = `(?:[^|;&\n]|\\\n)*?` // rest of the same simple command
	interpreter = `(?:(?:sudo|doas)\s+(?:-\S+\s+)*)?(?:env\s+(?:\w+=\S*\s+)*)?(?:/usr/bin/|/bin/|/usr/local/bin/)?` +
		`(?:(?:ba|z|da|k|fi|a)?sh|python[0-9.]*|perl|ruby|node|php|pwsh|iex)\b`
)

var (
	// curl … | sh
	pipeToShell = regexp.MustCompile(fetcher + sameCommand + `\|\s*` + interpreter)
	// sh <(curl …), source <(curl …), sh -c "$(curl …)", eval "$(wget …)"
	substituted = regexp.MustCompile(`(?:\b(?:(?:ba|z|da|k)?sh|source|eval|python[0-9.]*)|(?:^|[\s;&|(])\.)\s+(?:-\S+\s+)*(?:<\(|["']?\$\()\s*` + fetcher)
	// curl -o file …, wget -O file …, curl … > file, curl -O url, wget url
	downloadTo = regexp.MustCompile(fetcher + sameCommand + `(?:\s-(?:o|O|-output|-output-document)(?:\s+|=)([^\s;&|)]+)|\s>\s*([^\s;&|)]+))`)
	// curl -O https://host/path/name, wget https://host/path/name (no -O)
	remoteName = regexp.MustCompile(`\b(?:curl\b` + sameCommand + `\s-(?:O|[a-zA-Z]*O[a-zA-Z]*)\s` + sameCommand + `|wget\s` + sameCommand + `)https?://[^\s'";&|)]*/([^/\s'"?#;&|)]+)`)
)

// DownloadExec finds the places in a shell script where something is
// downloaded and executed without being checked: `curl … | sh` (also
// wget, sudo, python, perl, …), `bash <(curl …)`, `sh -c "$(curl …)"`, and
// a file fetched with `curl -o f` / `wget -O f` / `curl … > f` that a later
// command runs (`sh f`, `bash f`, `./f`, `source f`, `python f`). Each Span
// starts at the fetching command and ends after the interpreter or the
// executed file name; spans are sorted and do not overlap.
//
// It is shared by the rules over workflows (run:), Dockerfiles (RUN) and
// GitLab CI (script:). It is a pattern match over text, not a shell parser:
// quoting tricks and downloads through variables are not followed.
func DownloadExec(script string) []Span {
	if !strings.Contains(script, "curl") && !strings.Contains(script, "wget") {
		return nil
	}
	var out []Span
	for _, m := range pipeToShell.FindAllStringIndex(script, -1) {
		out = append(out, Span{m[0], m[1]})
	}
	for _, m := range substituted.FindAllStringIndex(script, -1) {
		out = append(out, Span{m[0], m[1]})
	}
	type download struct{ start, end int }
	files := map[download]string{} // the fetching command -> file name
	for _, m := range downloadTo.FindAllStringSubmatchIndex(script, -1) {
		for g := 2; g+1 < len(m); g += 2 {
			if m[g] >= 0 {
				files[download{m[0], m[1]}] = strings.Trim(script[m[g]:m[g+1]], `'"`)
			}
		}
	}
	for _, m := range remoteName.FindAllStringSubmatchIndex(script, -1) {
		files[download{m[0], m[1]}] = script[m[2]:m[3]]
	}
	for d, f := range files {
		if f == "" || f == "-" || f == "/dev/null" || strings.HasPrefix(f, "-") || strings.ContainsAny(f, "$`") {
			continue
		}
		if end := executes(script[d.end:], f); end > 0 {
			out = append(out, Span{d.start, d.end + end})
		}
	}
	return mergeSpans(out)
}

// executes returns the end offset in rest of the first command that runs
// file f — `sh f`, `bash -e f`, `source f`, `. f`, `python f`, `./f` or
// `/abs/f` — or -1.
func executes(rest, f string) int {
	q := regexp.QuoteMeta(strings.TrimPrefix(f, "./"))
	direct := `\./` + q
	if strings.HasPrefix(f, "/") {
		direct = q
	}
	re, err := regexp.Compile(`(?:\b(?:(?:ba|z|da|k)?sh|source|python[0-9.]*|perl|ruby|node|php|pwsh)\s+(?:-\S+\s+)*|(?:^|[\s;&|(])\.\s+)["']?(?:\./)?` + q + `["']?(?:\s|$|[;&|)])` +
		`|(?:^|[;&|(]|\n)\s*(?:(?:sudo|then|do|exec)\s+)*["']?` + direct + `["']?(?:\s|$|[;&|)])`)
	if err != nil {
		return -1
	}
	m := re.FindStringIndex(rest)
	if m == nil {
		return -1
	}
	end := m[1]
	if c := rest[end-1]; end > 0 && (c == ' ' || c == '\n' || c == ';' || c == '&' || c == '|' || c == '\t' || c == ')') {
		end--
	}
	return end
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
