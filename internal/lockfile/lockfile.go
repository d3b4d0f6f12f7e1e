// Package lockfile is the format-independent model of a parsed JavaScript
// lockfile and its package.json manifests. One package per format
// (lockfile/npm, lockfile/yarn, lockfile/pnpm, lockfile/bun) turns bytes into
// this model; rules in lockcheck read only the model. A parser never reports
// findings: malformed input is a *ParseError.
//
// The explicit list of parsers lives in package scan (scan.LockfileParsers),
// because the format packages import this one.
package lockfile

import (
	"fmt"
)

// Source classifies where a locked package comes from.
type Source int

// Sources. SourceRegistry is a tarball from a package registry (the usual case).
const (
	SourceUnknown  Source = iota
	SourceRegistry        // a registry tarball, resolved URL or implied registry
	SourceGit             // git+https://, git://, github:user/repo, ...
	SourceTarball         // a remote tarball URL that is not a registry path
	SourceFile            // file: tarball or directory on disk
	SourceLink            // link:/portal:/workspace: a local folder symlinked in
)

var sourceNames = [...]string{"unknown", "registry", "git", "tarball", "file", "link"}

func (s Source) String() string {
	if s < 0 || int(s) >= len(sourceNames) {
		return fmt.Sprintf("source(%d)", int(s))
	}
	return sourceNames[s]
}

// Package is one locked package entry.
type Package struct {
	// Name is the package name as installed ("@scope/name"). For aliases
	// ("foo": "npm:bar@1") Name is the real package ("bar") and Alias the
	// installed name ("foo").
	Name  string
	Alias string
	// Version is the locked version as written.
	Version string
	// Resolved is where the package is fetched from, as written: a tarball
	// URL, a git spec, a file path. Empty when the format omits it (pnpm and
	// yarn berry omit registry URLs; the registry is then implied).
	Resolved string
	// Integrity is the hash as written, normalised to SRI form when the
	// format uses another one ("sha512-<base64>"; several separated by
	// spaces). Empty when absent. Yarn berry's "checksum" is converted to
	// SRI; yarn classic's "#sha1hex" URL fragment becomes "sha1-<base64>".
	Integrity string
	Source    Source
	// Path is the install location where the format records one
	// ("node_modules/a/node_modules/b" for npm), else empty.
	Path string
	// Line and Column are the 1-based position of the entry's key in the
	// lockfile; 0 when unknown.
	Line, Column int
	Dev          bool
	Optional     bool
	// Conditions is yarn berry's platform condition of an optional
	// platform-specific package ("os=darwin & cpu=arm64"); such entries
	// carry no checksum unless the locking machine fetched them.
	Conditions string
	// InstallScript is true when the lockfile records that the package runs
	// preinstall/install/postinstall scripts (npm hasInstallScript, pnpm
	// requiresBuild, yarn berry dependenciesMeta/built, bun scripts).
	InstallScript bool
}

// Direct is a dependency that a manifest declares, as the lockfile recorded it.
type Direct struct {
	Name string
	// Spec is the range as the lockfile recorded it from package.json
	// ("^1.2.0"); empty when the format does not record it.
	Spec string
	// Version is the version the lockfile resolved it to; empty when the
	// name is absent from the lockfile.
	Version string
}

// Lockfile is one parsed lockfile.
type Lockfile struct {
	Path    string // as given to the parser
	Format  string // "npm", "yarn", "pnpm", "bun"
	Version string // the format's own version as written ("3", "1", "berry 8", "9.0")
	// Packages are in file order.
	Packages []Package
	// Importers maps the directory of each package.json the lockfile covers,
	// relative to the lockfile's directory and slash-separated ("." for the
	// root, "packages/a" for a workspace), to the dependencies the lockfile
	// records for it, keyed by name. nil when the format does not record
	// importers (yarn classic; then see Descriptors).
	Importers map[string]map[string]Direct
	// Descriptors maps every "name@range" descriptor the lockfile resolves
	// to the locked version (yarn classic and berry, where berry's
	// "name@npm:range" is stored as "name@range"). nil for other formats.
	Descriptors map[string]string
}

// ParseError is returned by parsers for malformed input. Line and Column are
// 1-based; 0 when unknown.
type ParseError struct {
	Path         string
	Line, Column int
	Msg          string
}

func (e *ParseError) Error() string {
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.Path, e.Line, e.Column, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
	default:
		return fmt.Sprintf("%s: %s", e.Path, e.Msg)
	}
}

// Parser turns one lockfile format into the model. Implementations are safe
// for concurrent use and never panic on any input; malformed input returns a
// *ParseError. Parse must not retain data after it returns.
type Parser interface {
	// Format names the format ("npm", "yarn", "pnpm", "bun").
	Format() string
	// Match reports whether a file with this base name is in the format.
	Match(base string) bool
	Parse(path string, data []byte) (*Lockfile, error)
}

// DepKind says in which section of package.json a dependency is declared.
type DepKind string

// Dependency sections of package.json.
const (
	DepProd     DepKind = "dependencies"
	DepDev      DepKind = "devDependencies"
	DepOptional DepKind = "optionalDependencies"
	DepPeer     DepKind = "peerDependencies"
)

// Dependency is one entry of a package.json dependency section.
type Dependency struct {
	Name string
	Spec string // the range or spec as written ("^1.2.0", "git+https://...", "workspace:*")
	Kind DepKind
	// Line and Column are the 1-based position of the key in package.json.
	Line, Column int
}

// Manifest is a parsed package.json.
type Manifest struct {
	Path         string
	Name         string
	Version      string
	Dependencies []Dependency // in file order
	// Workspaces are the workspace globs, as written.
	Workspaces []string
	// Scripts holds the lifecycle scripts by name ("postinstall": "node x.js").
	Scripts map[string]string
	// Overrides maps each package name that the manifest's npm "overrides",
	// yarn "resolutions" or "pnpm.overrides" force to another spec, at any
	// depth of the tree, to the setting that does so ("resolutions").
	// Package managers honour them in the root manifest only.
	Overrides map[string]string
}
