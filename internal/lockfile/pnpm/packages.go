package pnpm

import (
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/buildwall/buildwall/internal/lockfile"
)

// packages reads the packages section (and, in lockfile 9, the optional
// flags of the snapshots section) into p.lf.Packages.
func (p *parser) packages(pkgs, snapshots *yaml.Node) error {
	if pkgs == nil {
		return nil
	}
	if pkgs.Kind != yaml.MappingNode {
		if pkgs.Kind == yaml.ScalarNode && pkgs.Tag == "!!null" {
			return nil
		}
		return p.errorf(pkgs, "packages is not a mapping")
	}
	// byKey maps "name@version" to the index of its package, for snapshots.
	byKey := make(map[string]int, len(pkgs.Content)/2)
	err := mapping(pkgs, func(k, v *yaml.Node) error {
		pkg, err := p.pkg(k, v)
		if err != nil {
			return err
		}
		byKey[pkg.Name+"@"+pkg.Version] = len(p.lf.Packages)
		p.lf.Packages = append(p.lf.Packages, pkg)
		return nil
	})
	if err != nil {
		return err
	}
	return mapping(snapshots, func(k, v *yaml.Node) error {
		if !flag(v, "optional") {
			return nil
		}
		name, version := p.splitKey(k.Value)
		if i, ok := byKey[name+"@"+version]; ok {
			p.lf.Packages[i].Optional = true
		}
		return nil
	})
}

// pkg converts one packages entry.
func (p *parser) pkg(k, v *yaml.Node) (lockfile.Package, error) {
	if k.Kind != yaml.ScalarNode {
		return lockfile.Package{}, p.errorf(k, "package key is not a string")
	}
	if v.Kind != yaml.MappingNode {
		return lockfile.Package{}, p.errorf(k, "package %q is not a mapping", k.Value)
	}
	name, version := p.splitKey(k.Value)
	// Entries that are not registry packages record name and version
	// explicitly; their key is a path or URL.
	if n := scalar(v, "name"); n != "" {
		name = n
	}
	if ver := scalar(v, "version"); ver != "" {
		version = ver
	}
	if name == "" || version == "" {
		return lockfile.Package{}, p.errorf(k, "package %q has no name and version", k.Value)
	}
	res := field(v, "resolution")
	if res == nil || res.Kind != yaml.MappingNode {
		return lockfile.Package{}, p.errorf(k, "package %q has no resolution", k.Value)
	}
	pkg := lockfile.Package{
		Name:          name,
		Version:       version,
		Integrity:     scalar(res, "integrity"),
		Line:          k.Line,
		Column:        k.Column,
		Dev:           flag(v, "dev"),
		Optional:      flag(v, "optional"),
		InstallScript: flag(v, "requiresBuild"),
	}
	switch typ := scalar(res, "type"); {
	case typ == "git" || typ == "" && scalar(res, "commit") != "":
		pkg.Source = lockfile.SourceGit
		pkg.Resolved = scalar(res, "repo")
		if c := scalar(res, "commit"); c != "" {
			pkg.Resolved += "#" + c
		}
	case typ == "directory" || scalar(res, "directory") != "":
		pkg.Source = lockfile.SourceFile
		pkg.Resolved = scalar(res, "directory")
	case scalar(res, "tarball") != "":
		pkg.Resolved = scalar(res, "tarball")
		pkg.Source = classifyTarball(pkg.Resolved)
		if flag(res, "gitHosted") {
			// A git host's tarball of a commit (newer pnpm's form of git deps).
			pkg.Source = lockfile.SourceGit
		}
	case pkg.Integrity != "":
		pkg.Source = lockfile.SourceRegistry
	case typ != "":
		pkg.Source = lockfile.SourceUnknown
	default:
		return lockfile.Package{}, p.errorf(res, "package %q has an empty resolution", k.Value)
	}
	return pkg, nil
}

// classifyTarball says where a resolution tarball comes from: file: is a
// local file, a URL with the registry layout (lockfile.RegistryTarball) is a
// registry tarball (pnpm writes those for registries other than the default
// one), anything else is a remote tarball.
func classifyTarball(u string) lockfile.Source {
	lower := strings.ToLower(u)
	if strings.HasPrefix(lower, "file:") {
		return lockfile.SourceFile
	}
	if _, _, ok := lockfile.RegistryTarball(u); ok {
		return lockfile.SourceRegistry
	}
	return lockfile.SourceTarball
}
