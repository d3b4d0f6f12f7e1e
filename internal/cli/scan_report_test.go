package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
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
	for _, format := range []string{"json", "text", "markdown"} {
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
