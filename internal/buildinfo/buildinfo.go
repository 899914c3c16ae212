package buildinfo

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// version, when set at link time, wins over the module version:
//
//	go build -ldflags "-X github.com/orgscope/orgscope/internal/buildinfo.version=v1.2.3" ./cmd/orgscope
var version string

// Unknown stands for a part of the build that was not recorded (a test
// binary, or a build outside a git checkout or with -buildvcs=false).
const Unknown = "dev"

// Info describes a build. Parts that are not known are Unknown.
type Info struct {
	// Version is the link-time version, else the module version (a tag,
	// or the pseudo-version Go derives from the commit), else Unknown.
	Version string
	// Commit is the VCS revision, shortened to 8 characters; Modified says
	// the working tree had uncommitted changes.
	Commit   string
	Modified bool
	// Time is the commit's time (RFC 3339), which is what Go records.
	Time      string
	GoVersion string
}

// Read returns the running binary's build information.
func Read() Info {
	bi, _ := debug.ReadBuildInfo()
	return fromBuildInfo(bi, version)
}

// fromBuildInfo extracts Info from bi (nil when unavailable) and a
// link-time version (empty when not set).
func fromBuildInfo(bi *debug.BuildInfo, linked string) Info {
	info := Info{Version: Unknown, Commit: Unknown, Time: Unknown, GoVersion: Unknown}
	if bi != nil {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			info.Version = v
		}
		if bi.GoVersion != "" {
			info.GoVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Commit = s.Value[:min(8, len(s.Value))]
			case "vcs.time":
				info.Time = s.Value
			case "vcs.modified":
				info.Modified = s.Value == "true"
			}
		}
	}
	if linked = strings.TrimSpace(linked); linked != "" {
		info.Version = linked
	}
	return info
}

// String is the one-line form `orgscope version` prints (after "orgscope "):
// "v1.2.3 (commit 0123abcd, built 2026-11-29T10:00:00Z, go1.26.8)", with
// "+dirty" after a commit whose tree was modified.
func (i Info) String() string {
	commit := i.Commit
	if i.Modified && commit != Unknown {
		commit += "+dirty"
	}
	return fmt.Sprintf("%s (commit %s, built %s, %s)", i.Version, commit, i.Time, i.GoVersion)
}
