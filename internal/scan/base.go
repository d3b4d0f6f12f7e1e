package scan

import (
	"os"
	"path"
	"path/filepath"
)

// Base returns the absolute, symlink-resolved directory that finding and
// file paths are relative to for a scan of paths: the top of the git work
// tree holding the first path (the nearest ancestor with a .git directory
// or file) when every path lies inside it; else, for a single path, that
// directory itself (a file's directory). So scanning a/b from the
// repository root and from a/ yields the same paths, "a/b/...", which is
// what code scanning expects.
//
// It returns "" when the paths share no such directory (several paths
// outside any repository, or in different ones): then each root's paths are
// prefixed with the root as given instead. Paths that do not exist are
// left for Run to report.
func Base(paths []string) string {
	if len(paths) == 0 {
		paths = []string{"."}
	}
	dirs := make([]string, len(paths))
	for i, p := range paths {
		d, ok := realDir(p)
		if !ok {
			return ""
		}
		dirs[i] = d
	}
	top, ok := gitTop(dirs[0])
	if !ok {
		if len(dirs) == 1 {
			return dirs[0]
		}
		return ""
	}
	for _, d := range dirs[1:] {
		if _, ok := within(top, d); !ok {
			return ""
		}
	}
	return top
}

// realDir returns the absolute, symlink-resolved directory of p (p itself
// when it is a directory).
func realDir(p string) (string, bool) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", false
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", false
	}
	if !st.IsDir() {
		abs = filepath.Dir(abs)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", false
	}
	return real, true
}

// gitTop finds the nearest ancestor of dir (dir included) holding .git,
// a directory or a file (worktrees, submodules), without running git.
func gitTop(dir string) (string, bool) {
	top := repoTop(dir)
	if _, err := os.Lstat(filepath.Join(top, ".git")); err != nil {
		return "", false
	}
	return top, true
}

// RelTo names the file or directory at abs relative to base (see Base),
// slash-separated, resolving links in its directory but not abs itself; ok is false when abs is not inside base.
func RelTo(base, abs string) (rel string, ok bool) {
	if base == "" {
		return "", false
	}
	// Resolve the directory, not the file: a link is named as itself.
	if real, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		abs = filepath.Join(real, filepath.Base(abs))
	}
	r, err := filepath.Rel(base, abs)
	if err != nil || !(r == "." || filepath.IsLocal(r)) {
		return "", false
	}
	return path.Clean(filepath.ToSlash(r)), true
}

// ConfigName names the configuration file at cfgPath in suppressions:
// relative to base when it lies inside, else as given (a git revision's
// "origin/main:buildwall.yml" stays as it is).
func ConfigName(cfgPath, base string) string {
	if filepath.IsAbs(cfgPath) {
		if rel, ok := RelTo(base, cfgPath); ok {
			return rel
		}
		return filepath.ToSlash(cfgPath)
	}
	if cfgPath == "" {
		return "buildwall.yml"
	}
	return cfgPath
}
