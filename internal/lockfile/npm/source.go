package npm

import (
	"strings"

	"github.com/buildwall/buildwall/internal/lockfile"
)

// gitPrefixes start a resolved value or spec that npm fetches with git.
var gitPrefixes = []string{"git+", "git://", "git@", "github:", "gitlab:", "bitbucket:", "gist:"}

// Classify returns where a resolved value as npm writes it points:
//
//   - git+https://, git+ssh://, git://, git@host:, github:, gitlab:,
//     bitbucket:, gist: → SourceGit
//   - file: → SourceFile; link: → SourceLink
//   - http(s) URLs of the registry tarball shape
//     <registry>/<name>/-/<file>.tgz (name may be scoped, "@s/n" or
//     "@s%2fn") → SourceRegistry; other http(s) URLs → SourceTarball
//   - anything else → SourceUnknown.
//
// Classify does not check that the URL names the entry's package or an
// allowed registry; rules do that.
func Classify(resolved string) lockfile.Source {
	// The common case first, without case folding.
	if strings.HasPrefix(resolved, "https://") || strings.HasPrefix(resolved, "http://") {
		return classifyHTTP(resolved)
	}
	for _, p := range gitPrefixes {
		if hasPrefixFold(resolved, p) {
			return lockfile.SourceGit
		}
	}
	switch {
	case hasPrefixFold(resolved, "file:"):
		return lockfile.SourceFile
	case hasPrefixFold(resolved, "link:"):
		return lockfile.SourceLink
	case hasPrefixFold(resolved, "https://"), hasPrefixFold(resolved, "http://"):
		return classifyHTTP(resolved)
	}
	return lockfile.SourceUnknown
}

func classifyHTTP(u string) lockfile.Source {
	if _, _, ok := lockfile.RegistryTarball(u); ok {
		return lockfile.SourceRegistry
	}
	return lockfile.SourceTarball
}

// classifyVersion classifies an entry that has no resolved value from its
// version field: a plain version means the registry is implied (npm's
// omit-lockfile-registry-resolved, old lockfiles), while v1 also writes
// specs there (git URLs, file: paths, tarball URLs).
func classifyVersion(version string) lockfile.Source {
	if version == "" {
		return lockfile.SourceUnknown
	}
	if s := Classify(version); s != lockfile.SourceUnknown {
		return s
	}
	if strings.Contains(version, ":") || strings.Contains(version, "/") {
		return lockfile.SourceUnknown
	}
	return lockfile.SourceRegistry
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
