package yarn

import (
	"strings"

	"github.com/buildwall/buildwall/internal/lockfile"
)

// splitDescriptor splits "name@range" (or "@scope/name@range") at the '@'
// that ends the name. A descriptor without a range returns it whole as name.
func splitDescriptor(desc string) (name, rng string) {
	if len(desc) < 2 {
		return desc, ""
	}
	i := strings.IndexByte(desc[1:], '@')
	if i < 0 {
		return desc, ""
	}
	return desc[:i+1], desc[i+2:]
}

// classifyURL says where a resolved URL or spec fetches from. A URL of the
// registry layout (lockfile.RegistryTarball) is a registry tarball; any other
// http(s) URL is a plain tarball.
func classifyURL(u string) lockfile.Source {
	lower := strings.ToLower(u)
	switch {
	case lower == "":
		return lockfile.SourceUnknown
	case strings.HasPrefix(lower, "git+"), strings.HasPrefix(lower, "git:"),
		strings.HasPrefix(lower, "git@"), strings.HasPrefix(lower, "ssh:"),
		strings.HasPrefix(lower, "github:"), strings.HasPrefix(lower, "gitlab:"),
		strings.HasPrefix(lower, "bitbucket:"), strings.HasPrefix(lower, "gist:"):
		return lockfile.SourceGit
	case strings.HasPrefix(lower, "file:"):
		return lockfile.SourceFile
	case strings.HasPrefix(lower, "link:"), strings.HasPrefix(lower, "portal:"),
		strings.HasPrefix(lower, "workspace:"):
		return lockfile.SourceLink
	case strings.HasPrefix(lower, "http://"), strings.HasPrefix(lower, "https://"):
		path := lower
		if i := strings.IndexAny(path, "#?"); i >= 0 {
			path = path[:i]
		}
		if strings.HasSuffix(path, ".git") || strings.Contains(lower, "#commit=") {
			return lockfile.SourceGit
		}
		if _, _, ok := lockfile.RegistryTarball(u); ok {
			return lockfile.SourceRegistry
		}
		return lockfile.SourceTarball
	}
	return lockfile.SourceUnknown
}

// isHex40 reports whether s is a 40-digit hex string (a SHA-1 or a git commit).
func isHex40(s string) bool {
	if len(s) != 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
