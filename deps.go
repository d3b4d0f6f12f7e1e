//go:build deps

// This file pins the dependencies the project is adopting while their first
// users are written, so that `go mod tidy` keeps them. Delete it once every
// module below is imported by real code.
package deps

import (
	_ "github.com/Masterminds/semver/v3"
	_ "github.com/google/go-cmp/cmp"
	_ "github.com/google/nftables"
	_ "github.com/miekg/dns"
	_ "github.com/rhysd/actionlint"
	_ "go.yaml.in/yaml/v3"
	_ "golang.org/x/sync/errgroup"
	_ "golang.org/x/sys/unix"
)
