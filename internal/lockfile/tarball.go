package lockfile

import (
	"net/url"
	"strings"
)

// RegistryTarball splits a registry tarball URL
// "http(s)://<host>[/prefix]/<name>/-/<file>.tgz" into the package name the
// URL names and the tarball's file name ("name-1.2.3.tgz"). The name is
// decoded: "/@scope/name/-/", "/@scope%2fname/-/" and "/%40scope%2Fname/-/"
// all give "@scope/name". The scheme and the ".tgz" suffix are matched
// case-insensitively; query and fragment are ignored. ok is false when u is
// not an http(s) URL of that shape.
//
// Every lockfile format uses it to tell a registry tarball from another
// remote tarball, and the name-mismatch rule to read the name it fetches.
// It says nothing about whether the host is an allowed registry.
func RegistryTarball(u string) (name, file string, ok bool) {
	var rest string
	switch {
	case len(u) >= 8 && strings.EqualFold(u[:8], "https://"):
		rest = u[8:]
	case len(u) >= 7 && strings.EqualFold(u[:7], "http://"):
		rest = u[7:]
	default:
		return "", "", false
	}
	// Two vectorised byte searches beat IndexAny's set lookup per byte.
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		rest = rest[:i]
	}
	host := strings.IndexByte(rest, '/')
	if host < 0 {
		return "", "", false
	}
	return tarballPath(rest[host:])
}

// tarballPath is RegistryTarball for the path of a URL
// ("/prefix/name/-/file.tgz").
func tarballPath(path string) (name, file string, ok bool) {
	// The file name holds no '/', so the "/-/" before it ends at the last
	// slash.
	slash := strings.LastIndexByte(path, '/')
	if slash < 2 || path[slash-2:slash] != "/-" {
		return "", "", false
	}
	file = path[slash+1:]
	if len(file) <= len(".tgz") || !strings.EqualFold(file[len(file)-len(".tgz"):], ".tgz") {
		return "", "", false
	}
	dir := path[:slash-2]
	slash = strings.LastIndexByte(dir, '/')
	if slash < 0 {
		return "", "", false
	}
	last := dir[slash+1:]
	switch {
	case last == "":
		return "", "", false
	case last[0] == '@' || strings.HasPrefix(last, "%40"):
		// "@scope%2fname" in one segment.
		n, err := url.PathUnescape(last)
		if err != nil || strings.Count(n, "/") != 1 {
			return "", "", false
		}
		name = n
	default:
		name = last
		if prev := strings.LastIndexByte(dir[:slash], '/'); prev >= 0 && strings.HasPrefix(dir[prev+1:slash], "@") {
			name = dir[prev+1:]
		}
	}
	return name, file, true
}
