package policy_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/buildwall/buildwall/internal/dnsproxy"
	"github.com/buildwall/buildwall/internal/policy"
)

// TestDefaultTunnelLimit: Weakenings compares an unset dns.tunnel-limit as
// the DNS server's default.
func TestDefaultTunnelLimit(t *testing.T) {
	trusted, err := policy.Compile(&policy.Spec{DNS: policy.DNSSpec{TunnelLimit: dnsproxy.DefaultTunnelLimit}}, policy.Env{})
	if err != nil {
		t.Fatal(err)
	}
	branch, err := policy.Compile(&policy.Spec{}, policy.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if w := policy.Weakenings(trusted, branch); w != nil {
		t.Errorf("unset tunnel-limit compared as another value than dnsproxy's default: %q", w)
	}
	branch, _ = policy.Compile(&policy.Spec{DNS: policy.DNSSpec{TunnelLimit: dnsproxy.DefaultTunnelLimit + 1}}, policy.Env{})
	if w := policy.Weakenings(trusted, branch); len(w) != 1 {
		t.Errorf("higher limit not reported: %q", w)
	}
}

// TestDetectPipIgnoresTreeModules: pip's configuration is read with the
// build's directory as the working directory, which the branch wrote; a
// json.py (or pip/) there must not run, outside the sandbox, in place of
// the standard library's.
func TestDetectPipIgnoresTreeModules(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed")
	}
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	hostile := "open(" + strconv.Quote(marker) + ", 'w').write('x')\n"
	for _, f := range []string{"json.py", "pip/__init__.py", "urllib/__init__.py"} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(hostile), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	policy.Detector{Presets: []string{policy.PresetPyPI}, Dir: dir}.Detect(context.Background())
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a module from the build's directory ran during preset detection")
	}
}
