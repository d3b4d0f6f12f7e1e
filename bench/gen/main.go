// Command gen writes a generated npm project for the lockfile scan
// benchmark: package-lock.json with -n packages, the matching package.json,
// and an .npmrc naming the generated lockfile's made-up registry so that a
// scan judges the registry as the project's own.
//
//	go run ./bench/gen -n 50000 -o /tmp/lock50k
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/buildwall/buildwall/internal/lockfile/npm/npmtest"
)

func main() {
	n := flag.Int("n", 50000, "number of packages")
	out := flag.String("o", "", "output directory (created)")
	flag.Parse()
	if *out == "" || *n < 1 {
		fmt.Fprintln(os.Stderr, "usage: gen -n PACKAGES -o DIR")
		os.Exit(2)
	}
	if err := write(*out, *n); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func write(dir string, n int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	lock, manifest := npmtest.Generate(n)
	files := map[string][]byte{
		"package-lock.json": lock,
		"package.json":      manifest,
		".npmrc":            []byte("registry=" + npmtest.Registry + "\n"),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}
