package ledger

import (
	"context"
	"testing"

	"github.com/sixdomain/sixdomain/contracts"
	"github.com/sixdomain/sixdomain/contracts/examples"
	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/assets"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// benchChain is a committed chain on a memory store for the module
// benchmarks.
type benchChain struct {
	b    *testing.B
	f    *fixture
	s    *Store
	r    Reader
	next map[identity.PublicKey]uint64
}

func newBenchChain(b *testing.B) *benchChain {
	f := newFixture(b, 0)
	s, err := Open(context.Background(), NewMemory(), f.g)
	if err != nil {
		b.Fatal(err)
	}
	return &benchChain{b: b, f: f, s: s, r: programReader{View(s, []identity.PublicKey{f.auth.Public()}), NewPrograms(16)},
		next: map[identity.PublicKey]uint64{}}
}

// programReader adds a program cache to a Reader, as the chain's does.
type programReader struct {
	Reader
	*Programs
}

func (c *benchChain) now() int64 { return c.s.State().LastBlockTime + 1000 }

func (c *benchChain) sign(k *identity.PrivateKey, typ types.TxType, payload []byte) *types.Tx {
	n := c.next[k.Public()]
	if n == 0 {
		n, _ = c.s.Nonce(k.Public())
	}
	n++
	c.next[k.Public()] = n
	tx := &types.Tx{Version: types.TxVersion, ChainID: c.f.p.ChainID, Type: typ, Nonce: n, Timestamp: c.now(), Payload: payload}
	tx.Sign(k)
	return tx
}

// commit proposes, applies and commits a block of txs.
func (c *benchChain) commit(txs []*types.Tx) {
	blk, next, ch, sk, err := Propose(c.s.State(), c.r, c.f.p, txs, c.now(), c.f.auth.Public(), nil)
	if err != nil || len(sk) > 0 {
		c.b.Fatalf("propose: %v %v", err, sk)
	}
	c.f.seal(blk)
	if err := c.s.Commit(context.Background(), blk, next, ch); err != nil {
		c.b.Fatal(err)
	}
}

// benchApply measures Apply of one block of txs (not committed), and
// reports transactions per second.
func (c *benchChain) benchApply(txs []*types.Tx, wantOK bool) {
	st := c.s.State()
	blk, _, ch, sk, err := Propose(st, c.r, c.f.p, txs, c.now(), c.f.auth.Public(), nil)
	if err != nil || len(sk) > 0 || len(blk.Txs) != len(txs) {
		c.b.Fatalf("propose: %v, %d skipped, %d of %d in", err, len(sk), len(blk.Txs), len(txs))
	}
	for _, r := range ch.Receipts {
		if wantOK && r.Status != types.ReceiptOK {
			c.b.Fatalf("receipt %+v", r)
		}
	}
	c.f.seal(blk)
	c.b.ResetTimer()
	for range c.b.N {
		if _, _, err := Apply(st, c.r, c.f.p, blk); err != nil {
			c.b.Fatal(err)
		}
	}
	c.b.StopTimer()
	c.b.ReportMetric(float64(len(txs))*float64(c.b.N)/c.b.Elapsed().Seconds(), "tx/s")
}

const benchModuleTxs = 500

func benchKeys(b *testing.B, n int) []*identity.PrivateKey {
	out := make([]*identity.PrivateKey, n)
	for i := range out {
		out[i] = newKey(b)
	}
	return out
}

// BenchmarkApplyAssetSends: a block of 500 asset sends from 500 holders,
// through Apply (state tree included; signatures are not Apply's).
func BenchmarkApplyAssetSends(b *testing.B) {
	c := newBenchChain(b)
	issuer := newKey(b)
	c.commit([]*types.Tx{c.didTx(issuer)})
	holders := benchKeys(b, benchModuleTxs)
	txs := []*types.Tx{c.sign(issuer, types.TxAsset, (&assets.Op{Kind: assets.OpIssue, Denom: "kwh", MaxSupply: 1 << 40}).Encode())}
	c.commit(txs)
	txs = nil
	for _, h := range holders {
		txs = append(txs, c.sign(issuer, types.TxAsset, (&assets.Op{Kind: assets.OpMint, Denom: "kwh", Amount: 1000, To: h.Public().Bytes()}).Encode()))
	}
	c.commit(txs)
	txs = nil
	for i, h := range holders {
		to := holders[(i+1)%len(holders)].Public().Bytes()
		txs = append(txs, c.sign(h, types.TxAsset, (&assets.Op{Kind: assets.OpSend, Denom: "kwh", Amount: 1, To: to}).Encode()))
	}
	c.benchApply(txs, true)
}

func (c *benchChain) didTx(k *identity.PrivateKey) *types.Tx {
	op := types.DIDOp{Op: types.OpRegister, Subject: k.Public(), Domain: types.DomainUser, Role: types.EntityUser}
	return c.sign(k, types.TxDID, (&op).Encode())
}

func (c *benchChain) deploy(k *identity.PrivateKey, code []byte, args ...any) types.Hash {
	enc, _ := contracts.EncodeArgs(args...)
	n := c.next[k.Public()]
	if n == 0 {
		n, _ = c.s.Nonce(k.Public())
	}
	addr := types.ContractAddress(k.Public(), n+1)
	c.commit([]*types.Tx{c.sign(k, types.TxDeploy, (&types.Deploy{Code: code, InitArgs: enc, GasLimit: 2_000_000}).Encode())})
	return addr
}

func (c *benchChain) call(k *identity.PrivateKey, addr types.Hash, method string, paid []types.Coin, args ...any) *types.Tx {
	enc, _ := contracts.EncodeArgs(args...)
	return c.sign(k, types.TxCall, (&types.Call{Address: addr, Method: method, Args: enc, GasLimit: 200_000, Paid: paid}).Encode())
}

// BenchmarkApplyCounterCalls: a block of 500 counter inc() calls from 500
// callers, through Apply.
func BenchmarkApplyCounterCalls(b *testing.B) {
	c := newBenchChain(b)
	owner := newKey(b)
	addr := c.deploy(owner, examples.Counter, 0)
	var txs []*types.Tx
	for _, k := range benchKeys(b, benchModuleTxs) {
		txs = append(txs, c.call(k, addr, "inc", nil, 1))
	}
	c.benchApply(txs, true)
}

// BenchmarkApplyPayPerReadingDeposits: a block of 500 pay-per-reading
// deposit() calls, each attaching credits (an asset transfer to the
// contract, then contract storage and an event), through Apply.
func BenchmarkApplyPayPerReadingDeposits(b *testing.B) {
	c := newBenchChain(b)
	issuer, dev := newKey(b), newKey(b)
	c.commit([]*types.Tx{c.didTx(issuer), c.didTx(dev)})
	c.commit([]*types.Tx{c.sign(issuer, types.TxAsset, (&assets.Op{Kind: assets.OpIssue, Denom: "credit", MaxSupply: 1 << 40}).Encode())})
	users := benchKeys(b, benchModuleTxs)
	var mint []*types.Tx
	for _, u := range users {
		mint = append(mint, c.sign(issuer, types.TxAsset, (&assets.Op{Kind: assets.OpMint, Denom: "credit", Amount: 1000, To: u.Public().Bytes()}).Encode()))
	}
	c.commit(mint)
	addr := c.deploy(issuer, examples.PayPerReading, dev.Public().DID(), "temp", "credit", 10)
	var txs []*types.Tx
	for _, u := range users {
		txs = append(txs, c.call(u, addr, "deposit", []types.Coin{{Denom: "credit", Amount: 100}}))
	}
	c.benchApply(txs, true)
}
