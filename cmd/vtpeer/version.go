package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Set at build time by the release (see .goreleaser.yaml):
//
//	-ldflags "-X main.version=v1.2.3 -X main.commit=abc123 -X main.date=2026-01-02T03:04:05Z"
//
// When empty, version comes from the module build info (go install …@v1.2.3)
// and commit from the VCS stamp (vcs.revision, with "-dirty" when the tree
// had local changes).
var (
	version = ""
	commit  = ""
	date    = ""
)

// buildInfo is what `vtpeer version` reports.
type buildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	Date      string `json:"date,omitempty"`
	GoVersion string `json:"go"`
	Platform  string `json:"platform"`
	Cgo       bool   `json:"cgo"`
}

// resolveBuildInfo fills what the linker flags left empty from bi (nil
// when the binary carries no build info).
func resolveBuildInfo(ldVersion, ldCommit, ldDate string, bi *debug.BuildInfo) buildInfo {
	info := buildInfo{Version: ldVersion, Commit: ldCommit, Date: ldDate, GoVersion: runtime.Version(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH, Cgo: cgoEnabled}
	if bi != nil {
		if info.Version == "" && bi.Main.Version != "" {
			info.Version = bi.Main.Version
		}
		var rev, when string
		dirty := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if info.Commit == "" && rev != "" {
			info.Commit = rev
			if dirty {
				info.Commit += "-dirty"
			}
		}
		if info.Date == "" {
			info.Date = when
		}
	}
	if info.Version == "" {
		info.Version = "(devel)"
	}
	return info
}

// String is the one line `vtpeer version` prints.
func (b buildInfo) String() string {
	cgo := "cgo off (pure-Go secp256k1)"
	if b.Cgo {
		cgo = "cgo on (libsecp256k1)"
	}
	commit := b.Commit
	if commit == "" {
		commit = "unknown commit"
	}
	s := fmt.Sprintf("vtpeer %s (commit %s", b.Version, commit)
	if b.Date != "" {
		s += ", built " + b.Date
	}
	return s + fmt.Sprintf(") %s %s, %s", b.GoVersion, b.Platform, cgo)
}

// newVersionCmd prints the build's version, commit, Go version and whether
// cgo is on.
func newVersionCmd(_ *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the vtpeer version, commit, Go version and whether cgo is on",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bi, _ := debug.ReadBuildInfo()
			info := resolveBuildInfo(version, commit, date, bi)
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(info)
			}
			_, err := fmt.Fprintln(cmd.OutOrStdout(), info)
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object: version, commit, date, go, platform, cgo")
	return cmd
}
