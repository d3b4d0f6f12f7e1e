package npm

import (
	"strings"

	"github.com/buildwall/buildwall/internal/lockfile"
)

// tree1 reads a lockfileVersion 1 "dependencies" object whose entries are
// installed under prefix ("" at the top, "node_modules/a/" below a). Entries
// are appended to out in file order: a parent before its nested entries.
func (p *parser) tree1(prefix string, out *[]lockfile.Package) error {
	d := p.d
	if err := p.object("dependencies"); err != nil {
		return err
	}
	return d.Object(func(rawKey []byte) error {
		pos := d.KeyPos()
		if len(rawKey) == 0 {
			return d.Errorf(pos, "empty package name in dependencies")
		}
		p.scratch = append(append(append(p.scratch[:0], prefix...), "node_modules/"...), rawKey...)
		path := p.arena.String(p.scratch)
		keyLen := len(rawKey)
		idx := len(*out)
		*out = append(*out, lockfile.Package{})
		var e entry
		var bundled bool
		if err := p.object(path); err != nil {
			return err
		}
		err := d.Object(func(rawField []byte) error {
			var err error
			switch string(rawField) {
			case "version":
				e.version, err = p.str("version")
			case "resolved":
				e.resolved, err = p.str("resolved")
			case "integrity":
				e.integrity, err = p.str("integrity")
			case "dev":
				e.dev, err = p.boolean("dev")
			case "optional":
				e.optional, err = p.boolean("optional")
			case "bundled":
				bundled, err = p.boolean("bundled")
			case "dependencies":
				err = p.tree1(path+"/", out)
			}
			return err
		})
		if err != nil {
			return err
		}
		pkg := lockfile.Package{
			Name:      path[len(path)-keyLen:],
			Version:   e.version,
			Resolved:  e.resolved,
			Integrity: e.integrity,
			Path:      path,
			Line:      pos.Line,
			Column:    pos.Column,
			Dev:       e.dev,
			Optional:  e.optional,
		}
		if real, version, ok := splitAlias(e.version); ok && real != "" {
			pkg.Name, pkg.Alias, pkg.Version = real, pkg.Name, version
		}
		switch {
		case e.resolved != "":
			pkg.Source = Classify(e.resolved)
		case bundled:
			pkg.Source = lockfile.SourceUnknown
		default:
			pkg.Source = classifyVersion(pkg.Version)
			if pkg.Source == lockfile.SourceFile && !isTarball(pkg.Version) {
				// npm 6 symlinks a file: directory (workspaces too) into
				// node_modules: what later lockfiles record as a link.
				pkg.Source = lockfile.SourceLink
			}
			if pkg.Source != lockfile.SourceRegistry && pkg.Source != lockfile.SourceUnknown {
				pkg.Resolved = pkg.Version
			}
		}
		(*out)[idx] = pkg
		return nil
	})
}

// rootImporter builds the v1 importer map: every top-level entry, since v1
// does not say which of them package.json declares.
func rootImporter(pkgs []lockfile.Package) map[string]map[string]lockfile.Direct {
	root := make(map[string]lockfile.Direct)
	for _, pkg := range pkgs {
		key := pkg.Alias
		if key == "" {
			key = pkg.Name
		}
		if pkg.Path != "node_modules/"+key {
			continue
		}
		root[key] = lockfile.Direct{Name: key, Version: pkg.Version}
	}
	return map[string]map[string]lockfile.Direct{".": root}
}

// isTarball reports whether a file: spec names a tarball rather than a
// directory.
func isTarball(spec string) bool {
	for _, ext := range []string{".tgz", ".tar.gz", ".tar"} {
		if strings.HasSuffix(spec, ext) {
			return true
		}
	}
	return false
}
