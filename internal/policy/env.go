package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/buildwall/buildwall/internal/npmconfig"
)

// Env is the toolchain configuration of this machine that presets expand
// from. It is read by DetectEnv; tests construct it directly. Nothing here
// is a built-in default for a package registry: every registry endpoint
// comes from the toolchain's own configuration.
type Env struct {
	// NPMRegistries are the registry URLs npm is configured to use (the
	// default registry and every scoped "@scope:registry").
	NPMRegistries []string
	// GoProxies are the GOPROXY URLs ("direct" and "off" removed).
	GoProxies []string
	// GoDirect is set when GOPROXY contains "direct": modules may then be
	// fetched from their source hosts, which no preset can list.
	GoDirect bool
	// GoSumDBs are checksum databases: GOSUMDB's name or URL.
	GoSumDBs []string
	// GoPrivate are the GONOPROXY and GOPRIVATE module path patterns; their
	// hosts ("corp.example/x/*" → corp.example, "*.corp.example") are
	// fetched directly.
	GoPrivate []string
	// PipIndexes are pip's index-url and extra-index-url values (pip's own
	// default index when none is configured).
	PipIndexes []string
	// PipFileHosts are hosts that serve package files for pip's default
	// index (as pip itself names them).
	PipFileHosts []string
	// GitHubHosts are the GitHub hosts to allow, as host or host:port. Empty
	// means GitHub's public hosts; DetectEnv sets them from
	// GITHUB_SERVER_URL and GITHUB_API_URL for GitHub Enterprise Server.
	GitHubHosts []string
}

// githubPublic are GitHub's public endpoints used by git, the API, release
// and archive downloads. These are GitHub's own names, not a package
// registry's.
var githubPublic = []string{
	"github.com:443", "github.com:22", "api.github.com:443", "codeload.github.com:443",
	"uploads.github.com:443", "objects.githubusercontent.com:443",
	"raw.githubusercontent.com:443", "release-assets.githubusercontent.com:443",
	"github-releases.githubusercontent.com:443",
}

// addPreset expands the preset name (written as text) from env.
func (p *Policy) addPreset(name, text string, env Env) {
	var endpoints []string
	var warn []string
	switch name {
	case PresetNPM:
		endpoints = urlsToEndpoints(env.NPMRegistries, &warn)
		if len(env.NPMRegistries) == 0 {
			warn = append(warn, "no npm registry configured (is npm installed?)")
		}
	case PresetGo:
		endpoints = urlsToEndpoints(env.GoProxies, &warn)
		for _, db := range env.GoSumDBs {
			// GOSUMDB is "name", "name+key" or "name+key url".
			fields := strings.Fields(db)
			if len(fields) == 0 || fields[0] == "off" {
				continue
			}
			if len(fields) > 1 {
				endpoints = append(endpoints, urlsToEndpoints(fields[1:2], &warn)...)
				continue
			}
			host, _, _ := strings.Cut(fields[0], "+")
			endpoints = append(endpoints, host+":443")
		}
		for _, pat := range env.GoPrivate {
			if h, ok := goPatternHost(pat); ok {
				endpoints = append(endpoints, h)
			} else if pat != "" {
				warn = append(warn, fmt.Sprintf("GOPRIVATE/GONOPROXY pattern %q names no host", pat))
			}
		}
		if len(env.GoProxies) == 0 && len(env.GoPrivate) == 0 {
			warn = append(warn, "no GOPROXY configured (is go installed?)")
		}
		if env.GoDirect {
			warn = append(warn, `GOPROXY contains "direct": modules the proxy lacks are fetched from their source hosts, which must be allowed separately`)
		}
	case PresetPyPI:
		endpoints = urlsToEndpoints(env.PipIndexes, &warn)
		for _, h := range env.PipFileHosts {
			endpoints = append(endpoints, h+":443")
		}
		if len(env.PipIndexes) == 0 {
			warn = append(warn, "no pip index configured (is pip installed?)")
		}
	case PresetGitHub:
		endpoints = env.GitHubHosts
		if len(endpoints) == 0 {
			endpoints = githubPublic
		}
	}
	for _, w := range warn {
		p.warnings = append(p.warnings, fmt.Sprintf("preset %s: %s", name, w))
	}
	seen := map[string]bool{}
	for _, ep := range endpoints {
		if seen[ep] {
			continue
		}
		seen[ep] = true
		if port, ok := loopbackPort(ep); ok {
			p.addHostPort(port, text)
			p.expanded[name] = append(p.expanded[name], ep)
			continue
		}
		e, err := parseEntry(ep)
		if err != nil || e.kind == kindPreset {
			p.warnings = append(p.warnings, fmt.Sprintf("preset %s: skip endpoint %q: %v", name, ep, err))
			continue
		}
		p.add(e, text)
		p.expanded[name] = append(p.expanded[name], ep)
	}
	slices.Sort(p.expanded[name])
}

// loopbackPort reports whether the endpoint "host:port" is on the runner's
// loopback (a local registry cache), and its port.
func loopbackPort(ep string) (uint16, bool) {
	host, ps, err := net.SplitHostPort(ep)
	if err != nil {
		return 0, false
	}
	port, err := parsePort(ps)
	if err != nil {
		return 0, false
	}
	if strings.EqualFold(host, "localhost") {
		return port, true
	}
	a, err := netip.ParseAddr(host)
	return port, err == nil && a.Unmap().IsLoopback()
}

// urlsToEndpoints turns registry URLs into "host:port" allow entries (IPv6
// as "[addr]:port"), using the scheme's default port.
func urlsToEndpoints(urls []string, warn *[]string) []string {
	var out []string
	for _, raw := range urls {
		u, err := url.Parse(strings.TrimSpace(raw))
		if err != nil || u.Hostname() == "" {
			*warn = append(*warn, fmt.Sprintf("cannot read a host from %q", raw))
			continue
		}
		port := u.Port()
		if port == "" {
			switch u.Scheme {
			case "http":
				port = "80"
			case "https":
				port = "443"
			default:
				*warn = append(*warn, fmt.Sprintf("unknown scheme in %q", raw))
				continue
			}
		}
		out = append(out, net.JoinHostPort(strings.ToLower(u.Hostname()), port))
	}
	return out
}

// goPatternHost returns the host part of a GOPRIVATE-style module path glob:
// "corp.example/x/*" → "corp.example", "*.corp.example" → "*.corp.example".
func goPatternHost(pat string) (string, bool) {
	first, _, _ := strings.Cut(strings.TrimSpace(pat), "/")
	if first == "" || !strings.Contains(first, ".") {
		return "", false
	}
	rest, wild := strings.CutPrefix(first, "*.")
	if strings.ContainsAny(rest, "*?[]") {
		return "", false
	}
	if wild {
		return "*." + rest, true
	}
	return first, true
}

// Runner runs a command and returns its standard output.
type Runner func(ctx context.Context, name string, args ...string) ([]byte, error)

// Detector reads toolchain configuration. The zero value runs the real
// commands with the process environment.
type Detector struct {
	// Run runs a toolchain command; nil runs it with os/exec.
	Run Runner
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// Timeout bounds each command; 0 means 15 seconds (starting Python
	// for pip can take several on a busy runner).
	Timeout time.Duration
	// Presets limits detection to these presets; empty means all.
	Presets []string
	// Dir is the directory the commands run in (project .npmrc and
	// go.work apply there); empty means the process's own.
	Dir string
	// NPM reads npm's registries for the project in dir; nil reads npm's
	// configuration files and environment with npmconfig.Resolve (through
	// Getenv), which starts npm only when no source names the default
	// registry and then caches its answer in the user cache directory.
	NPM func(ctx context.Context, dir string) npmconfig.Registries
	// ProjectNPMRC, when set and NPM is nil, supplies the project .npmrc
	// instead of the file in the tree (see npmconfig.Options.Project):
	// `buildwall run` reads it from a trusted git revision.
	ProjectNPMRC func(root string) ([]byte, error)
}

// DetectEnv reads the toolchain configuration of this machine for every
// preset with a zero Detector. It never fails: a missing toolchain leaves
// its fields empty (and Compile warns about presets that then expand to
// nothing). Prefer DetectEnvFor, which runs only the commands a policy
// needs.
func DetectEnv(ctx context.Context) Env { return Detector{}.Detect(ctx) }

// DetectEnvFor reads only the configuration of the presets s uses, so a
// policy without presets costs nothing (starting pip's Python alone can
// take seconds on a busy runner).
func DetectEnvFor(ctx context.Context, s *Spec) Env {
	p := s.Presets()
	if len(p) == 0 {
		return Env{}
	}
	return Detector{Presets: p}.Detect(ctx)
}

// Presets returns the presets s uses, in Presets() order.
func (s *Spec) Presets() []string {
	var out []string
	for _, name := range Presets() {
		for _, a := range s.Allow {
			if strings.EqualFold(a, name) {
				out = append(out, name)
				break
			}
		}
	}
	return out
}

// Detect reads npm's registries from its configuration (see Detector.NPM),
// runs `go env -json ...` and pip's own configuration reader (through
// python3) concurrently, each with a short timeout, and reads
// GITHUB_SERVER_URL and GITHUB_API_URL.
func (d Detector) Detect(ctx context.Context) Env {
	if d.Run == nil {
		d.Run = func(ctx context.Context, name string, args ...string) ([]byte, error) {
			return execRun(ctx, d.Dir, name, args...)
		}
	}
	if d.Getenv == nil {
		d.Getenv = os.Getenv
	}
	if d.Timeout == 0 {
		d.Timeout = 15 * time.Second
	}
	if d.NPM == nil {
		getenv, project := d.Getenv, d.ProjectNPMRC
		d.NPM = func(ctx context.Context, dir string) npmconfig.Registries {
			return npmconfig.Resolve(ctx, npmconfig.Options{Getenv: getenv, Dir: dir, Project: project}, npmconfig.UserCache())
		}
	}
	want := func(preset string) bool { return len(d.Presets) == 0 || slices.Contains(d.Presets, preset) }
	run := func(name string, args ...string) []byte {
		ctx, cancel := context.WithTimeout(ctx, d.Timeout)
		defer cancel()
		out, err := d.Run(ctx, name, args...)
		if err != nil {
			return nil
		}
		return out
	}
	var env Env
	var wg sync.WaitGroup
	if want(PresetNPM) {
		wg.Go(func() {
			dir := d.Dir
			if dir == "" {
				dir, _ = os.Getwd()
			}
			ctx, cancel := context.WithTimeout(ctx, d.Timeout)
			defer cancel()
			env.NPMRegistries = npmRegistries(d.NPM(ctx, dir))
		})
	}
	if want(PresetGo) {
		wg.Go(func() { goEnv(&env, run("go", "env", "-json", "GOPROXY", "GOSUMDB", "GONOPROXY", "GOPRIVATE")) })
	}
	if want(PresetPyPI) {
		// -I: the directory the build runs in (the branch's files) is not
		// on sys.path, so a json.py there cannot run outside the sandbox.
		wg.Go(func() { pipEnv(&env, run("python3", "-I", "-c", pipScript)) })
	}
	if want(PresetGitHub) {
		env.GitHubHosts = githubHosts(d.Getenv("GITHUB_SERVER_URL"), d.Getenv("GITHUB_API_URL"))
	}
	wg.Wait()
	return env
}

func execRun(ctx context.Context, dir, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.WaitDelay = time.Second
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", name, err)
	}
	return out, nil
}

// npmRegistries lists the default registry first, then the scoped ones
// sorted, without repeats.
func npmRegistries(r npmconfig.Registries) []string {
	var regs []string
	if r.Default != "" {
		regs = append(regs, r.Default)
	}
	var scoped []string
	for _, u := range r.Scopes {
		if u != "" {
			scoped = append(scoped, u)
		}
	}
	slices.Sort(scoped)
	return slices.Compact(append(regs, scoped...))
}

func goEnv(env *Env, out []byte) {
	if len(out) == 0 {
		return
	}
	var v map[string]string
	if err := json.Unmarshal(out, &v); err != nil {
		return
	}
	for _, item := range strings.FieldsFunc(v["GOPROXY"], func(r rune) bool { return r == ',' || r == '|' }) {
		switch item = strings.TrimSpace(item); item {
		case "direct":
			env.GoDirect = true
		case "off", "":
		default:
			env.GoProxies = append(env.GoProxies, item)
		}
	}
	if db := strings.TrimSpace(v["GOSUMDB"]); db != "" && db != "off" {
		env.GoSumDBs = append(env.GoSumDBs, db)
	}
	for _, k := range []string{"GONOPROXY", "GOPRIVATE"} {
		for pat := range strings.SplitSeq(v[k], ",") {
			if pat = strings.TrimSpace(pat); pat != "" && !slices.Contains(env.GoPrivate, pat) {
				env.GoPrivate = append(env.GoPrivate, pat)
			}
		}
	}
}

// pipScript asks pip itself for its configured indexes and, when none is
// configured, for its default index and file host, so no registry host is
// written in buildwall.
const pipScript = `
import json
out = {"index": [], "files": []}
try:
    from pip._internal.configuration import Configuration
    c = Configuration(isolated=False)
    c.load()
    for k, v in c.items():
        k = k.split(".")[-1]
        if k in ("index-url", "extra-index-url"):
            out["index"] += str(v).split()
except Exception:
    pass
try:
    from pip._internal.models.index import PyPI
    if not out["index"]:
        out["index"].append(PyPI.simple_url)
    from urllib.parse import urlsplit
    if any(urlsplit(u).hostname == urlsplit(PyPI.url).hostname for u in out["index"]):
        out["files"].append(PyPI.file_storage_domain)
except Exception:
    pass
print(json.dumps(out))
`

func pipEnv(env *Env, out []byte) {
	if len(out) == 0 {
		return
	}
	var v struct {
		Index []string `json:"index"`
		Files []string `json:"files"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		return
	}
	env.PipIndexes = slices.Compact(v.Index)
	env.PipFileHosts = slices.Compact(v.Files)
}

// githubHosts returns the GitHub Enterprise Server hosts named by the
// Actions environment, or nil for github.com (the public list applies).
func githubHosts(server, api string) []string {
	var warn []string
	eps := urlsToEndpoints(slices.DeleteFunc([]string{server, api}, func(s string) bool { return s == "" }), &warn)
	if len(eps) == 0 {
		return nil
	}
	for _, ep := range eps {
		if h, _, _ := net.SplitHostPort(ep); h == "github.com" || h == "api.github.com" {
			return nil
		}
	}
	// git over ssh to the server host, too.
	if h, _, err := net.SplitHostPort(eps[0]); err == nil {
		eps = append(eps, net.JoinHostPort(h, strconv.Itoa(22)))
	}
	return eps
}
