package testutil

import (
	"syscall"
	"time"
)

// ProcessCPU returns the user+system CPU time of this process so far
// (zero where getrusage is unavailable). Benchmarks on a shared machine
// report CPU time per operation next to wall time: it is what a change
// costs, whatever else the machine is doing.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
