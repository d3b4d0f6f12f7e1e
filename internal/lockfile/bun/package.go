package bun

import (
	"strings"

	"github.com/buildwall/buildwall/internal/lockfile"
)

// pkg converts one packages member: key → [ident, ...]. The array's shape
// depends on the source:
//
//	registry:  ["name@1.2.3", "<tarball URL or empty>", {info}, "sha512-..."]
//	git:       ["name@github:user/repo#sha", {info}, "<bun tag>", "sha512-..."?]
//	tarball:   ["name@https://host/x.tgz", {info}, "sha512-..."?]
//	local tgz: ["name@./vendor/x.tgz", {info}, "sha512-..."?]
//	file/link: ["name@file:../x", {info}]
//	workspace: ["name@workspace:packages/a"]
func (p *parser) pkg(m *member, wsVersion map[string]string) (lockfile.Package, error) {
	arr := &m.val
	if arr.kind != kindArray {
		return lockfile.Package{}, p.errorAt(m, "package %q is a %s, want an array", m.key, arr.kind)
	}
	if len(arr.items) == 0 || arr.items[0].kind != kindString {
		return lockfile.Package{}, p.errorAt(m, "package %q does not start with its name@version", m.key)
	}
	name, ref := splitIdent(arr.items[0].str)
	if name == "" || ref == "" {
		return lockfile.Package{}, p.errorf(&arr.items[0], "package %q: %q is not name@version", m.key, arr.items[0].str)
	}
	pkg := lockfile.Package{
		Name:   name,
		Path:   installPath(m.key),
		Line:   m.line,
		Column: m.col,
	}
	if last := lastName(m.key); last != name {
		pkg.Alias = last
	}
	pkg.Source = classify(ref)
	switch pkg.Source {
	case lockfile.SourceRegistry:
		if len(arr.items) < 4 || arr.items[1].kind != kindString || arr.items[2].kind != kindObject || arr.items[3].kind != kindString {
			return lockfile.Package{}, p.errorAt(m, "registry package %q: want [name@version, url, {info}, integrity]", m.key)
		}
		pkg.Version = ref
		pkg.Resolved = arr.items[1].str
		pkg.Integrity = arr.items[3].str
		if _, _, ok := lockfile.RegistryTarball(pkg.Resolved); pkg.Resolved != "" && !ok {
			pkg.Source = lockfile.SourceTarball
		}
	case lockfile.SourceLink:
		pkg.Version, pkg.Resolved = ref, ref
		if dir, ok := strings.CutPrefix(ref, "workspace:"); ok && wsVersion[dir] != "" {
			pkg.Version = wsVersion[dir]
		}
	default:
		pkg.Version, pkg.Resolved = ref, ref
		for _, it := range arr.items[1:] {
			if it.kind == kindString && isSRI(it.str) {
				pkg.Integrity = it.str
			}
		}
	}
	return pkg, nil
}

// splitIdent splits "name@ref" (or "@scope/name@ref") at the '@' ending the name.
func splitIdent(s string) (name, ref string) {
	if len(s) < 2 {
		return "", ""
	}
	i := strings.IndexByte(s[1:], '@')
	if i < 0 {
		return "", ""
	}
	return s[:i+1], s[i+2:]
}

// keySegments splits a packages key ("a", "@s/a", "parent/@s/child") into
// package names.
func keySegments(key string) []string {
	parts := strings.Split(key, "/")
	var segs []string
	for i := 0; i < len(parts); i++ {
		if strings.HasPrefix(parts[i], "@") && i+1 < len(parts) {
			segs = append(segs, parts[i]+"/"+parts[i+1])
			i++
			continue
		}
		segs = append(segs, parts[i])
	}
	return segs
}

// lastName returns the installed name of a packages key: its last segment.
func lastName(key string) string {
	segs := keySegments(key)
	return segs[len(segs)-1]
}

// installPath turns a packages key into the node_modules path it installs
// to: "parent/child" becomes "node_modules/parent/node_modules/child".
func installPath(key string) string {
	return "node_modules/" + strings.Join(keySegments(key), "/node_modules/")
}

// classify says where an ident's reference fetches from.
func classify(ref string) lockfile.Source {
	lower := strings.ToLower(ref)
	switch {
	case strings.HasPrefix(lower, "workspace:"), strings.HasPrefix(lower, "link:"),
		strings.HasPrefix(lower, "root:"):
		return lockfile.SourceLink
	case strings.HasPrefix(lower, "file:"):
		return lockfile.SourceFile
	case strings.HasPrefix(lower, "git+"), strings.HasPrefix(lower, "git:"),
		strings.HasPrefix(lower, "git@"), strings.HasPrefix(lower, "ssh:"),
		strings.HasPrefix(lower, "github:"), strings.HasPrefix(lower, "gitlab:"),
		strings.HasPrefix(lower, "bitbucket:"):
		return lockfile.SourceGit
	case strings.HasPrefix(lower, "http://"), strings.HasPrefix(lower, "https://"):
		if strings.HasSuffix(strings.SplitN(lower, "#", 2)[0], ".git") {
			return lockfile.SourceGit
		}
		return lockfile.SourceTarball
	case strings.Contains(lower, ":"):
		return lockfile.SourceUnknown
	case strings.HasPrefix(lower, ".") || strings.Contains(lower, "/"):
		// A local tarball ("./vendor/x.tgz") or folder; no version has a slash.
		return lockfile.SourceFile
	}
	return lockfile.SourceRegistry
}

// isSRI reports whether s looks like a Subresource Integrity hash.
func isSRI(s string) bool {
	for _, alg := range []string{"sha1-", "sha256-", "sha384-", "sha512-"} {
		if strings.HasPrefix(s, alg) {
			return true
		}
	}
	return false
}
