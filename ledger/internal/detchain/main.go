// Command detchain runs a fixed script of blocks through the ledger's
// state transition — DID registrations, native-asset operations, contract
// deploys and calls (the examples and a hostile contract), data records —
// with Propose, Apply and Commit over an in-memory store, and prints, per
// block, its hash, state root and receipts as JSON. Everything is derived
// from fixed seeds and times, so the output is a pure function of the
// code: ledger's TestStateTransitionCrossArch builds it for GOARCH=amd64
// and GOARCH=386 and compares the outputs byte for byte.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"time"

	"github.com/sixdomain/sixdomain/contracts"
	"github.com/sixdomain/sixdomain/contracts/examples"
	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger"
	"github.com/sixdomain/sixdomain/ledger/assets"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// Block is one line of the output.
type Block struct {
	Height    uint64          `json:"height"`
	Hash      types.Hash      `json:"hash"`
	StateRoot types.Hash      `json:"state_root"`
	Txs       int             `json:"txs"`
	Receipts  []types.Receipt `json:"receipts,omitempty"`
}

func key(name string) *identity.PrivateKey {
	seed := sha256.Sum256([]byte("detchain/" + name))
	k, err := identity.FromSeed(seed[:])
	if err != nil {
		panic(err)
	}
	return k
}

type chain struct {
	s     *ledger.Store
	p     ledger.Params
	auth  *identity.PrivateKey
	auths []identity.PublicKey
	next  map[identity.PublicKey]uint64
	out   []Block
}

func (c *chain) now() int64 { return c.s.State().LastBlockTime + 1000 }

// nonce assigns k's next nonce, counting the ones given to transactions
// not committed yet.
func (c *chain) nonce(k *identity.PrivateKey) uint64 {
	last, ok := c.next[k.Public()]
	if !ok {
		n, err := c.s.Nonce(k.Public())
		if err != nil {
			panic(err)
		}
		last = n
	}
	c.next[k.Public()] = last + 1
	return last + 1
}

func (c *chain) sign(k *identity.PrivateKey, typ types.TxType, payload []byte, nonce uint64) *types.Tx {
	tx := &types.Tx{Version: types.TxVersion, ChainID: c.p.ChainID, Type: typ, Nonce: nonce, Timestamp: c.now(), Payload: payload}
	tx.Sign(k)
	return tx
}

func (c *chain) block(txs ...*types.Tx) {
	ctx := context.Background()
	st := c.s.State()
	r := ledger.View(c.s, c.auths)
	b, next, ch, skipped, err := ledger.Propose(st, r, c.p, txs, c.now(), c.auth.Public(), nil)
	if err != nil {
		panic(err)
	}
	if len(skipped) > 0 {
		panic(fmt.Sprintf("block %d: skipped %v", st.Height+1, skipped[0].Err))
	}
	b.Seal = c.auth.Sign(b.Header.SealBytes())
	next2, ch2, err := ledger.Apply(st, r, c.p, b)
	if err != nil || next2 != next || !reflect.DeepEqual(ch, ch2) {
		panic(fmt.Sprintf("block %d: Apply disagrees with Propose: %v", st.Height+1, err))
	}
	if err := c.s.Commit(ctx, b, next, ch); err != nil {
		panic(err)
	}
	c.out = append(c.out, Block{Height: b.Header.Height, Hash: b.Hash(), StateRoot: next.StateRoot, Txs: len(b.Txs), Receipts: ch.Receipts})
}

func args(v ...any) []byte {
	b, err := contracts.EncodeArgs(v...)
	if err != nil {
		panic(err)
	}
	return b
}

func main() {
	auth, owner, dev, user := key("authority"), key("owner"), key("device"), key("user")
	g := types.NewGenesis("detchain", time.UnixMilli(1_750_000_000_000).UTC(), auth.Public())
	s, err := ledger.Open(context.Background(), ledger.NewMemory(), g)
	if err != nil {
		panic(err)
	}
	c := &chain{s: s, p: ledger.ParamsFromGenesis(g), auth: auth, auths: []identity.PublicKey{auth.Public()}, next: map[identity.PublicKey]uint64{}}

	reg := func(k *identity.PrivateKey, op types.DIDOp) *types.Tx {
		tx, err := types.NewDIDTx(c.p.ChainID, c.nonce(k), c.now(), &op)
		if err != nil {
			panic(err)
		}
		tx.Sign(k)
		return tx
	}
	asset := func(k *identity.PrivateKey, op *assets.Op) *types.Tx {
		return c.sign(k, types.TxAsset, op.Encode(), c.nonce(k))
	}
	deploy := func(k *identity.PrivateKey, code []byte, gas uint64, a ...any) (*types.Tx, types.Hash) {
		n := c.nonce(k)
		d := &types.Deploy{Code: code, InitArgs: args(a...), GasLimit: gas}
		return c.sign(k, types.TxDeploy, d.Encode(), n), types.ContractAddress(k.Public(), n)
	}
	call := func(k *identity.PrivateKey, addr types.Hash, method string, gas uint64, paid []types.Coin, a ...any) *types.Tx {
		cl := &types.Call{Address: addr, Method: method, Args: args(a...), GasLimit: gas, Paid: paid}
		return c.sign(k, types.TxCall, cl.Encode(), c.nonce(k))
	}
	record := func(k *identity.PrivateKey, v string) *types.Tx {
		tx, err := types.NewDataRecordTx(c.p.ChainID, c.nonce(k), c.now(), types.DataRecord{Stream: "temp", Value: []byte(v)})
		if err != nil {
			panic(err)
		}
		tx.Sign(k)
		return tx
	}

	c.block(reg(owner, types.DIDOp{Op: types.OpRegister, Subject: owner.Public(), Domain: types.DomainOperations, Role: types.EntityUser}))
	c.block(reg(dev, types.DIDOp{Op: types.OpRegister, Subject: dev.Public(), Domain: types.DomainSensing, Role: types.EntityDevice,
		Controllers: []identity.PublicKey{owner.Public()}, Threshold: 1}),
		reg(user, types.DIDOp{Op: types.OpRegister, Subject: user.Public(), Domain: types.DomainUser, Role: types.EntityUser}))
	c.block(asset(user, &assets.Op{Kind: assets.OpIssue, Denom: "credit", Decimals: 2, MaxSupply: 1 << 40, Powers: assets.PowerFreeze}))
	c.block(asset(user, &assets.Op{Kind: assets.OpMint, Denom: "credit", Amount: 1_000_000, To: user.Public().Bytes()}))
	ctr, ctrAddr := deploy(owner, examples.Counter, 2_000_000, 7)
	ppr, pprAddr := deploy(user, examples.PayPerReading, 2_000_000, dev.Public().DID(), "temp", "credit", 25)
	c.block(ctr, ppr)
	c.block(call(owner, ctrAddr, "inc", 1_000_000, nil, 5), call(user, pprAddr, "deposit", 1_000_000, []types.Coin{{Denom: "credit", Amount: 500}}))
	c.block(record(dev, "21.5"))
	h1 := c.s.State().Height
	c.block(record(dev, "21.7"), call(owner, ctrAddr, "inc", 1_000_000, nil, -1))
	h2 := c.s.State().Height
	c.block(call(user, pprAddr, "claim", 2_000_000, nil, user.Public().DID(), []any{h1, h2}),
		asset(owner, &assets.Op{Kind: assets.OpBindDevice, Account: dev.Public().Bytes()}))
	loop := []byte("EXPORTS = [\"spin\"]\ndef spin():\n    n = 0\n    for i in range(1000000000):\n        n += i\n    return n\n")
	hostile, hAddr := deploy(user, loop, 1_000_000)
	c.block(hostile, asset(owner, &assets.Op{Kind: assets.OpTransferDevice, Account: dev.Public().Bytes(), To: user.Public().Bytes()}))
	c.block(call(user, hAddr, "spin", 3_000_000, nil), call(user, pprAddr, "withdraw", 1_000_000, nil),
		asset(user, &assets.Op{Kind: assets.OpSend, Denom: "credit", Amount: 2_000_000, To: owner.Public().Bytes()}))

	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	if err := enc.Encode(c.out); err != nil {
		panic(err)
	}
}
