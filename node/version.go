package node

import (
	"runtime/debug"
	"sync"
)

// Version is the sixdomain release; builds may set it with
// -ldflags "-X github.com/sixdomain/sixdomain/node.Version=...".
var Version = "0.1.0-dev"

// Commit is the source commit of the build; `make build` sets it with
// -ldflags "-X github.com/sixdomain/sixdomain/node.Commit=...". Use
// BuildCommit, which falls back to the Go toolchain's VCS stamp.
var Commit = ""

// BuildCommit returns Commit if the build set it, else the vcs.revision
// the Go toolchain stamped into the binary (with "-dirty" when the work
// tree had changes), else "unknown".
func BuildCommit() string { return buildCommitOnce() }

// The linker sets Commit before the program starts, so the answer is fixed.
var buildCommitOnce = sync.OnceValue(func() string {
	bi, ok := debug.ReadBuildInfo()
	return buildCommit(Commit, bi, ok)
})

func buildCommit(ldflag string, bi *debug.BuildInfo, ok bool) string {
	if ldflag != "" {
		return ldflag
	}
	if !ok || bi == nil {
		return "unknown"
	}
	var rev string
	var dirty bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "unknown"
	}
	if dirty {
		rev += "-dirty"
	}
	return rev
}
