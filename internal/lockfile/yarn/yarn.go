// Package yarn parses yarn.lock files into the lockfile model: the classic
// v1 format (yarn 1.x, its own indented syntax) and the berry format (yarn
// 2 and later, YAML with a __metadata entry). Parse tells them apart by
// content, not by name.
//
// Classic: Resolved is the URL without its fragment; when there is no
// integrity field, a 40-hex fragment (the tarball's SHA-1) becomes
// Integrity "sha1-<base64>". Git URLs keep their fragment, which names a
// commit. Classic lockfiles record neither importers nor install scripts:
// Importers is nil and rules use Descriptors ("name@range" as written).
//
// Berry: Resolved is the resolution ("lodash@npm:4.17.21"), Source follows
// its protocol (a patch: is classified by the package it patches, exec: as
// a file), and checksum "<cacheKey>/<sha512 hex>" becomes Integrity
// "sha512-<base64>". Descriptors drop the npm: protocol of plain ranges so
// that "lodash@npm:^4.17.0" is stored as "lodash@^4.17.0", the form
// package.json uses; aliases ("foo@npm:bar@^1") keep it. Workspace entries
// ("app@workspace:packages/a") fill Importers for their directory from
// their dependencies block, which in berry also holds devDependencies.
// Berry does not record build scripts in the lockfile (they are
// dependenciesMeta in package.json), so InstallScript is always false. The
// YAML is decoded by package syml.
package yarn

import (
	"bytes"

	"github.com/buildwall/buildwall/internal/lockfile"
)

// Parser parses yarn.lock (classic v1 and berry). The zero value is ready to
// use and safe for concurrent use.
type Parser struct{}

var _ lockfile.Parser = Parser{}

// Format returns "yarn".
func (Parser) Format() string { return "yarn" }

// Match reports whether base is "yarn.lock".
func (Parser) Match(base string) bool { return base == "yarn.lock" }

// Parse parses a classic or berry yarn.lock. Malformed input returns a
// *lockfile.ParseError with the 1-based line of the problem. Packages are in
// file order; each carries the line and column of its entry's key.
func (Parser) Parse(path string, data []byte) (*lockfile.Lockfile, error) {
	if isBerry(data) {
		return parseBerry(path, data)
	}
	return parseClassic(path, data)
}

// isBerry reports whether data has a top-level __metadata key, which every
// berry lockfile has and no classic one can have (classic keys contain '@').
func isBerry(data []byte) bool {
	return bytes.HasPrefix(data, []byte("__metadata:")) || bytes.Contains(data, []byte("\n__metadata:"))
}
