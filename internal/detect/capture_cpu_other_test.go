//go:build !linux

package detect_test

import "time"

func threadCPU() time.Duration { return 0 }
