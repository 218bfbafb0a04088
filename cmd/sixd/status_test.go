package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sixdomain/sixdomain/node"
)

// TestStatusCommand: sixd status prints a running node's heights, sync
// state, peers, authority and role, and --json its /v1/status answer.
func TestStatusCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	home := initHome(t, "gateway")
	api := startNode(t, home)
	out := mustRun(t, "status", "--api", api)
	for _, want := range []string{"height:", "finalized:", "catching up:  no", "peers:        0", "authority:    yes", "role:", "version:"} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}
	var s node.StatusResponse
	if err := json.Unmarshal([]byte(mustRun(t, "status", "--api", api, "--json")), &s); err != nil {
		t.Fatal(err)
	}
	if s.CatchingUp || !s.Authority || s.PeerID != idJSON(t, home).PeerID {
		t.Errorf("status --json = %+v", s)
	}
	wantFail(t, []string{"status", "--api", "http://127.0.0.1:1"}, "127.0.0.1:1")
}

// TestIDPrintsDialAddrs: sixd id prints the announce addresses when set
// (without those no_announce removes), else the listen addresses with the
// wildcard host expanded; a bad announce address is an error naming the
// key.
func TestIDPrintsDialAddrs(t *testing.T) {
	home := initHome(t, "device")
	path := filepath.Join(home, configFileName)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	write := func(repl ...string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(strings.NewReplacer(repl...).Replace(string(orig))), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("announce = []", `announce = ["/dns4/node.example.com/tcp/4001", "/ip4/10.1.2.3/tcp/4001"]`,
		"no_announce = []", `no_announce = ["/ip4/10.0.0.0/ipcidr/8"]`)
	o := idJSON(t, home)
	want := "/dns4/node.example.com/tcp/4001/p2p/" + o.PeerID
	if !slices.Equal(o.Addrs, []string{want}) {
		t.Errorf("id addrs = %q, want [%s]", o.Addrs, want)
	}
	if text := mustRun(t, "id", "--home", home); !strings.Contains(text, "dial:\n  "+want+"\n") {
		t.Errorf("id text output:\n%s", text)
	}

	write(`listen = ["/ip4/127.0.0.1/tcp/0"]`, `listen = ["/ip4/0.0.0.0/tcp/4001"]`)
	o = idJSON(t, home)
	if len(o.Addrs) == 0 {
		t.Fatal("no dial addresses for a wildcard listen address")
	}
	for _, a := range o.Addrs {
		if strings.Contains(a, "/0.0.0.0/") || !strings.HasSuffix(a, "/tcp/4001/p2p/"+o.PeerID) {
			t.Errorf("dial address %q", a)
		}
	}

	write("announce = []", `announce = ["/ip4/203.0.113.7/tcp/4001/p2p/`+o.PeerID+`"]`)
	wantFail(t, []string{"id", "--home", home}, "p2p.announce[0]", "/p2p/")
}
