// Command curate selects the malicious-package records of the attack waves
// the README names from a local checkout of the public OSV malicious-package
// repository and copies them, byte for byte, into the embedded data directory.
//
//	go run ./bench/curate -from CHECKOUT -commit SHA -o internal/advisory/data \
//		[-shai-hulud NAMES] [-sha1-hulud NAMES]
//
// It reads CHECKOUT/osv/malicious/{npm,pypi}/**/MAL-*.json, skips the
// unassigned MAL-0000-* source files and withdrawn records, assigns each
// remaining record to at most one wave (see waveOf), copies the selected
// files unchanged and writes SOURCE.md listing the repository, commit,
// licence and the count per wave. Hand-written records already in the
// output directory are left alone.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

type record struct {
	ID        string    `json:"id"`
	Summary   string    `json:"summary"`
	Details   string    `json:"details"`
	Published time.Time `json:"published"`
	Withdrawn string    `json:"withdrawn"`
	Affected  []struct {
		Package struct {
			Ecosystem string `json:"ecosystem"`
			Name      string `json:"name"`
		} `json:"package"`
	} `json:"affected"`
	References []struct {
		URL string `json:"url"`
	} `json:"references"`
}

// Wave names, in the order SOURCE.md lists them.
const (
	waveShaiHulud  = "Shai-Hulud (Sept 2025)"
	waveShaiHulud2 = "Shai-Hulud 2 / Sha1-Hulud (Nov 2025)"
	waveNx         = "Nx s1ngularity (Aug 2025)"
	waveChalk      = "chalk/debug hijack (Sept 2025)"
	wavePyPI       = "PyPI: LiteLLM, ultralytics, torchtriton"
)

var waves = []string{waveShaiHulud, waveShaiHulud2, waveNx, waveChalk, wavePyPI}

// chalkDebug are the packages hijacked through the maintainer's phished
// account on 2025-09-08.
var chalkDebug = map[string]bool{
	"chalk": true, "debug": true, "ansi-styles": true, "strip-ansi": true,
	"ansi-regex": true, "supports-color": true, "wrap-ansi": true,
	"color-convert": true, "color-name": true, "is-arrayish": true,
	"slice-ansi": true, "error-ex": true, "color-string": true,
	"simple-swizzle": true, "has-ansi": true, "supports-hyperlinks": true,
	"chalk-template": true, "backslash": true,
}

var pypiWave = map[string]bool{"litellm": true, "ultralytics": true, "torchtriton": true}

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func within(t time.Time, from, to string) bool {
	return !t.Before(day(from)) && t.Before(day(to).AddDate(0, 0, 1))
}

// waveLists holds package names read from -names files: many upstream
// records of the Shai-Hulud waves (e.g. most Nov 2025 GHSA imports) say
// only "malicious code" and never name the worm, so their membership has to
// come from a published list of the wave's packages.
type waveLists map[string]map[string]bool

// waveOf returns the wave a record belongs to, or "" when it is in none.
// Membership comes from the package names, the record's own text and
// publication date, and the -names lists, never from a hard-coded id list,
// so a refresh picks up records added upstream later.
func waveOf(r *record, lists waveLists) string {
	text := strings.ToLower(r.Summary + "\n" + r.Details)
	for _, ref := range r.References {
		text += "\n" + strings.ToLower(ref.URL)
	}
	for _, a := range r.Affected {
		eco, name := a.Package.Ecosystem, strings.ToLower(a.Package.Name)
		switch {
		case eco == "PyPI" && pypiWave[strings.NewReplacer("_", "-", ".", "-").Replace(name)]:
			return wavePyPI
		case eco == "npm" && (name == "nx" || strings.HasPrefix(name, "@nx/")) && within(r.Published, "2025-08-26", "2025-09-30"):
			return waveNx
		case eco == "npm" && chalkDebug[name] && within(r.Published, "2025-09-08", "2025-09-30"):
			return waveChalk
		case eco == "npm" && lists[waveShaiHulud][name] && within(r.Published, "2025-09-14", "2025-10-31"):
			return waveShaiHulud
		case eco == "npm" && lists[waveShaiHulud2][name] && within(r.Published, "2025-11-20", "2025-12-31"):
			return waveShaiHulud2
		}
	}
	sha1 := strings.Contains(text, "sha1-hulud") || strings.Contains(text, "shai-hulud 2") ||
		strings.Contains(text, "shai-hulud-2") || strings.Contains(text, "second coming") ||
		strings.Contains(text, "setup_bun.js") || strings.Contains(text, "bun_environment.js")
	if sha1 && within(r.Published, "2025-11-20", "2025-12-31") {
		return waveShaiHulud2
	}
	if strings.Contains(text, "shai-hulud") || strings.Contains(text, "shai_hulud") {
		switch {
		case within(r.Published, "2025-09-14", "2025-10-31"):
			return waveShaiHulud
		case within(r.Published, "2025-11-20", "2025-12-31"):
			return waveShaiHulud2
		}
	}
	return ""
}

type selected struct {
	id, wave, path string
}

func collect(root string, lists waveLists) ([]selected, error) {
	var out []selected
	for _, eco := range []string{"npm", "pypi"} {
		dir := filepath.Join(root, "osv", "malicious", eco)
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			base := d.Name()
			if d.IsDir() || !strings.HasPrefix(base, "MAL-") || strings.HasPrefix(base, "MAL-0000-") || !strings.HasSuffix(base, ".json") {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			var r record
			if err := json.Unmarshal(b, &r); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			if r.Withdrawn != "" || r.ID+".json" != base {
				return nil
			}
			if w := waveOf(&r, lists); w != "" {
				out = append(out, selected{r.ID, w, p})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(out, func(a, b selected) int { return strings.Compare(a.id, b.id) })
	return out, nil
}

// readNames reads a list of npm package names, one a line; blank lines and
// lines starting with # are skipped.
func readNames(path string) (map[string]bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.ContainsAny(line, " \t,") {
			return nil, fmt.Errorf("%s:%d: want one package name a line, got %q", path, i+1, line)
		}
		names[strings.ToLower(line)] = true
	}
	return names, nil
}

func run(from, commit, outDir string, lists waveLists) error {
	sel, err := collect(from, lists)
	if err != nil {
		return err
	}
	if len(sel) == 0 {
		return errors.New("no records selected: is -from a checkout of the malicious-package repository?")
	}
	count := map[string]int{}
	for _, s := range sel {
		b, err := os.ReadFile(s.path)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(outDir, s.id+".json"), b, 0o644); err != nil {
			return err
		}
		count[s.wave]++
	}
	var sb strings.Builder
	sb.WriteString("# Source of the embedded MAL-* records\n\n")
	sb.WriteString("The MAL-* records in this directory are copied unchanged from the public\n")
	sb.WriteString("OSV malicious-package repository (github.com/ossf/malicious-packages,\n")
	fmt.Fprintf(&sb, "Apache License 2.0), commit %s, by\n`go run ./bench/curate`.\n\n", commit)
	sb.WriteString("| Wave | Records |\n| --- | --- |\n")
	for _, w := range waves {
		fmt.Fprintf(&sb, "| %s | %d |\n", w, count[w])
	}
	fmt.Fprintf(&sb, "| total | %d |\n", len(sel))
	return os.WriteFile(filepath.Join(outDir, "SOURCE.md"), []byte(sb.String()), 0o644)
}

func main() {
	from := flag.String("from", "", "checkout of the malicious-package repository")
	commit := flag.String("commit", "unknown", "commit of that checkout, recorded in SOURCE.md")
	out := flag.String("o", "internal/advisory/data", "directory to write the records to")
	sh1 := flag.String("shai-hulud", "", "file listing the npm packages of the Sept 2025 Shai-Hulud wave, one a line")
	sh2 := flag.String("sha1-hulud", "", "file listing the npm packages of the Nov 2025 Shai-Hulud 2 wave, one a line")
	flag.Parse()
	if *from == "" {
		fmt.Fprintln(os.Stderr, "curate: -from is required")
		os.Exit(2)
	}
	lists := waveLists{}
	for wave, path := range map[string]string{waveShaiHulud: *sh1, waveShaiHulud2: *sh2} {
		if path == "" {
			continue
		}
		names, err := readNames(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "curate:", err)
			os.Exit(2)
		}
		lists[wave] = names
	}
	if err := run(*from, *commit, *out, lists); err != nil {
		fmt.Fprintln(os.Stderr, "curate:", err)
		os.Exit(1)
	}
}
