package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// The sandbox's mount namespace, set up by the init before the command
// starts. Nothing here touches the host's mounts (/ is made private
// first) and everything disappears with the namespace.

// roBindFlags are the flags of a read-only bind remount; the flags the
// mount already has must be repeated or the kernel refuses (EPERM).
const roBindFlags = unix.MS_REMOUNT | unix.MS_BIND | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC

// setupMounts makes the mount namespace private, hides the run's own
// files and the host's sockets under /run and /var/run, covers
// /etc/resolv.conf with buildwall's, mounts a /proc for the new PID
// namespace and, when the command runs as root, makes /proc/sys read-only.
// It returns warnings for listed sockets it could not pass in.
func setupMounts(setup message) ([]string, error) {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return nil, &FeatureError{Feature: "a private mount namespace", Err: fmt.Errorf("make / private: %w", err)}
	}
	// Found before /run is covered: a symlinked resolv.conf
	// (systemd-resolved) usually points into it. When it dangles there is
	// nothing to cover, and DNS is redirected anyway.
	resolvTarget, _ := filepath.EvalSymlinks("/etc/resolv.conf")
	warnings, err := hideRun(setup.UnixSockets)
	if err != nil {
		return nil, err
	}
	if err := stageFiles(setup.Hide, resolvTarget); err != nil {
		return nil, err
	}
	if err := protectDirs(setup.ReadOnly); err != nil {
		return nil, err
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return nil, &FeatureError{Feature: "mounting /proc in a new PID namespace", Setting: "that /proc is not over-mounted (container runtimes must not mask it)", Err: err}
	}
	if os.Geteuid() == 0 {
		// A root command is root in the sandbox's user namespace, which
		// owns its network namespace: it could write net.* sysctls (e.g.
		// turn on forwarding or change the loopback) without any
		// capability. A rootless command is not root there and cannot.
		if err := unix.Mount("/proc/sys", "/proc/sys", "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return nil, fmt.Errorf("bind /proc/sys: %w", err)
		}
		if err := unix.Mount("", "/proc/sys", "", roBindFlags, ""); err != nil {
			return nil, fmt.Errorf("make /proc/sys read-only: %w", err)
		}
	}
	return warnings, nil
}

// protectDirs bind-mounts each directory read-only onto itself. The
// path is resolved first, so a symbolic link cannot point the mount
// elsewhere; mounts below it stay as they are (git directories have none).
func protectDirs(dirs []string) error {
	for _, d := range dirs {
		real, err := filepath.EvalSymlinks(d)
		if err != nil {
			return fmt.Errorf("protect %s: %w", d, err)
		}
		if err := unix.Mount(real, real, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("protect %s: %w", real, err)
		}
		if err := unix.Mount("", real, "", roBindFlags, ""); err != nil {
			return fmt.Errorf("protect %s: make read-only: %w", real, err)
		}
	}
	return nil
}

// hideRun covers /run and /var/run (when it is not a link to /run) with
// an empty tmpfs, so the host's daemon sockets (docker, containerd,
// systemd, dbus) are out of reach, and bind-mounts the listed sockets back
// at their place. Abstract sockets need nothing: they belong to a network
// namespace, and the sandbox has its own.
func hideRun(sockets []string) ([]string, error) {
	type kept struct {
		path string
		fd   int
	}
	var keep []kept
	var warnings []string
	defer func() {
		for _, k := range keep {
			unix.Close(k.fd)
		}
	}()
	for _, p := range sockets {
		real, err := filepath.EvalSymlinks(p)
		if err == nil {
			var st unix.Stat_t
			if err = unix.Stat(real, &st); err == nil && st.Mode&unix.S_IFMT != unix.S_IFSOCK {
				err = fmt.Errorf("not a socket")
			}
		}
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("unix-sockets: %s: %v; not reachable in the sandbox", p, err))
			continue
		}
		fd, err := unix.Open(real, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("unix-sockets: %s: %v; not reachable in the sandbox", p, err))
			continue
		}
		keep = append(keep, kept{real, fd})
	}
	covered := map[string]bool{}
	for _, dir := range []string{"/run", "/var/run"} {
		real, err := filepath.EvalSymlinks(dir)
		if err != nil || covered[real] {
			continue
		}
		covered[real] = true
		if err := unix.Mount("tmpfs", real, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=16m,mode=0755"); err != nil {
			return nil, fmt.Errorf("hide %s: %w", real, err)
		}
	}
	for _, k := range keep {
		if err := os.MkdirAll(filepath.Dir(k.path), 0o755); err != nil {
			return nil, fmt.Errorf("pass %s: %w", k.path, err)
		}
		if err := os.WriteFile(k.path, nil, 0o600); err != nil {
			return nil, fmt.Errorf("pass %s: %w", k.path, err)
		}
		// The host's /proc is still mounted: its self/fd link reaches the
		// socket the tmpfs now covers.
		if err := unix.Mount("/proc/self/fd/"+strconv.Itoa(k.fd), k.path, "", unix.MS_BIND, ""); err != nil {
			return nil, fmt.Errorf("pass %s: %w", k.path, err)
		}
	}
	return warnings, nil
}

// stageFiles covers each hidden file with an empty read-only file and
// /etc/resolv.conf (through its symlink, resolved as target) with
// buildwall's. Both sources live on a tmpfs that is mounted over /proc for
// a moment (a directory that always exists and gets its own fresh mount
// next), so nothing is written to the host's disk.
func stageFiles(hide []string, resolvTarget string) error {
	const stage = "/proc"
	if err := unix.Mount("tmpfs", stage, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=64k,mode=0755"); err != nil {
		return fmt.Errorf("mount staging tmpfs: %w", err)
	}
	err := func() error {
		empty := stage + "/hidden"
		if err := os.WriteFile(empty, nil, 0o444); err != nil {
			return fmt.Errorf("stage hidden file: %w", err)
		}
		for _, p := range hide {
			if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
				continue // under /run, covered already
			}
			if err := unix.Mount(empty, p, "", unix.MS_BIND, ""); err != nil {
				return fmt.Errorf("hide %s: %w", p, err)
			}
			if err := unix.Mount("", p, "", roBindFlags, ""); err != nil {
				return fmt.Errorf("hide %s: make read-only: %w", p, err)
			}
		}
		if resolvTarget == "" {
			return nil
		}
		if _, err := os.Lstat(resolvTarget); err != nil {
			// It was under /run, which is now an empty tmpfs.
			if err := os.MkdirAll(filepath.Dir(resolvTarget), 0o755); err != nil {
				return fmt.Errorf("recreate %s: %w", resolvTarget, err)
			}
			if err := os.WriteFile(resolvTarget, nil, 0o644); err != nil {
				return fmt.Errorf("recreate %s: %w", resolvTarget, err)
			}
		}
		src := stage + "/resolv.conf"
		if err := os.WriteFile(src, []byte(resolvConf), 0o644); err != nil {
			return fmt.Errorf("stage resolv.conf: %w", err)
		}
		if err := unix.Mount(src, resolvTarget, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind-mount %s: %w", resolvTarget, err)
		}
		return nil
	}()
	if uerr := unix.Unmount(stage, unix.MNT_DETACH); err == nil && uerr != nil {
		err = fmt.Errorf("unmount staging tmpfs: %w", uerr)
	}
	return err
}
