package scan

import (
	"github.com/buildwall/buildwall/internal/lockfile"
	"github.com/buildwall/buildwall/internal/lockfile/bun"
	"github.com/buildwall/buildwall/internal/lockfile/manifest"
	"github.com/buildwall/buildwall/internal/lockfile/npm"
	"github.com/buildwall/buildwall/internal/lockfile/pnpm"
	"github.com/buildwall/buildwall/internal/lockfile/yarn"
)

// LockfileParsers returns the parser of every supported lockfile format, in
// a fixed order. This is the one registry of formats.
func LockfileParsers() []lockfile.Parser {
	return []lockfile.Parser{
		npm.Parser{},
		yarn.Parser{},
		pnpm.Parser{},
		bun.Parser{},
	}
}

// defaultManifestParser parses package.json.
var defaultManifestParser = manifest.Parse
