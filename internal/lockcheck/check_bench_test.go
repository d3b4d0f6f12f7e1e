package lockcheck_test

import (
	"testing"

	"github.com/buildwall/buildwall/internal/advisory"
	"github.com/buildwall/buildwall/internal/lockcheck"
	"github.com/buildwall/buildwall/internal/lockfile/manifest"
	"github.com/buildwall/buildwall/internal/lockfile/npm"
	"github.com/buildwall/buildwall/internal/lockfile/npm/npmtest"
)

// BenchmarkCheck runs every lockfile rule over a parsed 50,000-package
// lockfile (parsing excluded): the rules' share of the scan budget.
func BenchmarkCheck(b *testing.B) {
	lock, man := npmtest.Generate(50000)
	lf, err := npm.Parser{}.Parse("package-lock.json", lock)
	if err != nil {
		b.Fatal(err)
	}
	m, err := manifest.Parse("package.json", man)
	if err != nil {
		b.Fatal(err)
	}
	db := advisory.Embedded()
	defaults := lockcheck.StaticDefaults(npmtest.Registry)
	b.ResetTimer()
	for b.Loop() {
		c := &lockcheck.Context{
			Lockfile:   lf,
			Path:       "package-lock.json",
			Manifests:  []lockcheck.Manifest{{Path: "package.json", Importer: ".", Manifest: m}},
			Advisories: db,
			Registries: lockcheck.NewRegistries(defaults),
		}
		if fs := lockcheck.Check(c); len(fs) != 500 {
			b.Fatalf("got %d findings, want the 500 install scripts", len(fs))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(lf.Packages)), "ns/package")
}
