//go:build !unix

package advisory

import "time"

// processCPU is not measured on this platform; benchmarks then report no
// CPU metrics.
func processCPU() time.Duration { return 0 }
