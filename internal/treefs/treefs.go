// Package treefs reads the files of a directory tree that may have been
// written by an attacker: a repository checked out from a pull request.
//
// Every read goes through a Root and follows three rules. Only regular
// files are read: a FIFO, socket or device is recognized before it is
// opened for reading (and checked again with fstat after opening, so that
// swapping the file meanwhile does not help), and opens never block.
// Symbolic links are followed only while they stay inside the root: a link
// that leads out of it (absolute, "..", /proc/self/fd/...) is refused with
// ErrOutside and its target is never opened. Every read is bounded by a
// size limit and checks its context between chunks.
//
// On Linux a Root holds a descriptor of the directory and opens files with
// openat2(RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS), so the kernel enforces
// the containment; elsewhere (or where openat2 is unavailable) the path is
// resolved with filepath.EvalSymlinks and checked before opening.
package treefs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// Errors returned (wrapped in *fs.PathError) by Root's methods and ReadFile.
var (
	// ErrOutside: the path, through a symbolic link, leads outside the root.
	ErrOutside = errors.New("symbolic link leads outside the scanned root")
	// ErrNotRegular: the path is a FIFO, socket, device or directory.
	ErrNotRegular = errors.New("not a regular file")
	// ErrTooLarge: the file holds more bytes than the limit (a *SizeError).
	ErrTooLarge = errors.New("file too large")
	// ErrSpecialFS: the root lies on a kernel file system (/proc, /sys).
	ErrSpecialFS = errors.New("on a kernel file system (/proc or /sys)")
)

// SizeError is the error of a read that found more than Limit bytes. Size
// is the size seen (at least Limit+1). It matches ErrTooLarge.
type SizeError struct {
	Size, Limit int64
}

func (e *SizeError) Error() string {
	return fmt.Sprintf("file is %d bytes, over the %d-byte limit", e.Size, e.Limit)
}

// Is reports whether target is ErrTooLarge.
func (e *SizeError) Is(target error) bool { return target == ErrTooLarge }

// readChunk is the most read in one system call, so that cancellation is
// noticed between chunks of a large file.
const readChunk = 4 << 20

// Info describes a file found by Root.Stat.
type Info struct {
	Mode fs.FileMode // type bits and permissions, as fs.FileMode
	Size int64
	// Dev and Ino identify the file (loop detection).
	Dev, Ino uint64
}

// IsDir reports whether the file is a directory.
func (i Info) IsDir() bool { return i.Mode.IsDir() }

// IsRegular reports whether the file is a regular file.
func (i Info) IsRegular() bool { return i.Mode.IsRegular() }

// Root is an open directory tree. Its methods are safe for concurrent use.
// Paths given to them are slash-separated and relative to the root.
type Root struct {
	dir string // absolute, symbolic links resolved
	sys sysRoot
}

// Open opens the directory dir as a root. dir itself may be reached
// through symbolic links (the caller chose it); what lies under it is
// confined to it. It fails with ErrSpecialFS for a directory in /proc or
// /sys.
func Open(dir string) (*Root, error) {
	abs, err := filepath.Abs(dir)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		return nil, fmt.Errorf("open tree %q: %w", dir, err)
	}
	r := &Root{dir: abs}
	if err := r.sys.open(abs); err != nil {
		return nil, fmt.Errorf("open tree %q: %w", dir, err)
	}
	return r, nil
}

// Dir returns the root's absolute directory, symbolic links resolved.
func (r *Root) Dir() string { return r.dir }

// Close releases the root's descriptor.
func (r *Root) Close() error { return r.sys.close() }

// Open opens the regular file at rel for reading. The error is an
// *fs.PathError (Path is rel) wrapping ErrOutside, ErrNotRegular, a
// system error (fs.ErrNotExist, fs.ErrPermission, ELOOP for a link loop),
// or an error for an absolute rel.
func (r *Root) Open(rel string) (*File, error) {
	name, err := checkRel(rel)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: rel, Err: err}
	}
	f, err := r.sys.openFile(r.dir, name)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: rel, Err: err}
	}
	return f, nil
}

// OpenListed is Open for a name that a directory listing of this tree
// showed as a regular file (not a link): it opens rel at once with
// O_NOFOLLOW|O_NONBLOCK and checks with fstat that it is a regular file,
// saving Open's separate resolution step (three system calls a file, a few
// percent of a 2,000-workflow scan). Should the entry have been replaced
// meanwhile, a link makes the open fail and falls back to Open, and a FIFO
// or device is opened without blocking and refused unread.
func (r *Root) OpenListed(rel string) (*File, error) {
	name, err := checkRel(rel)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: rel, Err: err}
	}
	f, err := r.sys.openListed(r.dir, name)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: rel, Err: err}
	}
	return f, nil
}

// ReadFile reads the regular file at rel, failing like Open, with a
// *SizeError when it holds more than limit bytes, or with ctx's error.
func (r *Root) ReadFile(ctx context.Context, rel string, limit int64) ([]byte, error) {
	f, err := r.Open(rel)
	if err != nil {
		return nil, err
	}
	data, err := f.ReadAll(ctx, limit)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: rel, Err: err}
	}
	return data, nil
}

// Stat describes what rel names, following symbolic links that stay inside
// the root (so a link to a directory of the tree reports a directory). It
// fails like Open, except that any file type is described. Nothing is
// opened for reading.
func (r *Root) Stat(rel string) (Info, error) {
	name, err := checkRel(rel)
	if err != nil {
		return Info{}, &fs.PathError{Op: "stat", Path: rel, Err: err}
	}
	info, err := r.sys.stat(r.dir, name)
	if err != nil {
		return Info{}, &fs.PathError{Op: "stat", Path: rel, Err: err}
	}
	return info, nil
}

// Rel returns the slash path of abs relative to the root; ok is false when
// abs is not inside it (abs is compared lexically).
func (r *Root) Rel(abs string) (string, bool) {
	return within(r.dir, abs)
}

// ReadFile reads the file a user named explicitly (a --config path, a
// home-directory npmrc): it may lie anywhere and be reached through links,
// but only a regular file is opened and read, never blocking, at most
// limit bytes, cancellable. Errors are *fs.PathError wrapping ErrNotRegular,
// *SizeError or a system error.
func ReadFile(ctx context.Context, name string, limit int64) ([]byte, error) {
	abs, err := filepath.Abs(name)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	f, err := openChecked(abs)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	data, err := f.ReadAll(ctx, limit)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	return data, nil
}

// errInvalidPath is the error for a rel that is absolute or climbs out.
var errInvalidPath = errors.New("path is not relative to the root")

// checkRel cleans a slash path relative to the root.
func checkRel(rel string) (string, error) {
	if rel == "" || path.IsAbs(rel) || filepath.IsAbs(rel) || strings.ContainsRune(rel, 0) {
		return "", errInvalidPath
	}
	c := path.Clean(rel)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", ErrOutside
	}
	return c, nil
}

// within returns abs relative to dir, slash-separated, and whether abs is
// dir or lies under it.
func within(dir, abs string) (string, bool) {
	rel, err := filepath.Rel(dir, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", false
	}
	return filepath.ToSlash(rel), true
}

// maxLinks bounds the symbolic links followed in one lookup, as the kernel
// does (ELOOP).
const maxLinks = 40

// resolveBeneath is the portable containment check: it resolves dir/rel
// one component at a time, reading each link, and fails with ErrOutside as
// soon as a link is absolute or ".." climbs above dir (the semantics of
// Linux's RESOLVE_BENEATH), with ELOOP after maxLinks links. The target of
// a link that leaves dir is never looked at.
func resolveBeneath(dir, rel string) (string, error) {
	todo := strings.Split(rel, "/")
	cur := dir
	links := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if cur == dir {
				return "", ErrOutside
			}
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, c)
		fi, err := os.Lstat(next)
		if err != nil {
			return "", unwrap(err)
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if links++; links > maxLinks {
			return "", syscall.ELOOP
		}
		target, err := os.Readlink(next)
		if err != nil {
			return "", unwrap(err)
		}
		if filepath.IsAbs(target) || filepath.VolumeName(target) != "" || strings.HasPrefix(target, `\`) {
			return "", ErrOutside
		}
		todo = append(strings.Split(filepath.ToSlash(target), "/"), todo...)
	}
	return cur, nil
}

// typeName describes a file type for ErrNotRegular messages.
func typeName(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "not a regular file"
}

// notRegular is the error for a file of mode m.
func notRegular(m fs.FileMode) error {
	return fmt.Errorf("%s: %w", typeName(m), ErrNotRegular)
}

// statInfo converts an os.FileInfo (portable path).
func statInfo(fi os.FileInfo) Info {
	info := Info{Mode: fi.Mode(), Size: fi.Size()}
	info.Dev, info.Ino = fileID(fi)
	return info
}

// unwrap drops the *fs.PathError around a system error: the caller wraps
// the error again with the path relative to the root.
func unwrap(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
