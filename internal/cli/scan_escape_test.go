package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hostileNames are directory and file name parts that try to inject
// workflow commands, lines and terminal escape sequences into a CI log.
var hostileNames = []string{
	"::error file=x,line=1::pwned",
	"a\n::add-mask::secret",
	"\x1b[2J\x1b]0;title\x07",
	"bidi\u202egpj.kcol",
	"  ::stop-commands::tok",
	"c1\u0085x\rz",
}

// writeHostileTree creates, under a new temp dir, for each hostile name a
// directory of that name holding a workflow (unpinned action, a uses:
// value with an escape sequence) and a broken package-lock.json, and a
// workflow file whose own name is hostile.
func writeHostileTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	wf := "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - uses: actions/checkout@v4\n      - uses: \"octo/act@v1\\e[31m::error::x\"\n"
	write := func(rel, content string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i, name := range hostileNames {
		write(filepath.Join(name, ".github", "workflows", "ci.yml"), wf)
		write(filepath.Join(name, "package-lock.json"), "{\"lockfileVersion\": 3, \"packages\": {\"\x1b[31m\n::error::"+strings.Repeat("x", i))
		write(filepath.Join(".github", "workflows", name+".yml"), wf)
	}
	return dir
}

// Every human-readable output of scan (text, markdown, stderr, SARIF
// messages) comes out with the hostile names neutralised; JSON keeps them
// exactly (it is structured), and SARIF stays valid JSON.
func TestScanHostileNamesEscaped(t *testing.T) {
	useTestRegistry(t)
	dir := writeHostileTree(t)
	for _, format := range []string{"text", "markdown", "json", "sarif"} {
		t.Run(format, func(t *testing.T) {
			r := runCLI(t, dir, "scan", "--format", format, ".")
			if r.code != ExitFindings {
				t.Fatalf("exit %d, want 1; stderr:\n%s", r.code, r.stderr)
			}
			assertCleanLog(t, "stderr", r.stderr)
			switch format {
			case "text", "markdown":
				assertCleanLog(t, "stdout", r.stdout)
				if !strings.Contains(r.stdout, `\x3a:error file=x,line=1::pwned`) && !strings.Contains(r.stdout, `::error file=x,line=1::pwned`) {
					t.Errorf("the hostile directory is missing from the report:\n%s", r.stdout)
				}
			case "json":
				var doc struct {
					Findings []struct {
						Path    string `json:"path"`
						Message string `json:"message"`
					} `json:"findings"`
				}
				if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
					t.Fatalf("json output does not decode: %v", err)
				}
				raw := false
				for _, f := range doc.Findings {
					if strings.HasPrefix(f.Path, "a\n::add-mask::secret/") {
						raw = true
					}
				}
				if !raw {
					t.Error("json output does not carry the path exactly")
				}
				assertCleanLog(t, "json stdout", r.stdout)
			case "sarif":
				var doc struct {
					Runs []struct {
						Results []struct {
							Message struct {
								Text string `json:"text"`
							} `json:"message"`
							Properties struct {
								Package string `json:"package"`
							} `json:"properties"`
						} `json:"results"`
					} `json:"runs"`
				}
				if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
					t.Fatalf("sarif output does not decode: %v", err)
				}
				if len(doc.Runs) != 1 || len(doc.Runs[0].Results) == 0 {
					t.Fatalf("sarif has no results:\n%s", r.stdout)
				}
				for _, res := range doc.Runs[0].Results {
					assertCleanLog(t, "sarif message", res.Message.Text)
					assertCleanLog(t, "sarif package", res.Properties.Package)
				}
				assertCleanLog(t, "sarif stdout", r.stdout)
			}
		})
	}
	// --output FILE: the summary goes to stderr, the report to the file.
	out := filepath.Join(t.TempDir(), "report.txt")
	r := runCLI(t, dir, "scan", "--output", out, ".")
	assertCleanLog(t, "stderr", r.stderr)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	assertCleanLog(t, "report file", string(b))
}

// A scan root named after a workflow command is escaped in the warnings.
func TestScanHostileRootEscaped(t *testing.T) {
	useTestRegistry(t)
	dir := t.TempDir()
	root := filepath.Join(dir, "::error::x\nnewline")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, dir, "scan", "::error::x\nnewline")
	assertCleanLog(t, "stderr", r.stderr)
	if !strings.Contains(r.stderr, `\x3a:error::x\nnewline`) {
		t.Errorf("stderr does not name the root escaped:\n%s", r.stderr)
	}
	r = runCLI(t, dir, "scan", "::error::missing\x1b[2J")
	assertCleanLog(t, "stderr", r.stderr)
}
