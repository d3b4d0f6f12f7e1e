package policy_test

import (
	"fmt"
	"net/netip"

	"github.com/buildwall/buildwall/internal/policy"
)

func Example() {
	spec, err := policy.Parse("buildwall.yml", []byte(`
run:
  mode: block
  allow:
    - npm
    - "*.example.com:443"
    - 203.0.113.0/24:443
  host-ports: [5432]
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	// DetectEnv reads this from npm, go and pip; here it is made up.
	env := policy.Env{NPMRegistries: []string{"https://registry.example/"}}
	p, err := policy.Compile(spec, env)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range []policy.Request{
		{Name: "registry.example", Port: 443, Proto: "tcp"},
		{Name: "cdn.example.com", Port: 443, Proto: "tcp"},
		{Name: "example.com", Port: 443, Proto: "tcp"},
		{Name: "cdn.example.com", Port: 80, Proto: "tcp"},
		{Addr: netip.MustParseAddr("203.0.113.9"), Port: 443, Proto: "tcp"},
		{Addr: netip.MustParseAddr("127.0.0.1"), Port: 6379, Proto: "tcp"},
	} {
		d := p.Decide(r)
		dest := r.Name
		if dest == "" {
			dest = r.Addr.String()
		}
		fmt.Printf("%s:%d allow=%v rule=%q reason=%q\n", dest, r.Port, d.Allow, d.Rule, d.Reason)
	}
	// Output:
	// registry.example:443 allow=true rule="npm" reason=""
	// cdn.example.com:443 allow=true rule="*.example.com:443" reason=""
	// example.com:443 allow=false rule="" reason="not in policy"
	// cdn.example.com:80 allow=false rule="" reason="port 80 not allowed for cdn.example.com (allowed: 443)"
	// 203.0.113.9:443 allow=true rule="203.0.113.0/24:443" reason=""
	// 127.0.0.1:6379 allow=false rule="" reason="loopback port not in host-ports"
}
