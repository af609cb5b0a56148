// Command palisade-eval holds Palisade's evaluation tooling: the injection
// evaluation against labelled corpora, side by side with Coraza + OWASP CRS
// (injection), and the API discovery evaluation on traffic synthesized from
// real-world OpenAPI specs (discovery). It is a separate command so that the shipped palisade binary does not link
// the comparison engine (Coraza, its rule set, gjson); see
// cmd/palisade/deps.txt for the reviewed dependency list of palisade.
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

func exitCode(code int, err error) error { return &exitError{code: code, err: err} }

var root = &cobra.Command{
	Use:           "palisade-eval",
	Short:         "Evaluate Palisade: detectors on labelled corpora (with Coraza + OWASP CRS as a reference), API discovery on real-world specs",
	SilenceUsage:  true,
	SilenceErrors: true,
}

func main() {
	if err := root.Execute(); err != nil {
		var ee *exitError
		code := 1
		if errors.As(err, &ee) {
			code = ee.code
		}
		fmt.Fprintln(os.Stderr, "palisade-eval:", err)
		os.Exit(code)
	}
}
