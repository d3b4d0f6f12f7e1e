package npm

import (
	"path"

	"github.com/buildwall/buildwall/internal/lockfile"
)

// entry holds the fields of one "packages" entry that the model needs.
type entry struct {
	name, version, resolved, integrity                 string
	link, dev, optional, devOptional, script, inBundle bool
}

// packages reads the v2/v3 "packages" map.
func (p *parser) packages() error {
	d := p.d
	if err := p.object("packages"); err != nil {
		return err
	}
	// A repeated "packages" key replaces the earlier one, as in JavaScript.
	p.pkgs, p.links, p.folders = make([]lockfile.Package, 0, reserve(d)), nil, nil
	return d.Object(func(rawKey []byte) error {
		pos := d.KeyPos()
		key := p.arena.String(rawKey)
		name, inNodeModules := nameFromPath(key)
		if !inNodeModules {
			return p.folder(key)
		}
		if name == "" || name[len(name)-1] == '/' {
			return d.Errorf(pos, "invalid package path %q: no package name after node_modules/", key)
		}
		var e entry
		if err := p.entry(&e, key); err != nil {
			return err
		}
		pkg := lockfile.Package{
			Name:          name,
			Version:       e.version,
			Resolved:      e.resolved,
			Integrity:     e.integrity,
			Path:          key,
			Line:          pos.Line,
			Column:        pos.Column,
			Dev:           e.dev || e.devOptional,
			Optional:      e.optional || e.devOptional,
			InstallScript: e.script,
		}
		if e.name != "" && e.name != name {
			pkg.Name, pkg.Alias = e.name, name
		}
		switch {
		case e.link:
			pkg.Source = lockfile.SourceLink
			p.links = append(p.links, len(p.pkgs))
		case e.resolved != "":
			pkg.Source = Classify(e.resolved)
		case e.inBundle:
			pkg.Source = lockfile.SourceUnknown
		default:
			pkg.Source = classifyVersion(e.version)
		}
		p.pkgs = append(p.pkgs, pkg)
		return nil
	})
}

// entry reads the object of one node_modules entry.
func (p *parser) entry(e *entry, key string) error {
	d := p.d
	if err := p.object(key); err != nil {
		return err
	}
	return d.Object(func(rawField []byte) error {
		var err error
		switch string(rawField) {
		case "version":
			e.version, err = p.str("version")
		case "resolved":
			e.resolved, err = p.str("resolved")
		case "integrity":
			e.integrity, err = p.str("integrity")
		case "name":
			e.name, err = p.str("name")
		case "link":
			e.link, err = p.boolean("link")
		case "dev":
			e.dev, err = p.boolean("dev")
		case "optional":
			e.optional, err = p.boolean("optional")
		case "devOptional":
			e.devOptional, err = p.boolean("devOptional")
		case "hasInstallScript":
			e.script, err = p.boolean("hasInstallScript")
		case "inBundle":
			e.inBundle, err = p.boolean("inBundle")
		}
		return err
	})
}

// folder reads the root ("") or a workspace/linked folder entry and records
// its version and dependency specs.
func (p *parser) folder(key string) error {
	d := p.d
	if err := p.object(key); err != nil {
		return err
	}
	f := folder{key: key}
	err := d.Object(func(rawField []byte) error {
		field := string(rawField)
		if field == "version" {
			var err error
			f.version, err = p.str("inBundle")
			return err
		}
		for i, section := range sectionOrder {
			if field == section {
				return p.specs(field, &f.deps[i])
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	p.folders = append(p.folders, f)
	return nil
}

// specs reads a name -> spec object.
func (p *parser) specs(field string, out *[]spec) error {
	if err := p.object(field); err != nil {
		return err
	}
	return p.d.Object(func(rawName []byte) error {
		name := p.arena.String(rawName)
		s, err := p.str(name)
		if err != nil {
			return err
		}
		*out = append(*out, spec{name: name, spec: s})
		return nil
	})
}

// importers builds the importer map of a v2/v3 lockfile and fills in the
// versions of link entries from their target folders.
func (p *parser) importers() map[string]map[string]lockfile.Direct {
	folderVersion := make(map[string]string, len(p.folders))
	for _, f := range p.folders {
		folderVersion[f.key] = f.version
	}
	for _, i := range p.links {
		pkg := &p.pkgs[i]
		if pkg.Version == "" {
			pkg.Version = folderVersion[path.Clean(pkg.Resolved)]
		}
	}
	// Look up only the paths where direct dependencies may be installed,
	// rather than indexing every package.
	byPath := make(map[string]int)
	for _, f := range p.folders {
		for _, section := range f.deps {
			for _, s := range section {
				for dir := f.key; ; dir = parentDir(dir) {
					byPath[modulePath(dir, s.name)] = -1
					if dir == "" {
						break
					}
				}
			}
		}
	}
	for i := range p.pkgs {
		if _, ok := byPath[p.pkgs[i].Path]; ok {
			byPath[p.pkgs[i].Path] = i
		}
	}
	imps := map[string]map[string]lockfile.Direct{".": {}}
	for _, f := range p.folders {
		dir := f.key
		if dir == "" {
			dir = "."
		}
		m := imps[dir]
		if m == nil {
			m = make(map[string]lockfile.Direct)
			imps[dir] = m
		}
		for _, section := range f.deps {
			for _, s := range section {
				if _, dup := m[s.name]; dup {
					continue
				}
				m[s.name] = lockfile.Direct{Name: s.name, Spec: s.spec, Version: resolve(p.pkgs, byPath, f.key, s.name)}
			}
		}
	}
	return imps
}

// resolve returns the version Node's module resolution finds for name when
// required from folder dir ("" for the root): dir/node_modules/name, then
// the same in each parent directory. It returns "" when nothing is found.
func resolve(pkgs []lockfile.Package, byPath map[string]int, dir, name string) string {
	for ; ; dir = parentDir(dir) {
		if i, ok := byPath[modulePath(dir, name)]; ok && i >= 0 {
			return pkgs[i].Version
		}
		if dir == "" {
			return ""
		}
	}
}

// modulePath is where package name is installed for folder dir.
func modulePath(dir, name string) string {
	if dir == "" {
		return "node_modules/" + name
	}
	return dir + "/node_modules/" + name
}

// parentDir returns the parent of a folder key, "" for the root.
func parentDir(dir string) string {
	parent := path.Dir(dir)
	if parent == "." || parent == "/" || parent == dir {
		return ""
	}
	return parent
}
