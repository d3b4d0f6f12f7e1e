package npmconfig

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// clientTimeout bounds each `npm config get registry` style call.
const clientTimeout = 5 * time.Second

// Cache keeps package managers' answers about their default registry in a
// JSON file, per tool, with the key each answer is valid for. It is an
// optimisation: errors reading or writing it only mean the tool runs again.
type Cache struct {
	// Path is the cache file; "" disables the cache.
	Path string
	mu   sync.Mutex
}

// UserCache returns the cache in the user cache directory
// (buildwall/npm-registry.json), or a disabled cache when there is none.
func UserCache() *Cache {
	d, err := os.UserCacheDir()
	if err != nil {
		return &Cache{}
	}
	return &Cache{Path: filepath.Join(d, "buildwall", "npm-registry.json")}
}

type cacheEntry struct {
	Key      string `json:"key"`
	Registry string `json:"registry"`
}

func (c *Cache) load() map[string]cacheEntry {
	m := map[string]cacheEntry{}
	if c == nil || c.Path == "" {
		return m
	}
	data, err := readLimited(c.Path)
	if err != nil || json.Unmarshal(data, &m) != nil {
		return map[string]cacheEntry{}
	}
	return m
}

// Get returns tool's cached answer when it was stored under key.
func (c *Cache) Get(tool, key string) (string, bool) {
	e, ok := c.load()[tool]
	if !ok || e.Key != key || e.Registry == "" {
		return "", false
	}
	return e.Registry, true
}

// Put records tool's answer under key; errors are dropped (see Cache).
func (c *Cache) Put(tool, key, registry string) {
	if c == nil || c.Path == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.load()
	m[tool] = cacheEntry{key, registry}
	_ = writeCache(c.Path, m)
}

// CacheKey identifies the executable (resolved path, size, mtime) and the
// state of files (mtime, or absence). ok is false when the executable
// cannot be examined.
func CacheKey(exe string, files []string) (string, bool) {
	real, err := filepath.EvalSymlinks(exe)
	if err != nil {
		return "", false
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", false
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %d %d", real, fi.Size(), fi.ModTime().UnixNano())
	for _, f := range files {
		mtime := int64(-1)
		if fi, err := os.Stat(f); err == nil {
			mtime = fi.ModTime().UnixNano()
		}
		fmt.Fprintf(&b, "\n%s %d", f, mtime)
	}
	return b.String(), true
}

// writeCache replaces the cache file atomically (temporary file + rename),
// so a concurrent reader sees the old or the new answer, never half of one.
func writeCache(path string, m map[string]cacheEntry) (err error) {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode registry cache: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create cache directory: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".npm-registry-*.json")
	if err != nil {
		return fmt.Errorf("create registry cache: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, os.Remove(f.Name()))
		}
	}()
	if _, err := f.Write(data); err != nil {
		return errors.Join(fmt.Errorf("write registry cache: %w", err), f.Close())
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write registry cache: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("replace registry cache: %w", err)
	}
	return nil
}

// ClientRegistry runs `<exe> config get registry` with a timeout in dir
// ("" means the temporary directory, outside any project) with every
// network feature off, and returns the URL it prints or "".
func ClientRegistry(ctx context.Context, exe, dir string) string {
	ctx, cancel := context.WithTimeout(ctx, clientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "config", "get", "registry")
	if dir == "" {
		dir = os.TempDir()
	}
	cmd.Dir = dir
	cmd.WaitDelay = time.Second
	cmd.Env = append(os.Environ(),
		"npm_config_update_notifier=false",
		"NO_UPDATE_NOTIFIER=1",
		"COREPACK_ENABLE_NETWORK=0",
		"COREPACK_ENABLE_DOWNLOAD_PROMPT=0",
	)
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	u := strings.TrimSpace(string(out))
	if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
		return ""
	}
	return u
}
