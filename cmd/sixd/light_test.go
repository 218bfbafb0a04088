package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/node"
	"github.com/sixdomain/sixdomain/node/light"
)

// TestRunLight: `sixd init --role light` and `sixd run` start a light node
// that records a reading, posted to its API, through its gateway.
func TestRunLight(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node and a light node")
	}
	wantFail(t, []string{"init", "--role", "light", "--home", filepath.Join(t.TempDir(), "l")}, "--genesis")

	gwHome := initHome(t, "gateway")
	key, err := identity.LoadKeyFile(filepath.Join(gwHome, "node.key"))
	if err != nil {
		t.Fatal(err)
	}
	g, err := types.LoadGenesis(filepath.Join(gwHome, "genesis.toml"))
	if err != nil {
		t.Fatal(err)
	}
	gw, err := node.New(context.Background(), key, g, node.WithListenAddrs("/ip4/127.0.0.1/tcp/0"), node.WithMDNS(false),
		node.WithDataDir(t.TempDir()), node.WithDHT(node.DHTOff))
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	gwAddr := gw.Host().Addrs()[0].String() + "/p2p/" + gw.ID().String()

	home := initHome(t, "light", "--genesis", filepath.Join(gwHome, "genesis.toml"), "--bootstrap", gwAddr)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	root := newRootCmd()
	root.SetArgs([]string{"run", "--home", home})
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	apiRE := regexp.MustCompile(`msg="sixd running".* role=light .* api=(\S+)`)
	var api string
	for deadline := time.Now().Add(30 * time.Second); api == ""; {
		if m := apiRE.FindStringSubmatch(stderr.String()); m != nil {
			api = "http://" + m[1]
			break
		}
		select {
		case err := <-done:
			t.Fatalf("run exited early: %v\n%s", err, stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("run did not log its API address:\n%s", stderr.String())
		}
	}
	body, _ := json.Marshal(light.ReadingRequest{Stream: "temp", Value: "21.5"})
	resp, err := http.Post(api+"/v1/readings", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var rr light.ReadingResponse
	if err := json.NewDecoder(resp.Body).Decode(&rr); err != nil || resp.StatusCode != http.StatusAccepted || rr.Nonce != 1 {
		t.Fatalf("POST /v1/readings: %d %+v %v", resp.StatusCode, rr, err)
	}
	resp.Body.Close()
	var st light.Status
	// Recorded, and following the final head (the reading may be proven
	// before the first head is).
	for deadline := time.Now().Add(60 * time.Second); st.Recorded != 1 || st.Finalized == 0; {
		r, err := http.Get(api + "/v1/status")
		if err != nil {
			t.Fatal(err)
		}
		st = light.Status{}
		if err := json.NewDecoder(r.Body).Decode(&st); err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if time.Now().After(deadline) {
			t.Fatalf("reading not recorded: %+v\n%s", st, stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st.Gateway != gw.ID().String() || st.Finalized == 0 || st.Queued != 0 {
		t.Errorf("light status %+v", st)
	}
	if _, _, _, err := gw.Store().Tx(ctx, rr.Hash); err != nil {
		t.Errorf("the gateway's chain lacks the reading: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop")
	}
	if !strings.Contains(stderr.String(), "msg=stopped") {
		t.Errorf("run did not log its stop:\n%s", stderr.String())
	}
}
