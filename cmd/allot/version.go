package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"
)

// versionLine is what allot version and allot --version print: the module
// version (v1.2.3 when installed with go install …@v1.2.3, "(devel)" when
// built from a checkout), the VCS commit and its time when the build
// recorded them (a dirty tree is marked; -buildvcs=false records none),
// when the binary was built (its file's time) and the Go version.
func versionLine(info *debug.BuildInfo, ok bool, built time.Time) string {
	if !ok || info == nil {
		return "allot (no build information)"
	}
	version := info.Main.Version
	if version == "" {
		version = "(devel)"
	}
	var commit, when, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	line := "allot " + version
	if commit != "" {
		line += fmt.Sprintf(", commit %.12s%s", commit, dirty)
	}
	if when != "" {
		line += " of " + when
	}
	if !built.IsZero() {
		line += ", built " + built.UTC().Format(time.RFC3339)
	}
	return line + ", " + info.GoVersion
}

// buildTime is the running binary's modification time: when it was
// built, as the build info records no build time.
func buildTime() time.Time {
	exe, err := os.Executable()
	if err != nil {
		return time.Time{}
	}
	st, err := os.Stat(exe)
	if err != nil {
		return time.Time{}
	}
	return st.ModTime()
}

// currentVersion is versionLine for this binary.
func currentVersion() string {
	info, ok := debug.ReadBuildInfo()
	return versionLine(info, ok, buildTime())
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print allot's version, commit and build time",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), currentVersion())
			return err
		},
	}
}
