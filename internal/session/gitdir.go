package session

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// gitDirs returns the git directories of the repositories that hold dir,
// found from dir upward to the root without a git binary: each .git
// directory, and for a worktree or submodule the directory a .git file
// points to ("gitdir: PATH") and the common directory that one names in
// its commondir file. The walk does not stop at the first repository: a
// submodule's superproject (which trust reads) is protected too, and a
// planted .git file in a subdirectory cannot divert the protection from
// the real one. Paths are absolute, resolved through symbolic links and
// unique; nil when dir is in no repository.
func gitDirs(dir string) []string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	var out []string
	add := func(dirs ...string) {
		for _, d := range dirs {
			if !slices.Contains(out, d) {
				out = append(out, d)
			}
		}
	}
	for d := abs; ; d = filepath.Dir(d) {
		p := filepath.Join(d, ".git")
		st, err := os.Stat(p)
		switch {
		case err == nil && st.IsDir():
			if real, err := filepath.EvalSymlinks(p); err == nil {
				add(real)
			}
		case err == nil && st.Mode().IsRegular():
			add(gitFileDirs(d, p)...)
		}
		if filepath.Dir(d) == d {
			return out
		}
	}
}

// gitFileDirs reads the .git file at p (in the work tree top) and returns
// the directory it points to and its common directory, when they exist.
func gitFileDirs(top, p string) []string {
	target := firstLineOf(p)
	target, ok := strings.CutPrefix(target, "gitdir:")
	if !ok {
		return nil
	}
	target = strings.TrimSpace(target)
	if !filepath.IsAbs(target) {
		target = filepath.Join(top, target)
	}
	real, err := filepath.EvalSymlinks(target)
	if err != nil {
		return nil
	}
	if st, err := os.Stat(real); err != nil || !st.IsDir() {
		return nil
	}
	dirs := []string{real}
	if common := firstLineOf(filepath.Join(real, "commondir")); common != "" {
		if !filepath.IsAbs(common) {
			common = filepath.Join(real, common)
		}
		if c, err := filepath.EvalSymlinks(common); err == nil && c != real {
			if st, err := os.Stat(c); err == nil && st.IsDir() {
				dirs = append(dirs, c)
			}
		}
	}
	return dirs
}

// firstLineOf returns the first line of the small file at p, without its
// line ending; "" when it cannot be read.
func firstLineOf(p string) string {
	f, err := os.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if sc.Scan() {
		return strings.TrimRight(sc.Text(), "\r")
	}
	return ""
}
