package output

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/buildwall/buildwall/internal/finding"
	"github.com/buildwall/buildwall/internal/testutil"
)

// fixtureRules is deliberately not sorted by ID, and lacks metadata for
// "unparseable-lockfile", which the rich fixture reports anyway.
func fixtureRules() []finding.Rule {
	return []finding.Rule{
		{ID: "malicious-package", Severity: finding.SeverityCritical,
			Summary: "A locked name@version is in the malicious-package database.",
			Fix:     "Remove or replace the package, and rotate every secret the build could read.",
			Help:    "Data comes from OSV `MAL-*` records."},
		{ID: "missing-integrity", Severity: finding.SeverityHigh,
			Summary: "A registry package has no integrity hash.",
			Fix:     "Regenerate the lockfile with a current package manager."},
		{ID: "install-script", Severity: finding.SeverityMedium,
			Summary: "The package runs install scripts.",
			Fix:     "Allowlist it in buildwall.yml if it needs them; otherwise install with --ignore-scripts."},
		{ID: "weak-integrity", Severity: finding.SeverityMedium,
			Summary: "Only a sha1 integrity hash.",
			Fix:     "Regenerate the lockfile so it records sha512."},
		{ID: "unpinned-action", Severity: finding.SeverityHigh,
			Summary: "uses: with a tag | branch instead of a commit SHA.",
			Fix:     "Run `buildwall pin`."},
	}
}

// richReport exercises every branch of every writer: several files, all
// severities, findings with and without package, unknown line and column,
// and text that needs escaping in each format.
func richReport() Report {
	npm := func(name, ver string) *finding.Package {
		return &finding.Package{Ecosystem: "npm", Name: name, Version: ver}
	}
	return Report{
		ToolVersion: "v1.2.3",
		Roots:       []string{"."},
		Files: []string{
			".github/workflows/ci.yml", "apps/web/package-lock.json", "dir with space/yarn.lock",
			"package-lock.json", "pnpm-lock.yaml",
		},
		Findings: []finding.Finding{
			{Rule: "unpinned-action", Severity: finding.SeverityLow,
				Message:  "actions/checkout@8e5e7e5a is SHA-pinned without a `# vX.Y.Z` comment",
				Location: finding.Location{Path: ".github/workflows/ci.yml", Line: 14, Column: 15},
				Package:  &finding.Package{Ecosystem: "GitHub Actions", Name: "actions/checkout", Version: "8e5e7e5a"},
				Fix:      "Add the version comment: `uses: actions/checkout@<sha> # v4.2.2`"},
			{Rule: "missing-integrity", Severity: finding.SeverityHigh,
				Message:  "left-pad@1.3.0 has no integrity hash | resolved <http://registry.example/left-pad>",
				Location: finding.Location{Path: "apps/web/package-lock.json", Line: 7, Column: 5},
				Package:  npm("left-pad", "1.3.0"),
				Fix:      "Run npm install --package-lock-only\nand commit the result"},
			{Rule: "unparseable-lockfile", Severity: finding.SeverityHigh,
				Message:  "cannot parse yarn.lock: unexpected indentation\nat line 3, column 1",
				Location: finding.Location{Path: "dir with space/yarn.lock"},
				Fix:      "Regenerate the lockfile with `yarn install`."},
			{Rule: "malicious-package", Severity: finding.SeverityCritical,
				Message:  "axios@1.14.1 is malicious (MAL-2026-2307): hijacked release adds plain-crypto-js",
				Location: finding.Location{Path: "package-lock.json", Line: 12, Column: 5},
				Package:  npm("axios", "1.14.1"),
				Fix:      "Remove axios 1.14.1, pin 1.14.0, and rotate every secret the build could read."},
			{Rule: "install-script", Severity: finding.SeverityMedium,
				Message:  "façade-ünïcode-日本@2.0.0 runs a postinstall script *here*",
				Location: finding.Location{Path: "package-lock.json", Line: 40},
				Package:  npm("façade-ünïcode-日本", "2.0.0"),
				Fix:      "Allowlist it in buildwall.yml if it needs the script."},
			{Rule: "weak-integrity", Severity: finding.SeverityMedium,
				Message:  "evil\x1b[31m@0.0.1 has only a sha1 hash",
				Location: finding.Location{Path: "package-lock.json", Line: 55, Column: 9},
				Package:  &finding.Package{Ecosystem: "npm", Name: "evil\x1b[31m"},
				Fix:      "Regenerate the lockfile so it records sha512."},
			{Rule: "missing-integrity", Severity: finding.SeverityHigh,
				Message:  "@scope/pkg@3.0.0 has no integrity hash",
				Location: finding.Location{Path: "pnpm-lock.yaml", Line: 101, Column: 3},
				Package:  npm("@scope/pkg", "3.0.0"),
				Fix:      "Regenerate the lockfile."},
			// Suppressed: listed by JSON and SARIF, only counted elsewhere.
			{Rule: "malicious-package", Severity: finding.SeverityCritical,
				Message:  "event-stream@3.3.6 is malicious (MAL-2018-1)",
				Location: finding.Location{Path: "pnpm-lock.yaml", Line: 120, Column: 3},
				Package:  npm("event-stream", "3.3.6"),
				Fix:      "Remove it.",
				Suppressed: &finding.Suppression{Kind: finding.SuppressionExternal, Reason: "vendored copy, audited\nby security",
					Source: "buildwall.yml:7"}},
			{Rule: "install-script", Severity: finding.SeverityMedium,
				Message:  "esbuild@0.19.2 runs a postinstall script",
				Location: finding.Location{Path: "pnpm-lock.yaml", Line: 130, Column: 3},
				Package:  npm("esbuild", "0.19.2"),
				Fix:      "Allowlist it.",
				Suppressed: &finding.Suppression{Kind: finding.SuppressionInSource, Reason: "needs its binary",
					Source: "pnpm-lock.yaml:129"}},
		},
		Rules: fixtureRules(),
		Base:  "/work/repo with space",
	}
}

func emptyReport() Report {
	return Report{ToolVersion: "dev", Roots: []string{"."}, Files: []string{"package-lock.json"}, Rules: fixtureRules()}
}

// hostileReport has paths, packages, messages and fixes written by an
// attacker: GitHub workflow commands at the start of a line (also after
// spaces and after a newline), ANSI and OSC sequences, bidi overrides, C1
// controls, line separators, Markdown and HTML metacharacters.
func hostileReport() Report {
	paths := []string{
		"::error file=x,line=1::pwned/package-lock.json",
		"a\n::add-mask::secret/.github/workflows/ci.yml",
		"\x1b[2J\x1b]0;title\x07/yarn.lock",
		"  ::stop-commands::tok/Dockerfile",
		"bidi\u202egpj.kcol/pnpm-lock.yaml",
		"c1\u0085\u2028|<img src=x>`x`/.gitlab-ci.yml",
	}
	r := Report{ToolVersion: "dev", Roots: []string{"::warning::root\n"}, Files: paths, Rules: fixtureRules()}
	for i, p := range paths {
		r.Findings = append(r.Findings, finding.Finding{
			Rule: "malicious-package", Severity: finding.SeverityCritical,
			Message:  "::error::msg " + p + "\n  ::notice::second line\r\nthird",
			Location: finding.Location{Path: p, Line: i + 1, Column: 2},
			Package:  &finding.Package{Ecosystem: "npm", Name: "::group::" + p, Version: "1.0.0\x1b[0m"},
			Fix:      "::endgroup::\nremove " + p,
		})
	}
	return r
}

var cases = []struct {
	name   string
	report Report
}{
	{"rich", richReport()},
	{"empty", emptyReport()},
	{"hostile", hostileReport()},
}

func render(t *testing.T, f Format, r Report, o Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, f, r, o); err != nil {
		t.Fatalf("Write(%s): %v", f, err)
	}
	return buf.Bytes()
}

// TestGolden compares every format on every fixture with
// testdata/<format>/<case>.golden; go test -update rewrites them.
func TestGolden(t *testing.T) {
	for _, f := range Formats() {
		for _, c := range cases {
			t.Run(string(f)+"_"+c.name, func(t *testing.T) {
				got := render(t, f, c.report, Options{})
				assertFormatLogSafe(t, f, got)
				testutil.Golden(t, filepath.Join("testdata", string(f), c.name+".golden"), got)
				if again := render(t, f, c.report, Options{}); !bytes.Equal(got, again) {
					t.Errorf("output is not deterministic")
				}
			})
		}
	}
	t.Run("text_rich_color", func(t *testing.T) {
		got := render(t, FormatText, richReport(), Options{Color: true})
		testutil.Golden(t, filepath.Join("testdata", "text", "rich-color.golden"), got)
	})
	t.Run("rules", func(t *testing.T) {
		for _, f := range []Format{FormatText, FormatJSON, FormatMarkdown} {
			var buf bytes.Buffer
			if err := WriteRules(&buf, f, fixtureRules()); err != nil {
				t.Fatal(err)
			}
			testutil.Golden(t, filepath.Join("testdata", "rules", string(f)+".golden"), buf.Bytes())
		}
	})
	testutil.CheckUnusedGoldens(t, filepath.Join("testdata", "*", "*.golden"))
}

func TestParseFormat(t *testing.T) {
	tests := []struct {
		in      string
		want    Format
		wantErr bool
	}{
		{"text", FormatText, false},
		{"JSON", FormatJSON, false},
		{" sarif ", FormatSARIF, false},
		{"markdown", FormatMarkdown, false},
		{"md", FormatMarkdown, false},
		{"xml", "", true},
		{"", "", true},
	}
	for _, tt := range tests {
		got, err := ParseFormat(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseFormat(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
		}
		if err != nil && !errors.Is(err, ErrUnknownFormat) {
			t.Errorf("ParseFormat(%q) error %v does not wrap ErrUnknownFormat", tt.in, err)
		}
		if got != tt.want {
			t.Errorf("ParseFormat(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestWriteUnknownFormat(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, Format("xml"), richReport(), Options{}); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("Write(xml) error = %v, want ErrUnknownFormat", err)
	}
	if err := WriteRules(&buf, FormatSARIF, fixtureRules()); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("WriteRules(sarif) error = %v, want ErrUnknownFormat", err)
	}
	if buf.Len() != 0 {
		t.Errorf("unknown format wrote %q", buf.String())
	}
}

type failingWriter struct{ n int }

var errDiskFull = errors.New("disk full")

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errDiskFull
	}
	f.n--
	return len(p), nil
}

// TestWriteError checks that every writer reports its destination's error,
// including a write that fails after earlier ones succeeded (a report of a
// few hundred kB leaves the streaming writers' 64 KiB buffers many times).
func TestWriteError(t *testing.T) {
	big := richReport()
	for range 9 {
		big.Findings = append(big.Findings, big.Findings...)
	}
	for _, f := range Formats() {
		ns := []int{0}
		if f == FormatText || f == FormatJSON { // the streaming writers
			var whole bytes.Buffer
			if err := Write(&whole, f, big, Options{}); err != nil {
				t.Fatal(err)
			}
			if whole.Len() < 4*64<<10 {
				t.Fatalf("%s report is %d bytes, too small to fill the buffer 4 times", f, whole.Len())
			}
			ns = append(ns, 1, 3)
		}
		for _, n := range ns {
			err := Write(&failingWriter{n: n}, f, big, Options{})
			if !errors.Is(err, errDiskFull) {
				t.Errorf("Write(%s) after %d writes: error = %v, want %v", f, n, err, errDiskFull)
			}
		}
	}
}

// TestJSONContract decodes the json format and checks the field set of each
// finding and the order, which must be the caller's even when unsorted.
func TestJSONContract(t *testing.T) {
	r := richReport()
	var doc struct {
		Schema   string                       `json:"schema"`
		Tool     map[string]string            `json:"tool"`
		Findings []map[string]json.RawMessage `json:"findings"`
		Summary  map[string]int               `json:"summary"`
	}
	if err := json.Unmarshal(render(t, FormatJSON, r, Options{}), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Schema != JSONSchema {
		t.Errorf("schema = %q, want %q", doc.Schema, JSONSchema)
	}
	if diff := cmp.Diff(map[string]string{"name": "buildwall", "version": "v1.2.3"}, doc.Tool); diff != "" {
		t.Errorf("tool mismatch (-want +got):\n%s", diff)
	}
	var gotRules []string
	for i, f := range doc.Findings {
		wantKeys := []string{"column", "fingerprint", "fix", "line", "message", "package", "path", "rule", "severity"}
		if r.Findings[i].Suppressed != nil {
			wantKeys = append(wantKeys, "suppressed")
		}
		var keys []string
		for k := range f {
			keys = append(keys, k)
		}
		if diff := cmp.Diff(wantKeys, keys, cmpSorted); diff != "" {
			t.Errorf("finding %d keys mismatch (-want +got):\n%s", i, diff)
		}
		var rule, sev string
		json.Unmarshal(f["rule"], &rule)
		json.Unmarshal(f["severity"], &sev)
		if sev != r.Findings[i].Severity.String() {
			t.Errorf("finding %d severity = %q, want %q", i, sev, r.Findings[i].Severity)
		}
		if (r.Findings[i].Package == nil) != (string(f["package"]) == "null") {
			t.Errorf("finding %d package = %s, want null exactly when the finding has none", i, f["package"])
		}
		gotRules = append(gotRules, rule)
	}
	var wantRules []string
	for _, f := range r.Findings {
		wantRules = append(wantRules, f.Rule)
	}
	if diff := cmp.Diff(wantRules, gotRules); diff != "" {
		t.Errorf("finding order changed (-want +got):\n%s", diff)
	}
	wantSummary := map[string]int{"critical": 1, "high": 3, "medium": 2, "low": 1, "files": 5, "suppressed": 2}
	if diff := cmp.Diff(wantSummary, doc.Summary); diff != "" {
		t.Errorf("summary mismatch (-want +got):\n%s", diff)
	}

	var empty struct {
		Findings json.RawMessage `json:"findings"`
	}
	if err := json.Unmarshal(render(t, FormatJSON, Report{}, Options{}), &empty); err != nil {
		t.Fatal(err)
	}
	if string(empty.Findings) != "[]" {
		t.Errorf("findings of an empty report = %s, want []", empty.Findings)
	}
}

var cmpSorted = cmpopts.SortSlices(func(a, b string) bool { return a < b })

func TestTextEscapesControlCharacters(t *testing.T) {
	for _, color := range []bool{false, true} {
		got := string(render(t, FormatText, richReport(), Options{Color: color}))
		// The only ESC bytes allowed are our own color sequences.
		stripped := got
		for _, seq := range []string{ansiReset, ansiBold, ansiDim, ansiCritical, ansiHigh, ansiMedium, ansiLow, ansiOK} {
			stripped = strings.ReplaceAll(stripped, seq, "")
		}
		if strings.Contains(stripped, "\x1b") {
			t.Errorf("color=%v: raw ESC from scanned content reached the output:\n%q", color, got)
		}
		if !strings.Contains(got, `evil\x1b[31m`) {
			t.Errorf("color=%v: escaped package name missing from output:\n%s", color, got)
		}
		if !color && strings.Contains(got, "\x1b") {
			t.Errorf("color off but output has ANSI sequences:\n%q", got)
		}
	}
}

func TestSanitize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain ascii", "plain ascii"},
		{"ünïcode 日本", "ünïcode 日本"},
		{"a\x1b[2Jb", `a\x1b[2Jb`},
		{"tab\there", `tab\there`},
		{"del\x7f", `del\x7f`},
		{"c1\u0085", `c1\u0085`},
		{"::error::x", `\x3a:error::x`},
		{"  ::add-mask::x", `  \x3a:add-mask::x`},
		{"line\u2028sep", `line\u2028sep`},
		{"bidi\u202eevil", `bidi\u202eevil`},
		{"bad\xffutf8", `bad\xffutf8`},
	}
	for _, tt := range tests {
		if got := sanitize(tt.in); got != tt.want {
			t.Errorf("sanitize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestColorEnabled(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	regular, err := os.Create(filepath.Join(t.TempDir(), "out.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer regular.Close()
	if ColorEnabled(&bytes.Buffer{}, env()) {
		t.Errorf("ColorEnabled(buffer) = true, want false")
	}
	if ColorEnabled(regular, env()) {
		t.Errorf("ColorEnabled(regular file) = true, want false")
	}
	// A character device stands in for a terminal without needing a pty.
	dev, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("open %s: %v", os.DevNull, err)
	}
	defer dev.Close()
	if fi, err := dev.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Skipf("%s is not a character device here", os.DevNull)
	}
	tests := []struct {
		name   string
		getenv func(string) string
		want   bool
	}{
		{"terminal", env(), true},
		{"no_color_set", env("NO_COLOR", "1"), false},
		{"no_color_empty", env("NO_COLOR", ""), true},
		{"term_dumb", env("TERM", "dumb"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ColorEnabled(dev, tt.getenv); got != tt.want {
				t.Errorf("ColorEnabled = %v, want %v", got, tt.want)
			}
		})
	}
}

// assertLogSafe fails when out has a raw control character other than a
// line break, a raw bidi or C1 rune, or a line a CI runner reads as a
// workflow command.
func assertLogSafe(t *testing.T, out []byte) {
	t.Helper()
	for i, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(strings.TrimLeft(line, " \t"), "::") {
			t.Errorf("line %d starts a workflow command: %q", i+1, line)
		}
		for _, r := range line {
			if r < 0x20 || needsEscape(r) {
				t.Errorf("line %d has raw %U: %q", i+1, r, line)
				break
			}
		}
	}
}

// Every format, on the hostile fixture, with color too.
func TestHostileLogSafe(t *testing.T) {
	for _, f := range Formats() {
		for _, color := range []bool{false, true} {
			out := render(t, f, hostileReport(), Options{Color: color})
			if color && f == FormatText {
				out = []byte(stripANSI(string(out)))
			}
			assertFormatLogSafe(t, f, out)
		}
	}
}

// githubCommandRE matches the one workflow command the github format starts
// a line with: properties hold no ':' or ',' (escaped as %3A, %2C), so the
// first "::" after them ends them.
var githubCommandRE = regexp.MustCompile(`^::(error|warning|notice) (file=[^:,\n]*,(line=[0-9]+,(col=[0-9]+,)?)?)?title=[^:,\n]*::`)

// assertFormatLogSafe is assertLogSafe, except that the github format's own
// workflow commands are allowed at the start of a line when well formed.
func assertFormatLogSafe(t *testing.T, f Format, out []byte) {
	t.Helper()
	if f != FormatGitHub {
		assertLogSafe(t, out)
		return
	}
	var rest []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "::") {
			m := githubCommandRE.FindString(line)
			if m == "" {
				t.Errorf("malformed workflow command: %q", line)
				continue
			}
			line = "CMD " + line[len(m):]
		}
		rest = append(rest, line)
	}
	assertLogSafe(t, []byte(strings.Join(rest, "\n")))
}

// stripANSI removes the text format's own color sequences.
func stripANSI(s string) string {
	for _, seq := range []string{ansiReset, ansiBold, ansiDim, ansiCritical, ansiHigh, ansiMedium, ansiLow, ansiOK} {
		s = strings.ReplaceAll(s, seq, "")
	}
	return s
}
