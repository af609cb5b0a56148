//go:build linux

package detect_test

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// threadCPU is the time the calling OS thread has run on a CPU (lock the
// goroutine to its thread first; the scheduler's nanosecond count from
// /proc/thread-self/schedstat), or 0 when unknown.
func threadCPU() time.Duration {
	b, err := os.ReadFile("/proc/thread-self/schedstat")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	ns, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return 0
	}
	return time.Duration(ns)
}
