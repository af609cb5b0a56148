package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"

	"github.com/spf13/cobra"
)

// Profiling flags, for users who report a performance problem and for our
// own measurements: `palisade analyze --cpuprofile cpu.out capture.ndjson`,
// then `go tool pprof cpu.out`.
var (
	cpuProfile string
	memProfile string
	cpuFile    *os.File
)

func init() {
	pf := root.PersistentFlags()
	pf.StringVar(&cpuProfile, "cpuprofile", "", "write a Go CPU profile of the command to this file")
	pf.StringVar(&memProfile, "memprofile", "", "write a Go heap profile to this file when the command ends")
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if cpuProfile == "" {
			return nil
		}
		f, err := os.Create(cpuProfile)
		if err != nil {
			return exitCode(2, fmt.Errorf("--cpuprofile: %w", err))
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return exitCode(2, fmt.Errorf("--cpuprofile: %w", err))
		}
		cpuFile = f
		return nil
	}
}

// stopProfiles ends the CPU profile and writes the heap profile; main calls
// it on every exit path.
func stopProfiles() {
	if cpuFile != nil {
		pprof.StopCPUProfile()
		cpuFile.Close()
		cpuFile = nil
	}
	if memProfile != "" {
		f, err := os.Create(memProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "palisade: --memprofile:", err)
			return
		}
		runtime.GC()
		if err := pprof.WriteHeapProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "palisade: --memprofile:", err)
		}
		f.Close()
	}
}
