package ledger

import (
	"context"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/assets"
	"github.com/sixdomain/sixdomain/ledger/smt"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// assetTx builds sender's next asset transaction.
func (c *regChain) assetTx(sender *identity.PrivateKey, op *assets.Op) *types.Tx {
	c.t.Helper()
	n, err := c.s.Nonce(sender.Public())
	if err != nil {
		c.t.Fatal(err)
	}
	tx := &types.Tx{Version: types.TxVersion, ChainID: c.f.p.ChainID, Type: types.TxAsset, Nonce: n + 1,
		Timestamp: c.now(), Payload: op.Encode()}
	tx.Sign(sender)
	return tx
}

// storeKV is the committed module state of a store, iterable for the
// invariants.
type storeKV struct{ s *Store }

func (k storeKV) Get(key []byte) ([]byte, error) { return k.s.StateGet(key) }
func (k storeKV) Set([]byte, []byte)             { panic("read only") }
func (k storeKV) Iterate(prefix []byte, fn func(key, value []byte) error) error {
	keys, vals, err := k.s.listPrefix(context.Background(), kvRoot)
	if err != nil {
		return err
	}
	for i, hk := range keys {
		key, err := hex.DecodeString(strings.TrimPrefix(hk, kvRoot))
		if err != nil {
			return err
		}
		if strings.HasPrefix(string(key), string(prefix)) {
			if err := fn(key, vals[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

type storeRegistry struct{ s *Store }

func (r storeRegistry) Lookup(id assets.Account) (*types.DIDRecord, error) {
	rec, err := r.s.DID(identity.PublicKey(id))
	if err != nil || rec == nil || rec.ID != identity.PublicKey(id) {
		return nil, err
	}
	return rec, nil
}
func (r storeRegistry) AdmissionRequired() bool { return false }

// TestAssetTransactions runs asset operations through Propose, Apply and
// Commit: a refused operation is included with a failure receipt and
// consumes its nonce; balances are in the state tree (provable); a device
// asset's transfer hands its DID's control over in the same transaction;
// the module's invariants hold after every block.
func TestAssetTransactions(t *testing.T) {
	c := newRegChain(t, false)
	ctx := context.Background()
	issuer, buyer, dev := newKey(t), newKey(t), newKey(t)
	check := func() {
		t.Helper()
		if err := assets.CheckInvariants(storeKV{c.s}, storeRegistry{c.s}); err != nil {
			t.Fatal(err)
		}
	}
	receipt := func(tx *types.Tx) *types.Receipt {
		t.Helper()
		r, err := c.s.Receipt(ctx, tx.Hash())
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	balance := func(k identity.PublicKey) uint64 {
		t.Helper()
		n, err := assets.Balance(storeKV{c.s}, "kwh", assets.Account(k))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	c.must(c.didTx(issuer, register(issuer.Public(), types.DomainOperations, types.EntityUser)))
	c.must(c.didTx(dev, types.DIDOp{Op: types.OpRegister, Subject: dev.Public(), Domain: types.DomainSensing,
		Role: types.EntityDevice, Controllers: []identity.PublicKey{issuer.Public()}, Threshold: 1}))
	issue := c.assetTx(issuer, &assets.Op{Kind: assets.OpIssue, Denom: "kwh", Decimals: 3, MaxSupply: 1000})
	c.must(issue)
	if r := receipt(issue); r.Status != types.ReceiptOK {
		t.Fatalf("issue receipt %+v", r)
	}
	mint := c.assetTx(issuer, &assets.Op{Kind: assets.OpMint, Denom: "kwh", Amount: 500, To: issuer.Public().Bytes()})
	c.must(mint)
	send := c.assetTx(issuer, &assets.Op{Kind: assets.OpSend, Denom: "kwh", Amount: 120, To: buyer.Public().Bytes()})
	c.must(send)
	check()
	if b, i := balance(buyer.Public()), balance(issuer.Public()); b != 120 || i != 380 {
		t.Fatalf("balances buyer %d issuer %d", b, i)
	}

	// A send above the balance is included, fails, consumes the nonce and
	// changes nothing else.
	root := c.s.State().StateRoot
	before, _ := c.s.Nonce(buyer.Public())
	over := c.assetTx(buyer, &assets.Op{Kind: assets.OpSend, Denom: "kwh", Amount: 121, To: issuer.Public().Bytes()})
	c.must(over)
	r := receipt(over)
	if r.Status != types.ReceiptFailed || r.Reason == "" || r.Height != c.s.State().Height {
		t.Fatalf("failed send receipt %+v", r)
	}
	if n, _ := c.s.Nonce(buyer.Public()); n != before+1 {
		t.Fatalf("nonce %d after a failed operation, want %d", n, before+1)
	}
	if balance(buyer.Public()) != 120 {
		t.Fatal("a failed send moved funds")
	}
	if c.s.State().StateRoot == root {
		t.Fatal("the nonce change did not change the state root")
	}
	check()

	// The buyer's balance is provable against the state root.
	sp, err := c.s.StateProof(ctx, assets.BalanceKey("kwh", assets.Account(buyer.Public())), 0)
	if err != nil {
		t.Fatal(err)
	}
	p, err := smt.DecodeProof(sp.Proof)
	if err != nil {
		t.Fatal(err)
	}
	hdr, _ := types.DecodeHeader(sp.Header)
	if !sp.Present {
		t.Fatal("balance absent from the state proof")
	}
	if err := p.Verify(smt.Hash(hdr.StateRoot), sp.Key, sp.Value); err != nil {
		t.Fatal(err)
	}

	// Device-bound asset: bind, then transfer to the buyer, who becomes
	// the device DID's controller in the same transaction.
	c.must(c.assetTx(issuer, &assets.Op{Kind: assets.OpBindDevice, Account: dev.Public().Bytes()}))
	check()
	xfer := c.assetTx(issuer, &assets.Op{Kind: assets.OpTransferDevice, Account: dev.Public().Bytes(), To: buyer.Public().Bytes()})
	c.must(xfer)
	if r := receipt(xfer); r.Status != types.ReceiptOK {
		t.Fatalf("transfer receipt %+v", r)
	}
	rec := c.rec(dev.Public())
	if len(rec.Controllers) != 1 || rec.Controllers[0] != buyer.Public() || rec.TxHash != xfer.Hash() {
		t.Fatalf("device DID after the transfer: controllers %v, tx %s", rec.Controllers, rec.TxHash)
	}
	check()
	// The old owner can no longer transfer it: a failure receipt.
	again := c.assetTx(issuer, &assets.Op{Kind: assets.OpTransferDevice, Account: dev.Public().Bytes(), To: issuer.Public().Bytes()})
	c.must(again)
	if r := receipt(again); r.Status != types.ReceiptFailed {
		t.Fatalf("a transfer by the old owner: %+v", r)
	}
	check()
	// An undecodable operation is refused outright (never included).
	bad := c.assetTx(buyer, &assets.Op{Kind: 99})
	c.refuse(types.ErrBadPayload, bad)
}
