// Package npmtest generates large, realistic npm lockfiles for benchmarks
// and tests. Output is deterministic: the same n always gives the same
// bytes. Every URL points at https://registry.example/, a made-up host.
package npmtest

import (
	"bytes"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strconv"
)

// Registry is the registry every generated tarball URL points at.
const Registry = "https://registry.example/"

// DirectDeps is how many root dependencies the generated manifest declares
// (at most n).
const DirectDeps = 120

type pkg struct {
	path, name, version string
}

// GenerateLockfile returns a lockfileVersion 3 package-lock.json with n
// packages (about 470 bytes each, so n = 50,000 is 23.4 MB).
func GenerateLockfile(n int) []byte {
	lock, _ := Generate(n)
	return lock
}

// Generate returns a package-lock.json with n packages and the matching
// package.json, whose dependencies the lockfile satisfies. Entries carry a
// version, a registry tarball URL, a sha512 integrity, a license, usually
// a dependencies map and engines; about 30% are dev, 3% optional, 1% have
// install scripts, 20% are scoped and 1 in 8 is nested under another
// package's node_modules.
func Generate(n int) (lock, manifest []byte) {
	rng := rand.New(rand.NewPCG(uint64(n), 0x6275696c6477616c))
	pkgs := make([]pkg, 0, n)
	top := make([]pkg, 0, n)
	seen := make(map[string]bool)
	for i := 0; len(pkgs) < n; i++ {
		version := fmt.Sprintf("%d.%d.%d", rng.IntN(12), rng.IntN(30), rng.IntN(20))
		if i%8 == 7 && len(top) > 0 {
			// Another version of an existing package, nested under a parent.
			parent := top[rng.IntN(len(top))]
			other := top[rng.IntN(len(top))]
			path := parent.path + "/node_modules/" + other.name
			if seen[path] {
				continue
			}
			seen[path] = true
			pkgs = append(pkgs, pkg{path: path, name: other.name, version: version})
			continue
		}
		name := fmt.Sprintf("pkg-%s-%d", words[i%len(words)], i)
		if i%5 == 0 {
			name = fmt.Sprintf("@scope-%d/%s-%d", i%97, words[(i/5)%len(words)], i)
		}
		p := pkg{path: "node_modules/" + name, name: name, version: version}
		pkgs = append(pkgs, p)
		top = append(top, p)
	}
	direct := top[:min(DirectDeps, len(top))]

	var b bytes.Buffer
	b.Grow(n * 500)
	b.WriteString("{\n  \"name\": \"bench-app\",\n  \"version\": \"1.0.0\",\n  \"lockfileVersion\": 3,\n  \"requires\": true,\n  \"packages\": {\n")
	b.WriteString("    \"\": {\n      \"name\": \"bench-app\",\n      \"version\": \"1.0.0\",\n      \"dependencies\": {")
	writeSpecs(&b, direct, "        ")
	b.WriteString("\n      }\n    }")
	for i, p := range pkgs {
		b.WriteString(",\n    ")
		writeEntry(&b, rng, i, p, top)
	}
	b.WriteString("\n  }\n}\n")

	var m bytes.Buffer
	m.WriteString("{\n  \"name\": \"bench-app\",\n  \"version\": \"1.0.0\",\n  \"private\": true,\n  \"dependencies\": {")
	writeSpecs(&m, direct, "    ")
	m.WriteString("\n  }\n}\n")
	return b.Bytes(), m.Bytes()
}

func writeSpecs(b *bytes.Buffer, pkgs []pkg, indent string) {
	for i, p := range pkgs {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(b, "\n%s%q: \"^%s\"", indent, p.name, p.version)
	}
}

func writeEntry(b *bytes.Buffer, rng *rand.Rand, i int, p pkg, top []pkg) {
	base := p.name
	if j := bytes.LastIndexByte([]byte(base), '/'); j >= 0 {
		base = base[j+1:]
	}
	sum := sha512.Sum512([]byte(p.name + "@" + p.version))
	fmt.Fprintf(b, "%q: {\n", p.path)
	fmt.Fprintf(b, "      \"version\": %q,\n", p.version)
	fmt.Fprintf(b, "      \"resolved\": \"%s%s/-/%s-%s.tgz\",\n", Registry, p.name, base, p.version)
	fmt.Fprintf(b, "      \"integrity\": \"sha512-%s\",\n", base64.StdEncoding.EncodeToString(sum[:]))
	switch r := rng.IntN(100); {
	case r < 30:
		b.WriteString("      \"dev\": true,\n")
	case r < 33:
		b.WriteString("      \"optional\": true,\n")
	}
	if i%100 == 42 {
		b.WriteString("      \"hasInstallScript\": true,\n")
	}
	b.WriteString("      \"license\": \"")
	b.WriteString(licenses[rng.IntN(len(licenses))])
	b.WriteString("\"")
	if deps := rng.IntN(6); deps > 0 {
		b.WriteString(",\n      \"dependencies\": {")
		for d := 0; d < deps; d++ {
			if d > 0 {
				b.WriteByte(',')
			}
			dep := top[rng.IntN(len(top))]
			fmt.Fprintf(b, "\n        %q: \"^%s\"", dep.name, dep.version)
		}
		b.WriteString("\n      }")
	}
	if rng.IntN(2) == 0 {
		b.WriteString(",\n      \"engines\": {\n        \"node\": \">=")
		b.WriteString(strconv.Itoa(10 + rng.IntN(12)))
		b.WriteString("\"\n      }")
	}
	b.WriteString("\n    }")
}

var words = []string{"core", "util", "parse", "stream", "http", "crypto", "json", "path", "glob", "color", "log", "test", "cli", "fs", "async", "cache"}

var licenses = []string{"MIT", "ISC", "Apache-2.0", "BSD-3-Clause", "BSD-2-Clause"}
