package policy_test

import (
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
