package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/buildwall/buildwall/internal/testutil"
)

// repoTree is a repository (.git) with a buildwall.yml at its top that
// ignores everything under apps/legacy, and two apps with one high and one
// medium finding each.
func repoTree(t *testing.T) string {
	t.Helper()
	dir := writeTree(t, map[string]string{
		"buildwall.yml":                 "scan:\n  ignore:\n    - path: \"apps/legacy/**\"\n      reason: frozen, replaced in Q3\n",
		"apps/web/package.json":         cleanManifest,
		"apps/web/package-lock.json":    highLock,
		"apps/legacy/package.json":      cleanManifest,
		"apps/legacy/package-lock.json": highLock,
	})
	if err := os.Mkdir(filepath.Join(dir, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestScanPathsRelativeToRepository: scanning apps from the repository's
// top and "." from apps/ give byte-identical JSON and text reports, with
// paths from the top, and the buildwall.yml at the top applies to both.
func TestScanPathsRelativeToRepository(t *testing.T) {
	useTestRegistry(t)
	dir := repoTree(t)
	db := t.TempDir()
	for _, format := range []string{"json", "text", "markdown", "github"} {
		fromTop := runCLI(t, dir, "scan", "--db", db, "--format", format, "--fail-on", "none", "apps")
		fromApps := runCLI(t, filepath.Join(dir, "apps"), "scan", "--db", db, "--format", format, "--fail-on", "none", ".")
		if fromTop.code != ExitOK || fromApps.code != ExitOK {
			t.Fatalf("%s: exit codes %d, %d; stderr: %s %s", format, fromTop.code, fromApps.code, fromTop.stderr, fromApps.stderr)
		}
		if diff := cmp.Diff(fromTop.stdout, fromApps.stdout); diff != "" {
			t.Errorf("%s: report from the top and from apps/ differ (-top +apps):\n%s", format, diff)
		}
		if !strings.Contains(fromTop.stdout, "apps/web/package-lock.json") {
			t.Errorf("%s: no repository-relative path in:\n%s", format, fromTop.stdout)
		}
	}
	sarif := runCLI(t, filepath.Join(dir, "apps", "web"), "scan", "--db", db, "--format", "sarif", "--fail-on", "none")
	var doc struct {
		Runs []struct {
			OriginalURIBaseIDs map[string]struct {
				URI string `json:"uri"`
			} `json:"originalUriBaseIds"`
			Results []struct {
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI       string `json:"uri"`
							URIBaseID string `json:"uriBaseId"`
						} `json:"artifactLocation"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(sarif.stdout), &doc); err != nil {
		t.Fatalf("SARIF: %v\n%s", err, sarif.stdout)
	}
	real, _ := filepath.EvalSymlinks(dir)
	if got, want := doc.Runs[0].OriginalURIBaseIDs["%SRCROOT%"].URI, "file://"+filepath.ToSlash(real)+"/"; got != want {
		t.Errorf("%%SRCROOT%% = %q, want %q", got, want)
	}
	for _, r := range doc.Runs[0].Results {
		if a := r.Locations[0].PhysicalLocation.ArtifactLocation; a.URI != "apps/web/package-lock.json" || a.URIBaseID != "%SRCROOT%" {
			t.Errorf("SARIF location %+v, want apps/web/package-lock.json from %%SRCROOT%%", a)
		}
	}
}

// TestScanSuppressedFindingsVisible: a buildwall.yml ignore keeps the
// finding in JSON and SARIF, marked suppressed, counts it in text, and
// never fails the gate.
func TestScanSuppressedFindingsVisible(t *testing.T) {
	useTestRegistry(t)
	dir := repoTree(t)
	db := t.TempDir()
	got := runCLI(t, dir, "scan", "--db", db, "--format", "json", "apps/legacy")
	if got.code != ExitOK {
		t.Fatalf("exit code = %d, want 0: suppressed findings must not fail; stderr: %s", got.code, got.stderr)
	}
	var rep struct {
		Findings []struct {
			Rule       string `json:"rule"`
			Path       string `json:"path"`
			Suppressed *struct {
				Kind, Reason, Source string
			} `json:"suppressed"`
		} `json:"findings"`
		Summary map[string]int `json:"summary"`
	}
	if err := json.Unmarshal([]byte(got.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 2 {
		t.Fatalf("findings = %+v, want the 2 suppressed ones", rep.Findings)
	}
	for _, f := range rep.Findings {
		want := struct{ Kind, Reason, Source string }{"external", "frozen, replaced in Q3", "buildwall.yml:3"}
		if f.Suppressed == nil || *f.Suppressed != want {
			t.Errorf("%s %s: suppressed = %+v, want %+v", f.Rule, f.Path, f.Suppressed, want)
		}
	}
	if rep.Summary["high"] != 0 || rep.Summary["suppressed"] != 2 {
		t.Errorf("summary = %v, want high 0 and suppressed 2", rep.Summary)
	}
	if !strings.Contains(got.stderr, "0 findings; 2 files scanned, 2 suppressed; passing") {
		t.Errorf("stderr = %q", got.stderr)
	}

	sarif := runCLI(t, dir, "scan", "--db", db, "--format", "sarif", "apps/legacy")
	if !strings.Contains(sarif.stdout, `"suppressions": [`) || !strings.Contains(sarif.stdout, `"kind": "external"`) {
		t.Errorf("SARIF lacks suppressions:\n%s", sarif.stdout)
	}
	text := runCLI(t, dir, "scan", "--db", db, "apps")
	if text.code != ExitFindings {
		t.Errorf("exit code = %d, want 1 for apps/web's high finding", text.code)
	}
	if strings.Contains(text.stdout, "apps/legacy") || !strings.Contains(text.stdout, "2 suppressed") {
		t.Errorf("text must count suppressed findings, not list them:\n%s", text.stdout)
	}
}

// TestScanOutputUnwritable: an --output path that cannot be written is a
// usage error before the scan (the tree here would be exit 1).
func TestScanOutputUnwritable(t *testing.T) {
	useTestRegistry(t)
	dir := writeTree(t, map[string]string{"package.json": cleanManifest, "package-lock.json": highLock})
	for _, out := range []string{"missing/dir/report.sarif", "."} {
		got := runCLI(t, dir, "scan", "--db", t.TempDir(), "--format", "sarif", "--output", out, ".")
		if got.code != ExitUsage || !strings.Contains(got.stderr, "--output") {
			t.Errorf("--output %s: exit %d, stderr %q; want exit 2 naming --output", out, got.code, got.stderr)
		}
		if strings.Contains(got.stderr, "finding") {
			t.Errorf("--output %s: the scan ran before the output path was checked: %q", out, got.stderr)
		}
	}
}

// TestScanOutputFullDisk: when the report does not fit, the previous
// report is left intact and nothing else is left behind; buildwall fails
// (exit 3) rather than pass with a truncated report.
func TestScanOutputFullDisk(t *testing.T) {
	useTestRegistry(t)
	dir := writeTree(t, map[string]string{"package.json": cleanManifest, "package-lock.json": highLock})
	disk := testutil.SmallTmpfs(t, 64<<10)
	out := filepath.Join(disk, "buildwall.sarif")
	old := []byte(`{"previous": "report"}` + "\n")
	if err := os.WriteFile(out, old, 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.FillDisk(t, disk)
	got := runCLI(t, dir, "scan", "--db", t.TempDir(), "--format", "sarif", "--output", out, ".")
	if got.code != ExitInternal {
		t.Errorf("exit code = %d, want %d; stderr: %s", got.code, ExitInternal, got.stderr)
	}
	if data, _ := os.ReadFile(out); !bytes.Equal(data, old) {
		t.Errorf("old report changed on a full disk: %q", data)
	}
	ents, _ := os.ReadDir(disk)
	if len(ents) != 2 {
		t.Errorf("left behind in the output directory: %v", ents)
	}
}

// TestScanStepSummaryAndColor: $GITHUB_STEP_SUMMARY gets the Markdown
// report appended; --color always colors text, never and NO_COLOR do not.
func TestScanStepSummaryAndColor(t *testing.T) {
	useTestRegistry(t)
	dir := writeTree(t, map[string]string{"package.json": cleanManifest, "package-lock.json": highLock})
	summary := filepath.Join(t.TempDir(), "summary.md")
	os.WriteFile(summary, []byte("earlier step\n"), 0o644)
	run := func(env map[string]string, args ...string) scanRun {
		var stdout, stderr bytes.Buffer
		code := Main(context.Background(), args, Env{Stdout: &stdout, Stderr: &stderr, Dir: dir,
			Getenv: func(k string) string { return env[k] }})
		return scanRun{code, stdout.String(), stderr.String()}
	}
	db := t.TempDir()
	got := run(map[string]string{"GITHUB_STEP_SUMMARY": summary}, "scan", "--db", db, "--color", "always", "--format", "github")
	if got.code != ExitFindings || !strings.HasPrefix(got.stdout, "::error file=package-lock.json,line=") {
		t.Errorf("github format: exit %d, stdout %q", got.code, got.stdout)
	}
	data, _ := os.ReadFile(summary)
	if !strings.HasPrefix(string(data), "earlier step\n## buildwall scan\n") || !strings.Contains(string(data), "missing-integrity") {
		t.Errorf("step summary = %q", data)
	}
	if got := run(nil, "scan", "--db", db, "--color", "always"); !strings.Contains(got.stdout, "\x1b[") {
		t.Errorf("--color always: no color in %q", got.stdout)
	}
	for _, c := range []struct {
		env  map[string]string
		args []string
	}{{nil, []string{"--color", "never"}}, {map[string]string{"NO_COLOR": "1"}, nil}} {
		if got := run(c.env, append([]string{"scan", "--db", db}, c.args...)...); strings.Contains(got.stdout, "\x1b[") {
			t.Errorf("%v %v: colored output %q", c.env, c.args, got.stdout)
		}
	}
	if got := run(nil, "scan", "--color", "rainbow"); got.code != ExitUsage {
		t.Errorf("--color rainbow: exit %d, want 2", got.code)
	}
}

// TestScanStepSummaryNotTwice: Markdown redirected into the job summary,
// as older snippets do, is not appended a second time.
func TestScanStepSummaryNotTwice(t *testing.T) {
	useTestRegistry(t)
	dir := writeTree(t, map[string]string{"package.json": cleanManifest, "package-lock.json": highLock})
	summary := filepath.Join(t.TempDir(), "summary.md")
	f, err := os.OpenFile(summary, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stderr bytes.Buffer
	code := Main(context.Background(), []string{"scan", "--db", t.TempDir(), "--format", "markdown", "--fail-on", "none"},
		Env{Stdout: f, Stderr: &stderr, Dir: dir, Getenv: func(k string) string {
			if k == "GITHUB_STEP_SUMMARY" {
				return summary
			}
			return ""
		}})
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	data, _ := os.ReadFile(summary)
	if n := strings.Count(string(data), "## buildwall scan"); n != 1 {
		t.Errorf("job summary has the report %d times:\n%s", n, data)
	}
}
