// Command palisade is the CLI of the Palisade API security platform. It only
// parses flags and wires packages; all logic lives under internal/.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// exitError carries a process exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

// exitCode wraps err so that main exits with code.
func exitCode(code int, err error) error { return &exitError{code: code, err: err} }

var root = &cobra.Command{
	Use:           "palisade",
	Short:         "Palisade: API discovery, classification, posture and runtime threat detection",
	SilenceUsage:  true,
	SilenceErrors: true,
}

func main() {
	err := root.Execute()
	stopProfiles()
	if err != nil {
		var ee *exitError
		code := 1
		if errors.As(err, &ee) {
			code = ee.code
			if ee.err == nil {
				os.Exit(code)
			}
		}
		fmt.Fprintln(os.Stderr, "palisade:", err)
		os.Exit(code)
	}
}
