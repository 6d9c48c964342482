//go:build !linux

package changes_test

import "time"

// threadCPU is unavailable off Linux: the benchmarks report wall-clock percentiles only.
func threadCPU() (time.Duration, bool) { return 0, false }
