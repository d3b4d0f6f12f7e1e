// Command npmreg is a local npm registry for bench/npmci.sh: it generates N
// small packages (a binary tree of dependencies, so a project depending on
// the root pulls all of them), serves their packuments and tarballs on
// 127.0.0.1 with a public registry's caching headers (Cache-Control, ETag),
// and writes a project that depends on them.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	n := flag.Int("n", 300, "number of packages")
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback only)")
	project := flag.String("project", "", "write a project depending on every package to `DIR`")
	addrFile := flag.String("addrfile", "", "write the registry URL to `FILE` once listening")
	flag.Parse()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	if ip := ln.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
		log.Fatalf("refusing to serve on %s: loopback only", ip)
	}
	base := "http://" + ln.Addr().String() + "/"
	files := map[string][]byte{}
	for i := 0; i < *n; i++ {
		name := pkgName(i)
		deps := map[string]string{}
		for _, c := range []int{2*i + 1, 2*i + 2} {
			if c < *n {
				deps[pkgName(c)] = "1.0.0"
			}
		}
		manifest := map[string]any{"name": name, "version": "1.0.0", "main": "index.js", "license": "MIT", "dependencies": deps}
		pj, _ := json.Marshal(manifest)
		body := fmt.Sprintf("// %s\nmodule.exports = %q;\n%s", name, name, strings.Repeat("// filler line to give the tarball some weight\n", 80))
		tgz := tarball(map[string]string{"package.json": string(pj), "index.js": body, "README.md": "# " + name + "\n"})
		s512, s1 := sha512.Sum512(tgz), sha1.Sum(tgz)
		tarPath := name + "/-/" + name + "-1.0.0.tgz"
		files["/"+tarPath] = tgz
		version := map[string]any{
			"name": name, "version": "1.0.0", "dependencies": deps, "license": "MIT",
			"dist": map[string]any{
				"tarball":   base + tarPath,
				"integrity": "sha512-" + base64.StdEncoding.EncodeToString(s512[:]),
				"shasum":    hex.EncodeToString(s1[:]),
			},
		}
		pm, _ := json.Marshal(map[string]any{
			"name": name, "dist-tags": map[string]string{"latest": "1.0.0"},
			"versions": map[string]any{"1.0.0": version},
		})
		files["/"+name] = pm
	}
	if *project != "" {
		if err := os.MkdirAll(*project, 0o755); err != nil {
			log.Fatal(err)
		}
		pj, _ := json.MarshalIndent(map[string]any{
			"name": "npmci-bench", "version": "1.0.0", "private": true,
			"dependencies": map[string]string{pkgName(0): "1.0.0"},
		}, "", "  ")
		if err := os.WriteFile(filepath.Join(*project, "package.json"), pj, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	if *addrFile != "" {
		if err := os.WriteFile(*addrFile, []byte(base), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	etags := make(map[string]string, len(files))
	for p, b := range files {
		sum := sha1.Sum(b)
		etags[p] = `"` + hex.EncodeToString(sum[:]) + `"`
	}
	log.Fatal(http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		// Caching headers like a public registry's: without them npm
		// revalidates every cached packument and tarball, and a "warm
		// cache" install would fetch everything again.
		etag := etags[r.URL.Path]
		h := w.Header()
		h.Set("ETag", etag)
		if strings.HasSuffix(r.URL.Path, ".tgz") {
			h.Set("Content-Type", "application/octet-stream")
			h.Set("Cache-Control", "public, immutable, max-age=31557600")
		} else {
			h.Set("Content-Type", "application/json")
			h.Set("Cache-Control", "public, max-age=300")
		}
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Write(b)
	})))
}

func pkgName(i int) string { return fmt.Sprintf("bwbench-pkg-%03d", i) }

func tarball(files map[string]string) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, name := range []string{"package.json", "index.js", "README.md"} {
		body := files[name]
		tw.WriteHeader(&tar.Header{Name: "package/" + name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}
