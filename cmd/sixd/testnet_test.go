package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sixdomain/sixdomain/configs"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// freePortRange returns a base port such that base..base+n-1 are free on
// loopback for TCP and UDP (a moment ago).
func freePortRange(t *testing.T, n int) int {
	t.Helper()
	for range 50 {
		base := 20000 + rand.IntN(30000)
		ok := true
		for p := base; p < base+n && ok; p++ {
			addr := fmt.Sprintf("127.0.0.1:%d", p)
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				ok = false
				break
			}
			pc, err := net.ListenPacket("udp", addr)
			if err != nil {
				ok = false
			} else if err := pc.Close(); err != nil {
				t.Fatal(err)
			}
			if err := ln.Close(); err != nil {
				t.Fatal(err)
			}
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free port range")
	return 0
}

func TestTestnetRefusesBadInput(t *testing.T) {
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "net")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--out", full}, "not empty"},
		{[]string{"--out", out, "--authorities", "0"}, "at least one authority"},
		{[]string{"--out", out, "--hostnames", "a,b"}, "lists 2 hosts for 7 nodes"},
		{[]string{"--out", out, "--local", "--hostnames", "a,b,c,d,e,f,g"}, "only loopback addresses"},
		{[]string{"--out", out, "--hostnames", "a,b,c,d,e,f,-g"}, "not a host name"},
		{[]string{"--out", out, "--slot", "1ms"}, "--slot"},
		{[]string{"--out", out, "--admission", "closed"}, "--admission"},
		{[]string{"--out", out, "--local", "--p2p-port", "8640"}, "overlap"},
		{[]string{"--out", out, "--devices", "300"}, "at most 256"},
		{[]string{"--authorities", "1"}, "out"},
	} {
		wantFail(t, append([]string{"testnet"}, c.args...), c.want)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a refused testnet wrote %s (%v)", out, err)
	}
}

// TestTestnetLayout checks the homes and testnet.json of a container
// layout: one genesis naming the authorities, every config listing the
// bootstrap nodes by their host names.
func TestTestnetLayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "net")
	mustRun(t, "testnet", "--out", dir, "--bootstrap", "2", "--authorities", "3", "--gateways", "1", "--devices", "2")
	var tn Testnet
	data, err := os.ReadFile(filepath.Join(dir, "testnet.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &tn); err != nil {
		t.Fatal(err)
	}
	g, err := types.LoadGenesis(filepath.Join(dir, "genesis.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(tn.Nodes) != 8 || tn.GenesisHash != g.Hash().String() || len(g.Authorities) != 3 {
		t.Fatalf("testnet.json %+v, genesis authorities %v", tn, g.Authorities)
	}
	for _, nd := range tn.Nodes {
		home := filepath.Join(dir, nd.Home)
		cfg, err := configs.Load(filepath.Join(home, "config.toml"))
		if err != nil {
			t.Fatalf("%s: %v", nd.Name, err)
		}
		if got := idJSON(t, home); got.DID != nd.DID || got.PeerID != nd.PeerID {
			t.Errorf("%s: key is %s, testnet.json says %s", nd.Name, got.DID, nd.DID)
		}
		if isAuth := strings.Contains(strings.Join(g.Authorities, " "), nd.DID); isAuth != nd.Authority {
			t.Errorf("%s: authority %v in testnet.json, %v in the genesis", nd.Name, nd.Authority, isAuth)
		}
		wantBoot := 2
		switch nd.Role {
		case "bootstrap":
			wantBoot = 1 // the other bootstrap node, not itself
		case "device":
			wantBoot = 3 // and its site's gateway
			if last := cfg.P2P.Bootstrap[len(cfg.P2P.Bootstrap)-1]; !strings.HasPrefix(last, "/dns/gateway-0/") {
				t.Errorf("%s: bootstrap %v does not end with its gateway", nd.Name, cfg.P2P.Bootstrap)
			}
		}
		if len(cfg.P2P.Bootstrap) != wantBoot || !strings.HasPrefix(cfg.P2P.Bootstrap[0], "/dns/bootstrap-") {
			t.Errorf("%s: bootstrap %v", nd.Name, cfg.P2P.Bootstrap)
		}
		if cfg.P2P.MDNS || cfg.P2P.Listen[0] != "/ip4/0.0.0.0/tcp/4001" {
			t.Errorf("%s: p2p %+v", nd.Name, cfg.P2P)
		}
		if fi, err := os.Stat(filepath.Join(home, "node.key")); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: node.key %v %v", nd.Name, fi, err)
		}
	}
}

// TestTestnetLocalCommits lays out a --local testnet (a bootstrap node,
// two authorities and a device on loopback), starts every node with
// `sixd run`, and gets a device's reading committed.
func TestTestnetLocalCommits(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four nodes")
	}
	dir := filepath.Join(t.TempDir(), "net")
	p2p := freePortRange(t, 4)
	api := freePortRange(t, 4)
	mustRun(t, "testnet", "--out", dir, "--local", "--bootstrap", "1", "--authorities", "2", "--gateways", "0",
		"--devices", "1", "--slot", "300ms", "--p2p-port", fmt.Sprint(p2p), "--api-port", fmt.Sprint(api))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	names := []string{"bootstrap-0", "authority-0", "authority-1", "device-0"}
	done := make(chan error, len(names))
	logs := make([]*syncBuffer, len(names))
	for i, name := range names {
		logs[i] = &syncBuffer{}
		go func() {
			root := newRootCmd()
			root.SetArgs([]string{"run", "--home", filepath.Join(dir, name)})
			root.SetOut(io.Discard)
			root.SetErr(logs[i])
			done <- root.ExecuteContext(ctx)
		}()
	}
	stopAll := func() {
		cancel()
		for range names {
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("sixd run: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("a node did not stop")
				return
			}
		}
	}
	defer stopAll()
	dev := filepath.Join(dir, "device-0")
	waitFor(t, 30*time.Second, "the device's API", func() bool {
		_, _, err := runCmd(t, "--home", dev, "block", "latest")
		return err == nil
	})
	out, errOut, err := runCmd(t, "tx", "record", "--home", dev, "--stream", "testnet/temp", "--value", "3.5", "--wait", "--timeout", "60s")
	if err != nil || !strings.Contains(out, "committed in block") {
		for i, l := range logs {
			t.Logf("%s log:\n%s", names[i], l.String())
		}
		t.Fatalf("tx record on the testnet: %v\n%s%s", err, out, errOut)
	}
	// An authority holds it too.
	did := idJSON(t, dev).DID
	waitFor(t, 30*time.Second, "the reading on authority-1", func() bool {
		o, _, err := runCmd(t, "--home", filepath.Join(dir, "authority-1"), "records", "--sender", did)
		return err == nil && strings.Contains(o, "3.5")
	})
}
