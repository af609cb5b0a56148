// Command palisade is the CLI of the Palisade API security platform. It only
// parses flags and wires packages; all logic lives under internal/.
//
// Exit status, for every command: 0 success; 2 a usage error (unknown
// command or flag, missing or extra arguments, a bad flag value) or an
// unusable input; 1 only where a command documents it (audit: findings at or
// above --fail-on; otherwise a failure while running: an I/O or database
// error); 3 where documented (analyze/openapi: an input ended early;
// scenarios: below the floors).
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
func (e *exitError) Unwrap() error { return e.err }

// exitCode wraps err so that main exits with code.
func exitCode(code int, err error) error { return &exitError{code: code, err: err} }

var root = &cobra.Command{
	Use:           "palisade",
	Short:         "Palisade: API discovery, classification, posture and runtime threat detection",
	SilenceUsage:  true,
	SilenceErrors: true,
}

// started is set once the command line has been accepted (flags parsed,
// arguments validated) and the command begins to run: an error before that
// is a usage error.
var started bool

func init() {
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return exitCode(2, fmt.Errorf("%w (see %s --help)", err, c.CommandPath()))
	})
}

// prepare makes every command report how its command line was taken: a
// command's RunE marks the start of the run (errors before it are usage
// errors), and a command that only groups others (palisade, token)
// is a usage error when called alone or with an unknown subcommand.
func prepare(c *cobra.Command) {
	for _, sub := range c.Commands() {
		prepare(sub)
	}
	switch {
	case c.RunE != nil:
		run := c.RunE
		c.RunE = func(cmd *cobra.Command, args []string) error {
			started = true
			return run(cmd, args)
		}
	case c.Run != nil:
		run := c.Run
		c.Run = func(cmd *cobra.Command, args []string) {
			started = true
			run(cmd, args)
		}
	case c.HasSubCommands():
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return exitCode(2, fmt.Errorf("unknown command %q for %q (see %s --help)", args[0], cmd.CommandPath(), cmd.CommandPath()))
			}
			cmd.SetOut(cmd.ErrOrStderr())
			_ = cmd.Help()
			return exitCode(2, fmt.Errorf("%s: a command is required", cmd.CommandPath()))
		}
	}
}

// execute runs the command line and returns the process exit code, having
// printed the error if any.
func execute(args []string) int {
	prepare(root)
	root.SetArgs(args)
	err := root.Execute()
	stopProfiles()
	if err == nil {
		return 0
	}
	var ee *exitError
	code := 1
	if errors.As(err, &ee) {
		code = ee.code
		if ee.err == nil {
			return code
		}
	} else if !started {
		code = 2 // unknown command, bad arguments, a required flag missing
	}
	fmt.Fprintln(os.Stderr, "palisade:", err)
	return code
}

func main() { os.Exit(execute(os.Args[1:])) }
