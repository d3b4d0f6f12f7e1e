package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeRec(t *testing.T, root, eco, pkg, id, body string) string {
	t.Helper()
	dir := filepath.Join(root, "osv", "malicious", eco, pkg)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, id+".json")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func rec(id, eco, name, published, details string) string {
	return `{"id":"` + id + `","published":"` + published + `T00:00:00Z","summary":"Malicious code in ` + name +
		`","details":"` + details + `","affected":[{"package":{"ecosystem":"` + eco + `","name":"` + name + `"},"versions":["1.0.0"]}]}` + "\n"
}

func TestCurateSelectsWaves(t *testing.T) {
	src, out := t.TempDir(), t.TempDir()
	keep := map[string]string{
		"MAL-2025-1": writeRec(t, src, "npm", "chalk", "MAL-2025-1", rec("MAL-2025-1", "npm", "chalk", "2025-09-08", "compromised")),
		"MAL-2025-2": writeRec(t, src, "npm", "@x/y", "MAL-2025-2", rec("MAL-2025-2", "npm", "@x/y", "2025-09-16", "Shai-Hulud worm, bundle.js")),
		"MAL-2025-3": writeRec(t, src, "npm", "z", "MAL-2025-3", rec("MAL-2025-3", "npm", "z", "2025-11-24", "drops setup_bun.js and bun_environment.js")),
		"MAL-2025-4": writeRec(t, src, "npm", "nx", "MAL-2025-4", rec("MAL-2025-4", "npm", "@nx/js", "2025-08-27", "s1ngularity")),
		"MAL-2026-5": writeRec(t, src, "pypi", "litellm", "MAL-2026-5", rec("MAL-2026-5", "PyPI", "LiteLLM", "2026-03-24", "compromised")),
	}
	// Not selected: a chalk typosquat-era record out of the wave window, a
	// withdrawn record, an unassigned source file, an unrelated package, a
	// Shai-Hulud mention long before the wave, a file named for another id.
	writeRec(t, src, "npm", "chalk", "MAL-2022-9", rec("MAL-2022-9", "npm", "chalk", "2022-01-01", "old"))
	writeRec(t, src, "npm", "w", "MAL-2025-6", strings.Replace(rec("MAL-2025-6", "npm", "w", "2025-09-16", "Shai-Hulud"), `"id"`, `"withdrawn":"2025-10-01T00:00:00Z","id"`, 1))
	writeRec(t, src, "npm", "chalk", "MAL-0000-ghsa-malware-1", rec("MAL-0000-ghsa-malware-1", "npm", "chalk", "2025-09-08", "x"))
	writeRec(t, src, "npm", "leftpad-evil", "MAL-2025-7", rec("MAL-2025-7", "npm", "leftpad-evil", "2025-09-16", "steals tokens"))
	writeRec(t, src, "npm", "dune", "MAL-2024-8", rec("MAL-2024-8", "npm", "dune", "2024-01-01", "shai-hulud"))
	writeRec(t, src, "npm", "alias", "MAL-2025-10", rec("MAL-2025-11", "npm", "alias", "2025-09-16", "shai-hulud"))

	// A Shai-Hulud 2 record whose text never names the worm: selected only
	// through the -sha1-hulud list, and only inside the wave's dates.
	keep["MAL-2025-12"] = writeRec(t, src, "npm", "@z/sdk", "MAL-2025-12", rec("MAL-2025-12", "npm", "@z/sdk", "2025-11-24", "malicious code"))
	writeRec(t, src, "npm", "@z/sdk", "MAL-2024-13", rec("MAL-2024-13", "npm", "@z/sdk", "2024-11-24", "malicious code"))
	lists := waveLists{waveShaiHulud2: {"@z/sdk": true}}
	if err := run(src, "abc123", out, lists); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	want := []string{"MAL-2025-1.json", "MAL-2025-12.json", "MAL-2025-2.json", "MAL-2025-3.json", "MAL-2025-4.json", "MAL-2026-5.json", "SOURCE.md"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("output = %v, want %v", got, want)
	}
	for id, p := range keep {
		a, _ := os.ReadFile(p)
		b, _ := os.ReadFile(filepath.Join(out, id+".json"))
		if !bytes.Equal(a, b) {
			t.Errorf("%s not copied byte for byte", id)
		}
	}
	src2, _ := os.ReadFile(filepath.Join(out, "SOURCE.md"))
	for _, s := range []string{"abc123", "Apache License 2.0", "| " + waveShaiHulud + " | 1 |", "| " + waveShaiHulud2 + " | 2 |", "| " + waveChalk + " | 1 |", "| total | 6 |"} {
		if !strings.Contains(string(src2), s) {
			t.Errorf("SOURCE.md lacks %q:\n%s", s, src2)
		}
	}
}

func TestCurateEmptyIsError(t *testing.T) {
	if err := run(t.TempDir(), "x", t.TempDir(), nil); err == nil {
		t.Fatal("want error for a directory without records")
	}
}

func TestReadNames(t *testing.T) {
	p := filepath.Join(t.TempDir(), "names")
	os.WriteFile(p, []byte("# wave 2\n@Z/SDK\n\nposthog-node\n"), 0o644)
	got, err := readNames(p)
	if err != nil || len(got) != 2 || !got["@z/sdk"] || !got["posthog-node"] {
		t.Fatalf("readNames = %v, %v", got, err)
	}
	os.WriteFile(p, []byte("a\nb c\n"), 0o644)
	if _, err := readNames(p); err == nil || !strings.Contains(err.Error(), ":2:") {
		t.Fatalf("readNames on a bad line: err = %v, want one naming line 2", err)
	}
}
