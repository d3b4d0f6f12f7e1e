package scan

import (
	"path/filepath"

	"go.yaml.in/yaml/v3"

	"github.com/buildwall/buildwall/internal/lockfile/manifest"
)

// pnpmWorkspace is what the lockfile rules need from pnpm-workspace.yaml.
type pnpmWorkspace struct {
	// buildAllowed maps the packages pnpm 10 lets run install scripts
	// (onlyBuiltDependencies) to that setting. pnpm 9+ lockfiles no longer
	// record which packages have scripts, so this setting is the only trace
	// of them.
	buildAllowed map[string]string
	// overrides maps the packages that its overrides force to another spec
	// to that setting.
	overrides map[string]string
	// catalogs maps catalog names ("default" for the top-level catalog)
	// to package names to specs.
	catalogs map[string]map[string]string
}

// readPnpmWorkspace reads pnpm-workspace.yaml in the lockfile directory dir
// (slash-separated, relative to the scan root), through regs so that an
// unreadable file is reported. Unreadable or malformed files name nothing
// (they are configuration, not the lockfile).
func readPnpmWorkspace(regs *projectRegistries, dir string) pnpmWorkspace {
	data, err := regs.read(filepath.Join(regs.root, filepath.FromSlash(dir), "pnpm-workspace.yaml"))
	if err != nil {
		return pnpmWorkspace{}
	}
	var ws struct {
		OnlyBuilt []string                  `yaml:"onlyBuiltDependencies"`
		Overrides map[string]any            `yaml:"overrides"`
		Catalog   map[string]any            `yaml:"catalog"`
		Catalogs  map[string]map[string]any `yaml:"catalogs"`
	}
	if yaml.Unmarshal(data, &ws) != nil {
		return pnpmWorkspace{}
	}
	var out pnpmWorkspace
	for _, name := range ws.OnlyBuilt {
		if name != "" {
			if out.buildAllowed == nil {
				out.buildAllowed = map[string]string{}
			}
			out.buildAllowed[name] = "onlyBuiltDependencies in pnpm-workspace.yaml"
		}
	}
	for key := range ws.Overrides {
		if name := manifest.PnpmOverrideTarget(key); name != "" {
			if out.overrides == nil {
				out.overrides = map[string]string{}
			}
			out.overrides[name] = "pnpm-workspace.yaml overrides"
		}
	}
	add := func(catalog string, entries map[string]any) {
		for name, v := range entries {
			spec, ok := v.(string)
			if !ok {
				continue
			}
			if out.catalogs == nil {
				out.catalogs = map[string]map[string]string{}
			}
			if out.catalogs[catalog] == nil {
				out.catalogs[catalog] = map[string]string{}
			}
			out.catalogs[catalog][name] = spec
		}
	}
	add("default", ws.Catalog)
	for catalog, entries := range ws.Catalogs {
		add(catalog, entries)
	}
	return out
}
