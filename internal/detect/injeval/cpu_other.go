//go:build !linux

package injeval

import "time"

func threadCPU() (time.Duration, bool) { return 0, false }
