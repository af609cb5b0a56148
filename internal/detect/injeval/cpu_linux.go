//go:build linux

package injeval

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// threadCPU is the CPU time of the calling OS thread (the caller locks its
// goroutine to the thread), from /proc/thread-self/schedstat; ok=false when
// unknown.
func threadCPU() (time.Duration, bool) {
	b, err := os.ReadFile("/proc/thread-self/schedstat")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, false
	}
	ns, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return 0, false
	}
	return time.Duration(ns), true
}
