package node

// Version is the sixdomain release; builds may set it with
// -ldflags "-X github.com/sixdomain/sixdomain/node.Version=...".
var Version = "0.1.0-dev"

// Commit is the source revision of the build ("unknown" unless set with
// -ldflags "-X github.com/sixdomain/sixdomain/node.Commit=...").
var Commit = "unknown"
