// Package atomicfile replaces files so that a reader, or a later run after
// a crash or a full disk, sees either the old content or the new one, never
// a truncated mix: the data goes to a temporary file in the same directory,
// which is synced and then renamed over the destination.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// File is a replacement being written. Write to it, then Commit, or Abort
// to leave the destination untouched. It is not safe for concurrent use.
type File struct {
	*os.File
	path   string
	done   bool
	direct bool // writing straight to a device or pipe
}

// Create starts replacing path. The new file gets the mode of the file it
// replaces, or perm when path does not exist yet. A symbolic link to a
// regular file is replaced by the new file and its target left alone, as
// rename does: a link planted in a repository never redirects a write
// outside it. A destination that exists and is not a regular file
// (/dev/stdout, a named pipe, a device) cannot be replaced: it is written
// directly, as os.Create would.
func Create(path string, perm fs.FileMode) (*File, error) {
	if st, err := os.Stat(path); err == nil {
		switch {
		case st.IsDir():
			return nil, fmt.Errorf("create %s: is a directory", path)
		case !st.Mode().IsRegular():
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
			if err != nil {
				return nil, fmt.Errorf("create %s: %w", path, err)
			}
			return &File{File: f, path: path, direct: true}, nil
		}
		perm = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // name the destination, not the temporary file
		}
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	if err := tmp.Chmod(perm); err != nil {
		return nil, errors.Join(fmt.Errorf("create %s: %w", path, err), tmp.Close(), os.Remove(tmp.Name()))
	}
	return &File{File: tmp, path: path}, nil
}

// Commit syncs the data to disk and renames the file over the destination,
// then syncs the directory so that the rename survives a crash. On any
// error the temporary file is removed and the destination is unchanged.
func (f *File) Commit() error {
	if f.done {
		return fmt.Errorf("commit %s: already committed or aborted", f.path)
	}
	f.done = true
	if f.direct {
		if err := f.Close(); err != nil {
			return fmt.Errorf("write %s: %w", f.path, err)
		}
		return nil
	}
	if err := f.Sync(); err != nil {
		return errors.Join(fmt.Errorf("write %s: %w", f.path, err), f.Close(), os.Remove(f.Name()))
	}
	if err := f.Close(); err != nil {
		return errors.Join(fmt.Errorf("write %s: %w", f.path, err), os.Remove(f.Name()))
	}
	if err := os.Rename(f.Name(), f.path); err != nil {
		return errors.Join(fmt.Errorf("write %s: %w", f.path, err), os.Remove(f.Name()))
	}
	syncDir(filepath.Dir(f.path))
	return nil
}

// Abort discards the replacement. It does nothing after Commit, so it can
// be deferred.
func (f *File) Abort() error {
	if f.done {
		return nil
	}
	f.done = true
	if f.direct {
		return f.Close()
	}
	return errors.Join(f.Close(), os.Remove(f.Name()))
}

// WriteFile replaces path with data (see Create and Commit).
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	f, err := Create(path, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return errors.Join(fmt.Errorf("write %s: %w", path, err), f.Abort())
	}
	return f.Commit()
}

// Check reports whether path could be replaced now: it is not a directory
// and a file can be created in its directory. Commands call it before
// doing any work, so that a typo in an output path fails at once rather
// than after a long scan. It creates and removes a temporary file.
//
// A destination that is not a regular file is not opened (opening a named
// pipe would wait for a reader): it is taken as writable.
func Check(path string) error {
	if st, err := os.Stat(path); err == nil && !st.IsDir() && !st.Mode().IsRegular() {
		return nil
	}
	f, err := Create(path, 0o600)
	if err != nil {
		return err
	}
	return f.Abort()
}

// syncDir flushes a directory's entries; errors are ignored because some
// file systems and platforms cannot sync a directory, and the data itself
// is already synced.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	d.Sync()
	d.Close()
}
