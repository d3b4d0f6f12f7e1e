package scan

import (
	"path/filepath"

	"go.yaml.in/yaml/v3"
)

// pnpmBuildAllowed reads onlyBuiltDependencies from pnpm-workspace.yaml in
// the lockfile directory dir (slash-separated, relative to the scan root),
// through regs so that an unreadable file is reported: the packages pnpm 10 lets run
// install scripts. pnpm 9+ lockfiles no longer record which packages have
// scripts, so this setting is the only trace of them. Unreadable or
// malformed files name none (they are configuration, not the lockfile).
func pnpmBuildAllowed(regs *projectRegistries, dir string) map[string]string {
	data, err := regs.read(filepath.Join(regs.root, filepath.FromSlash(dir), "pnpm-workspace.yaml"))
	if err != nil {
		return nil
	}
	var ws struct {
		OnlyBuilt []string `yaml:"onlyBuiltDependencies"`
	}
	if yaml.Unmarshal(data, &ws) != nil || len(ws.OnlyBuilt) == 0 {
		return nil
	}
	out := make(map[string]string, len(ws.OnlyBuilt))
	for _, name := range ws.OnlyBuilt {
		if name != "" {
			out[name] = "onlyBuiltDependencies in pnpm-workspace.yaml"
		}
	}
	return out
}
