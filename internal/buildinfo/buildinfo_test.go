package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	stamped := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/orgscope/orgscope", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "0123abcd4567ef890123abcd4567ef8901234567"},
			{Key: "vcs.time", Value: "2026-11-29T10:00:00Z"},
			{Key: "vcs.modified", Value: "false"},
		},
	}
	modified := *stamped
	modified.Settings = append(append([]debug.BuildSetting(nil), stamped.Settings[:3]...), debug.BuildSetting{Key: "vcs.modified", Value: "true"})
	devel := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}

	for _, tc := range []struct {
		name   string
		bi     *debug.BuildInfo
		linked string
		want   string
	}{
		{"stamped", stamped, "", "v1.2.3 (commit 0123abcd, built 2026-11-29T10:00:00Z, go1.26.8)"},
		{"link-time version wins", stamped, "v9.9.9", "v9.9.9 (commit 0123abcd, built 2026-11-29T10:00:00Z, go1.26.8)"},
		{"modified tree", &modified, "", "v1.2.3 (commit 0123abcd+dirty, built 2026-11-29T10:00:00Z, go1.26.8)"},
		{"no VCS information", devel, "", "dev (commit dev, built dev, go1.26.8)"},
		{"no build information", nil, "", "dev (commit dev, built dev, dev)"},
		{"only a link-time version", nil, " v2.0.0\n", "v2.0.0 (commit dev, built dev, dev)"},
	} {
		if got := fromBuildInfo(tc.bi, tc.linked).String(); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestRead: a test binary has build information (at least the Go version).
func TestRead(t *testing.T) {
	info := Read()
	if !strings.HasPrefix(info.GoVersion, "go1.") || info.Version == "" || info.Commit == "" {
		t.Errorf("Read() = %+v", info)
	}
}
