//go:build !unix

package dispatch_test

import "time"

// cpuTime is not measured here: the benchmarks report 0 µs.
func cpuTime() time.Duration { return 0 }
