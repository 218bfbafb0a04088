package node

import (
	"runtime/debug"
	"testing"
)

func TestBuildCommit(t *testing.T) {
	vcs := func(kv ...string) *debug.BuildInfo {
		bi := &debug.BuildInfo{}
		for i := 0; i+1 < len(kv); i += 2 {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return bi
	}
	cases := []struct {
		name   string
		ldflag string
		bi     *debug.BuildInfo
		ok     bool
		want   string
	}{
		{"ldflags win", "abc123", vcs("vcs.revision", "def456"), true, "abc123"},
		{"vcs revision", "", vcs("vcs.revision", "def456", "vcs.modified", "false"), true, "def456"},
		{"dirty work tree", "", vcs("vcs.revision", "def456", "vcs.modified", "true"), true, "def456-dirty"},
		{"no vcs stamp", "", vcs("GOOS", "linux"), true, "unknown"},
		{"no build info", "", nil, false, "unknown"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := buildCommit(tc.ldflag, tc.bi, tc.ok); got != tc.want {
				t.Errorf("buildCommit = %q, want %q", got, tc.want)
			}
		})
	}
}
