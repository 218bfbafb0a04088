package ledger

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sixdomain/sixdomain/contracts"
	"github.com/sixdomain/sixdomain/contracts/examples"
	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/assets"
	"github.com/sixdomain/sixdomain/ledger/types"
)

func (c *regChain) nextNonce(k *identity.PrivateKey) uint64 {
	c.t.Helper()
	n, err := c.s.Nonce(k.Public())
	if err != nil {
		c.t.Fatal(err)
	}
	return n + 1
}

func (c *regChain) deployTx(sender *identity.PrivateKey, code []byte, gas uint64, args ...any) (*types.Tx, types.Hash) {
	c.t.Helper()
	enc, err := contracts.EncodeArgs(args...)
	if err != nil {
		c.t.Fatal(err)
	}
	n := c.nextNonce(sender)
	d := &types.Deploy{Code: code, InitArgs: enc, GasLimit: gas}
	tx := &types.Tx{Version: types.TxVersion, ChainID: c.f.p.ChainID, Type: types.TxDeploy, Nonce: n, Timestamp: c.now(), Payload: d.Encode()}
	tx.Sign(sender)
	return tx, types.ContractAddress(sender.Public(), n)
}

func (c *regChain) callTx(sender *identity.PrivateKey, addr types.Hash, method string, gas uint64, paid []types.Coin, args ...any) *types.Tx {
	c.t.Helper()
	enc, err := contracts.EncodeArgs(args...)
	if err != nil {
		c.t.Fatal(err)
	}
	call := &types.Call{Address: addr, Method: method, Args: enc, GasLimit: gas, Paid: paid}
	tx := &types.Tx{Version: types.TxVersion, ChainID: c.f.p.ChainID, Type: types.TxCall, Nonce: c.nextNonce(sender), Timestamp: c.now(), Payload: call.Encode()}
	tx.Sign(sender)
	return tx
}

func (c *regChain) receipt(tx *types.Tx) *types.Receipt {
	c.t.Helper()
	r, err := c.s.Receipt(context.Background(), tx.Hash())
	if err != nil {
		c.t.Fatal(err)
	}
	return r
}

func returned(t *testing.T, r *types.Receipt) any {
	t.Helper()
	v, err := contracts.DecodeValue(r.Return)
	if err != nil {
		t.Fatalf("return value %x: %v", r.Return, err)
	}
	return v
}

// TestContractTransactions deploys and calls contracts through Propose,
// Apply and Commit: receipts carry gas, return values and events; a
// failing call (fail(), out of gas) is included with a failure receipt,
// consumes its nonce and leaves the contract's storage as it was; the
// state root covers contract storage.
func TestContractTransactions(t *testing.T) {
	c := newRegChain(t, false)
	user := newKey(t)
	dep, addr := c.deployTx(user, examples.Counter, 1_000_000, 5)
	c.must(dep)
	r := c.receipt(dep)
	if r.Status != types.ReceiptOK || r.Address == nil || *r.Address != addr || r.GasUsed == 0 {
		t.Fatalf("deploy receipt %+v", r)
	}
	inc := c.callTx(user, addr, "inc", 1_000_000, nil, 3)
	c.must(inc)
	if r := c.receipt(inc); r.Status != types.ReceiptOK || len(r.Events) != 1 || r.Events[0].Topic != "inc" {
		t.Fatalf("inc receipt %+v", r)
	} else if v := returned(t, r); v != uint64(8) {
		t.Fatalf("inc returned %v (%T)", v, v)
	}
	root := c.s.State().StateRoot

	// fail(): included, nonce consumed, storage unchanged.
	bad := c.callTx(user, addr, "inc", 1_000_000, nil, -1)
	c.must(bad)
	if r := c.receipt(bad); r.Status != types.ReceiptFailed || r.Reason != "contract_failed" || r.GasUsed == 0 || r.Return != nil {
		t.Fatalf("failing call receipt %+v", r)
	}
	get := c.callTx(user, addr, "get", 1_000_000, nil)
	c.must(get)
	if v := returned(t, c.receipt(get)); v != uint64(8) {
		t.Fatalf("count after a failed call: %v", v)
	}
	if c.s.State().StateRoot == root {
		t.Fatal("state root unchanged by the nonces")
	}
	if v, err := c.s.StateGet(ContractStorageKey(addr, []byte("count"))); err != nil || v == nil {
		t.Fatalf("contract storage not in the state: %x %v", v, err)
	}
	// Unknown method and unknown contract: failure receipts.
	nm := c.callTx(user, addr, "nope", 100_000, nil)
	c.must(nm)
	if r := c.receipt(nm); r.Reason != "no_method" {
		t.Fatalf("unknown method: %+v", r)
	}
	nc := c.callTx(user, types.Hash{1}, "get", 100_000, nil)
	c.must(nc)
	if r := c.receipt(nc); r.Status != types.ReceiptFailed || !strings.HasPrefix(r.Reason, "host_rule") {
		t.Fatalf("no contract: %+v", r)
	}
	// Code that fails the deploy-time checks is refused outright, as is a
	// gas limit above the bound.
	badCode, _ := c.deployTx(user, []byte("x = 1.5\nEXPORTS = []\n"), 100_000)
	c.refuse(types.ErrBadPayload, badCode)
	tooMuch := c.callTx(user, addr, "get", DefaultMaxTxGas+1, nil)
	c.refuse(types.ErrBadPayload, tooMuch)
}

// TestHostileContractsThroughLedger: every hostile contract of the
// engine's corpus, deployed and called through the ledger, ends in a
// failure receipt (or a refused deploy for code the checks reject) and the
// chain goes on committing blocks.
func TestHostileContractsThroughLedger(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "contracts", "testdata", "hostile", "*.star"))
	if err != nil || len(files) == 0 {
		t.Fatalf("hostile corpus: %v (%d files)", err, len(files))
	}
	c := newRegChain(t, false)
	user := newKey(t)
	for _, f := range files {
		code, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(f)
		if _, err := contracts.Check(code); err != nil {
			d, _ := c.deployTx(user, code, 2_000_000)
			c.refuse(types.ErrBadPayload, d)
			continue
		}
		d, addr := c.deployTx(user, code, 2_000_000)
		c.must(d)
		if r := c.receipt(d); r.Status != types.ReceiptOK {
			if r.GasUsed > 2_000_000 {
				t.Errorf("%s: init used %d gas of 2,000,000", name, r.GasUsed)
			}
			continue // init itself was the attack, and failed
		}
		p, _ := contracts.Check(code)
		for _, m := range p.Exports() {
			call := c.callTx(user, addr, m, 2_000_000, nil)
			c.must(call)
			r := c.receipt(call)
			if r.GasUsed > 2_000_000 {
				t.Errorf("%s.%s used %d gas of 2,000,000", name, m, r.GasUsed)
			}
		}
	}
	if h := c.s.State().Height; h < uint64(len(files)) {
		t.Fatalf("only %d blocks for %d hostile contracts", h, len(files))
	}
}

// TestPayPerReadingThroughLedger runs the pay-per-reading example: a user
// deposits credits by attaching them to a call, the device records
// readings, and claim pays the device's owner (its DID's controller) per
// reading that the ledger holds — not for a height without one.
func TestPayPerReadingThroughLedger(t *testing.T) {
	c := newRegChain(t, false)
	owner, dev, user := newKey(t), newKey(t), newKey(t)
	c.must(c.didTx(owner, register(owner.Public(), types.DomainOperations, types.EntityUser)))
	c.must(c.didTx(dev, types.DIDOp{Op: types.OpRegister, Subject: dev.Public(), Domain: types.DomainSensing,
		Role: types.EntityDevice, Controllers: []identity.PublicKey{owner.Public()}, Threshold: 1}))
	c.must(c.didTx(user, register(user.Public(), types.DomainUser, types.EntityUser)))
	c.must(c.assetTx(user, &assets.Op{Kind: assets.OpIssue, Denom: "credit", MaxSupply: 1_000_000}))
	c.must(c.assetTx(user, &assets.Op{Kind: assets.OpMint, Denom: "credit", Amount: 1000, To: user.Public().Bytes()}))
	dep, addr := c.deployTx(user, examples.PayPerReading, 2_000_000, dev.Public().DID(), "temp", "credit", 10)
	c.must(dep)
	if r := c.receipt(dep); r.Status != types.ReceiptOK {
		t.Fatalf("deploy: %+v", r)
	}
	d := c.callTx(user, addr, "deposit", 2_000_000, []types.Coin{{Denom: "credit", Amount: 100}})
	c.must(d)
	if r := c.receipt(d); r.Status != types.ReceiptOK {
		t.Fatalf("deposit: %+v", r)
	}
	c.must(c.recordTx(dev))
	h1 := c.s.State().Height
	c.must(c.recordTx(dev))
	h2 := c.s.State().Height
	claim := c.callTx(user, addr, "claim", 2_000_000, nil, user.Public().DID(), []any{h1, h2})
	c.must(claim)
	if r := c.receipt(claim); r.Status != types.ReceiptOK {
		t.Fatalf("claim: %+v", r)
	}
	bal, err := assets.Balance(storeKV{c.s}, "credit", assets.Account(owner.Public()))
	if err != nil || bal != 20 {
		t.Fatalf("owner's balance %d (%v), want 20", bal, err)
	}
	// A height without a reading is not paid; nor is one paid twice.
	noReading := c.callTx(user, addr, "claim", 2_000_000, nil, user.Public().DID(), []any{h1 - 1})
	c.must(noReading)
	if r := c.receipt(noReading); r.Status != types.ReceiptFailed {
		t.Fatalf("claim without a reading: %+v", r)
	}
	twice := c.callTx(user, addr, "claim", 2_000_000, nil, user.Public().DID(), []any{h2})
	c.must(twice)
	if r := c.receipt(twice); r.Status != types.ReceiptFailed {
		t.Fatalf("claim twice: %+v", r)
	}
	if err := assets.CheckInvariants(storeKV{c.s}, storeRegistry{c.s}); err != nil {
		t.Fatal(err)
	}
}
