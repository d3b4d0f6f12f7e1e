//go:build !unix

package testutil

import "time"

// cpuTime is not available here; AssertLinear measures wall time.
func cpuTime() time.Duration { return 0 }

const cpuTimeWorks = false
