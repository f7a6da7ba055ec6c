package cli

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

// Set at build time by release builds, each overriding what the Go
// toolchain recorded in the binary (see BuildInfo):
//
//	go build -ldflags "-X github.com/hooklatch/hooklatch/internal/cli.Version=v1.2.3
//	  -X github.com/hooklatch/hooklatch/internal/cli.Revision=<commit>
//	  -X github.com/hooklatch/hooklatch/internal/cli.BuildTime=2026-12-05T23:50:00Z"
var (
	Version   string
	Revision  string
	BuildTime string
)

// BuildInfo says which hooklatch this is: what the Go toolchain stamped
// into the binary (the module version and, built inside a git checkout,
// the commit), with the -ldflags overrides above laid over it.
type BuildInfo struct {
	Version    string // v1.2.3, a pseudo-version, or "(devel)"
	Revision   string // the commit, empty when unknown
	Modified   bool   // built from a working tree with changes not committed
	CommitTime string // the commit's time, RFC 3339, empty when unknown
	BuildTime  string // when the release was built, empty when unknown
	GoVersion  string
	Platform   string // GOOS/GOARCH
}

// readBuildInfo is this binary's BuildInfo.
func readBuildInfo() BuildInfo {
	bi, _ := debug.ReadBuildInfo()
	return buildInfo(bi, Version, Revision, BuildTime)
}

// buildInfo reads bi (nil when the binary has none) and lays the non-empty
// overrides over it.
func buildInfo(bi *debug.BuildInfo, version, revision, buildTime string) BuildInfo {
	info := BuildInfo{Version: "(devel)", GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi != nil {
		if v := bi.Main.Version; v != "" {
			info.Version = v
		}
		if bi.GoVersion != "" {
			info.GoVersion = bi.GoVersion
		}
		var goos, goarch string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Revision = s.Value
			case "vcs.modified":
				info.Modified, _ = strconv.ParseBool(s.Value)
			case "vcs.time":
				info.CommitTime = s.Value
			case "GOOS":
				goos = s.Value
			case "GOARCH":
				goarch = s.Value
			}
		}
		if goos != "" && goarch != "" {
			info.Platform = goos + "/" + goarch
		}
	}
	if version != "" {
		info.Version = version
	}
	if revision != "" {
		info.Revision = revision
	}
	info.BuildTime = buildTime
	return info
}

// Short is the version alone, marked "+dirty" (as the Go toolchain marks
// its pseudo-versions) when the tree had changes: what --version and the
// User-Agent say.
func (b BuildInfo) Short() string {
	if b.Modified && !strings.HasSuffix(b.Version, "+dirty") {
		return b.Version + "+dirty"
	}
	return b.Version
}

// Write prints the version line and, one a line, what else is known.
func (b BuildInfo) Write(w io.Writer) error {
	type line struct{ key, value string }
	lines := []line{{"revision", "unknown (built outside a git checkout)"}}
	if b.Revision != "" {
		lines = []line{{"revision", b.Revision}, {"modified", strconv.FormatBool(b.Modified)}}
	}
	lines = append(lines, line{"committed", b.CommitTime}, line{"built", b.BuildTime}, line{"go", b.GoVersion + " " + b.Platform})
	if _, err := fmt.Fprintln(w, "hooklatch", b.Short()); err != nil {
		return err
	}
	for _, l := range lines {
		if l.value == "" {
			continue
		}
		if _, err := fmt.Fprintf(w, "  %-10s %s\n", l.key, l.value); err != nil {
			return err
		}
	}
	return nil
}

func newVersionCommand(env Env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, the commit it was built from, and the Go toolchain",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return readBuildInfo().Write(env.Stdout)
		},
	}
}
