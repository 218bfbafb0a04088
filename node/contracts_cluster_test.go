package node

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sixdomain/sixdomain/contracts"
	"github.com/sixdomain/sixdomain/contracts/examples"
	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/assets"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// TestHostileContractsOnCluster: on 3 authorities and a device (real
// libp2p hosts, pebble stores), a user deploys and calls hostile contracts
// (a runaway loop, "x" * 10**9, list(range(2**62)), recursion, a huge dict)
// next to a counter and asset sends, while the device keeps recording.
// Every hostile call ends with a metered failure receipt, the device's
// readings keep committing, and every node holds the same receipts and
// state roots.
func TestHostileContractsOnCluster(t *testing.T) {
	c := startCluster(t, 3, 1)
	ctx := context.Background()
	device, dk := c.Nodes[3], c.Keys[3]
	user, err := identity.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	nonce := uint64(0)
	sign := func(typ types.TxType, payload []byte) *types.Tx {
		nonce++
		tx := &types.Tx{Version: types.TxVersion, ChainID: c.Genesis.ChainID, Type: typ, Nonce: nonce, Timestamp: time.Now().UnixMilli(), Payload: payload}
		tx.Sign(user)
		return tx
	}
	submit := func(n *Node, tx *types.Tx) {
		t.Helper()
		if _, err := n.Submit(ctx, tx.Encode()); err != nil {
			t.Fatalf("submit %s: %v", tx.Type, err)
		}
	}
	args := func(v ...any) []byte {
		b, err := contracts.EncodeArgs(v...)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var hostile []*types.Tx
	var all []*types.Tx
	deploy := func(code []byte, init ...any) types.Hash {
		tx := sign(types.TxDeploy, (&types.Deploy{Code: code, InitArgs: args(init...), GasLimit: 3_000_000}).Encode())
		submit(c.Nodes[0], tx)
		all = append(all, tx)
		return types.ContractAddress(user.Public(), tx.Nonce)
	}
	call := func(addr types.Hash, method string) *types.Tx {
		tx := sign(types.TxCall, (&types.Call{Address: addr, Method: method, Args: args(), GasLimit: 3_000_000}).Encode())
		submit(c.Nodes[0], tx)
		all = append(all, tx)
		return tx
	}
	counter := deploy(examples.Counter, 0)
	for _, name := range []string{"runaway_loop", "string_repeat", "list_range_2_62", "recursion", "huge_dict"} {
		code, err := os.ReadFile(filepath.Join("..", "contracts", "testdata", "hostile", name+".star"))
		if err != nil {
			t.Fatal(err)
		}
		p, err := contracts.Check(code)
		if err != nil {
			continue // refused at deploy time: it never runs
		}
		addr := deploy(code)
		for _, m := range p.Exports() {
			hostile = append(hostile, call(addr, m))
		}
	}
	inc := call(counter, "inc")
	issue := sign(types.TxAsset, (&assets.Op{Kind: assets.OpIssue, Denom: "kwh", MaxSupply: 100}).Encode())
	submit(c.Nodes[0], issue)
	all = append(all, issue)
	// The device records throughout.
	var readings []*types.Tx
	for i := 1; i <= 10; i++ {
		tx := recordTx(t, c.Genesis, dk, uint64(i), time.Now(), "r")
		if _, err := device.Submit(ctx, tx.Encode()); err != nil {
			t.Fatal(err)
		}
		readings = append(readings, tx)
		time.Sleep(100 * time.Millisecond)
	}
	committed := func(n *Node, txs []*types.Tx) bool {
		for _, tx := range txs {
			if _, _, err := n.Store().TxLocation(ctx, tx.Hash()); err != nil {
				return false
			}
		}
		return true
	}
	waitFor(t, 90*time.Second, "the readings and the contract transactions to commit on every node", func() bool {
		for _, n := range c.Nodes {
			if !committed(n, readings) || !committed(n, all) {
				return false
			}
		}
		return true
	})
	if len(hostile) == 0 {
		t.Fatal("no hostile contract ran")
	}
	for _, tx := range hostile {
		r, err := c.Nodes[0].Store().Receipt(ctx, tx.Hash())
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != types.ReceiptFailed || r.GasUsed > 3_000_000 {
			t.Errorf("hostile call %s: receipt %+v", tx.Hash(), r)
		}
	}
	if r, err := c.Nodes[0].Store().Receipt(ctx, inc.Hash()); err != nil || r.Status != types.ReceiptOK {
		t.Fatalf("counter inc next to the hostile calls: %+v %v", r, err)
	}
	// Every node computed the same receipts and state roots.
	for _, tx := range all {
		want, err := c.Nodes[0].Store().Receipt(ctx, tx.Hash())
		if err != nil {
			t.Fatal(err)
		}
		for i, n := range c.Nodes[1:] {
			got, err := n.Store().Receipt(ctx, tx.Hash())
			if err != nil || !bytes.Equal(got.Encode(), want.Encode()) {
				t.Fatalf("node %d's receipt of %s differs: %+v vs %+v (%v)", i+1, tx.Hash(), got, want, err)
			}
		}
	}
	h := c.Nodes[0].State().Height
	for i, n := range c.Nodes {
		waitFor(t, 30*time.Second, "every node at the same height", func() bool { return n.State().Height >= h })
		hdr, err := n.Store().Header(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := c.Nodes[0].Store().Header(ctx, h)
		if hdr.StateRoot != want.StateRoot {
			t.Fatalf("node %d's state root at %d differs", i, h)
		}
	}
}
