//go:build !linux

package main

import "time"

// threadCPU is unavailable off Linux: the diff case reports wall-clock percentiles only.
func threadCPU() (time.Duration, bool) { return 0, false }
