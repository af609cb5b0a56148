package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// versionLine describes the build from the module's build information: the
// module version ("(devel)" for a build from a checkout, the tag for
// `go install …@vX.Y.Z`), the VCS revision and time when built from a
// repository (+dirty for uncommitted changes), the Go version and platform.
func versionLine(bi *debug.BuildInfo, ok bool) string {
	version := "unknown"
	var rev, at string
	dirty := false
	goVersion := runtime.Version()
	if ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	var extra []string
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if dirty {
			rev += "+dirty"
		}
		extra = append(extra, "commit "+rev)
	}
	if at != "" {
		extra = append(extra, at)
	}
	extra = append(extra, goVersion, runtime.GOOS+"/"+runtime.GOARCH)
	return fmt.Sprintf("palisade %s (%s)", version, strings.Join(extra, ", "))
}

func init() {
	bi, ok := debug.ReadBuildInfo()
	root.Version = versionLine(bi, ok)
	root.SetVersionTemplate("{{.Version}}\n")
	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version of this build (same as --version)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), root.Version)
			return err
		},
	})
}
