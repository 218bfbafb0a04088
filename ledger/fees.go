package ledger

import (
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/assets"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// Fees (a genesis with [fees]; docs/PROTOCOL.md, Fees). Every transaction
// that is not free has gas IntrinsicGas + TxByteGas × its encoding's size
// (+ what a contract runs) and pays Fee(gas) in the fee denomination. Its
// payer — its sender, or the sponsor of a fee grant to it — must hold the
// largest fee (its gas limit's) when it is checked: that amount moves to
// an escrow account while the transaction runs (the transaction sees the
// payer's balance without it), then the actual fee goes to the sealing
// authority, less the gateway's share, and the rest back to the payer. A
// transaction whose own operation fails still pays.

const (
	feePrefix      = "fee/"
	feeGrantPrefix = "fee/grant/"
)

// FeeGrantKey is the state-tree key of the fee grant to grantee: CBOR
// [sponsor account, allowance left, expires].
func FeeGrantKey(grantee identity.PublicKey) []byte {
	return append([]byte(feeGrantPrefix), grantee[:]...)
}

type feeGrant struct {
	_         struct{} `cbor:",toarray"`
	Sponsor   assets.Account
	Allowance uint64
	Expires   uint64
}

// Reserved accounts: the issuer of the genesis fee denomination (it mints
// only through allocations and block rewards), and the escrow of the fee
// of the transaction being applied (empty between transactions).
var (
	protocolAccount = assets.Account(sha256.Sum256([]byte("SIXDOMAIN-PROTOCOL-V1")))
	feeEscrow       = assets.Account(sha256.Sum256([]byte("SIXDOMAIN-FEE-ESCROW-V1")))
)

// feeState is one transaction's fee reservation.
type feeState struct {
	layer *txKV // the reservation's writes, under the transaction's own
	payer assets.Account
	max   uint64
	grant *feeGrant // the grant that pays, or nil
}

// txFree reports whether tx pays no fee.
func (a *applier) txFree(tx *types.Tx) bool {
	f := a.p.Fees
	if f == nil {
		return true
	}
	switch tx.Type {
	case types.TxDataRecord, types.TxDID, types.TxEvidence:
		return f.FreeRecords
	}
	return false
}

// txGas is a transaction's gas besides what a contract runs.
func txGas(tx *types.Tx) uint64 {
	return types.IntrinsicGas + types.TxByteGas*uint64(len(tx.Encode()))
}

func (a *applier) readGrant(kv assets.KV, grantee identity.PublicKey) (*feeGrant, error) {
	raw, err := kv.Get(FeeGrantKey(grantee))
	if err != nil || raw == nil {
		return nil, err
	}
	var g feeGrant
	if err := decMode.Unmarshal(raw, &g); err != nil {
		return nil, fmt.Errorf("%w: fee grant of %s: %v", assets.ErrCorrupt, grantee.DID(), err)
	}
	return &g, nil
}

// reserveFee moves tx's largest fee from its payer to the escrow, in a
// layer of its own. nil when tx is free.
func (a *applier) reserveFee(tx *types.Tx) (*feeState, bool, error) {
	if a.txFree(tx) {
		return nil, false, nil
	}
	f := a.p.Fees
	max := f.Fee(txGas(tx) + gasLimitOf(tx))
	sender, err := a.accountOf(tx.Sender)
	if err != nil {
		return nil, true, err
	}
	try := func(payer assets.Account) (*txKV, error) {
		layer := &txKV{a: a, w: map[string][]byte{}}
		err := assets.ChargeFee(layer, f.Denom, payer, feeEscrow, assets.Account{}, max, 0)
		if layer.err != nil {
			return nil, layer.err
		}
		return layer, err
	}
	probe := &txKV{a: a, w: map[string][]byte{}}
	g, err := a.readGrant(probe, tx.Sender)
	if probe.err != nil || (err != nil && !errors.Is(err, assets.ErrCorrupt)) {
		return nil, true, errors.Join(probe.err, err)
	}
	if err != nil {
		return nil, true, err
	}
	if g != nil && (g.Expires == 0 || g.Expires >= a.height) && g.Allowance >= max {
		layer, err := try(g.Sponsor)
		if err == nil {
			return &feeState{layer: layer, payer: g.Sponsor, max: max, grant: g}, false, nil
		}
		if layer == nil || !assets.Refused(err) {
			return nil, true, err
		}
		// The sponsor cannot pay: the sender pays, if it can.
	}
	layer, err := try(sender)
	if err != nil {
		if layer == nil || !assets.Refused(err) {
			return nil, true, err
		}
		return nil, false, fmt.Errorf("%w: %s cannot pay a fee of %d %s: %v", types.ErrInsufficientFee, tx.Sender.DID(), max, f.Denom, err)
	}
	return &feeState{layer: layer, payer: sender, max: max}, false, nil
}

// settleFee pays the actual fee for gas out of the escrow: to the sealing
// authority, less the gateway's share, and the rest back to the payer; a
// grant's allowance goes down by the fee. It returns the fee.
func (a *applier) settleFee(tx *types.Tx, fs *feeState, gas uint64) uint64 {
	f := a.p.Fees
	fee := min(f.Fee(txGas(tx)+gas), fs.max)
	kv := &txKV{a: a, w: map[string][]byte{}}
	gateway := a.gatewayOf(tx.Sender)
	err := errors.Join(
		assets.ChargeFee(kv, f.Denom, feeEscrow, a.proposer, gateway, fee, f.GatewayShareBps),
		assets.ChargeFee(kv, f.Denom, feeEscrow, fs.payer, assets.Account{}, fs.max-fee, 0))
	if fs.grant != nil {
		g := *fs.grant
		g.Allowance -= fee
		if g.Allowance == 0 {
			kv.Set(FeeGrantKey(tx.Sender), nil)
		} else {
			kv.Set(FeeGrantKey(tx.Sender), mustMarshal(g))
		}
	}
	if err = errors.Join(err, kv.err); err != nil {
		a.fail(fmt.Errorf("ledger: settling the fee of %s: %w", tx.Hash(), err))
		return fee
	}
	a.acceptKV(kv.w)
	return fee
}

// gatewayOf is the gateway whose share a sender's fees give: the sender's
// DID's first controller when it is another DID registered as a gateway.
func (a *applier) gatewayOf(sender identity.PublicKey) assets.Account {
	rec, err := a.did(sender)
	if err != nil || rec == nil || len(rec.Controllers) == 0 || rec.Controllers[0] == rec.ID {
		return assets.Account{}
	}
	gw, err := a.did(rec.Controllers[0])
	if err != nil || gw == nil || gw.Role != types.EntityGateway || gw.Revoked || gw.Deactivated {
		return assets.Account{}
	}
	return assets.Account(gw.ID)
}

// beginFees creates the fee denomination and its allocations at block 1.
func (a *applier) beginFees() error {
	f := a.p.Fees
	if f == nil || a.height != 1 {
		return nil
	}
	kv := &txKV{a: a, w: map[string][]byte{}}
	err := assets.InitDenom(kv, f.Denom, assets.Denom{Issuer: protocolAccount, MaxSupply: f.MaxSupply, Mint: assets.PowerRenounced})
	for _, al := range f.Allocations {
		if err != nil {
			break
		}
		var k identity.PublicKey
		if k, err = identity.ParseDID(al.Account); err == nil {
			_, err = assets.Reward(kv, f.Denom, assets.Account(k), al.Amount)
		}
	}
	if err = errors.Join(err, kv.err); err != nil {
		return fmt.Errorf("ledger: the genesis fee denomination: %w", err)
	}
	a.acceptKV(kv.w)
	return nil
}

// endFees mints the block reward to the sealing authority.
func (a *applier) endFees() error {
	f := a.p.Fees
	if f == nil || f.BlockReward == 0 {
		return a.err
	}
	kv := &txKV{a: a, w: map[string][]byte{}}
	_, err := assets.Reward(kv, f.Denom, a.proposer, f.BlockReward)
	if err = errors.Join(a.err, err, kv.err); err != nil {
		return fmt.Errorf("ledger: the block reward: %w", err)
	}
	a.acceptKV(kv.w)
	return nil
}

// checkGrant runs a fee grant: the sender sponsors the grantee, replacing
// its own grant (allowance 0 revokes it); another sponsor's live grant
// stays (a failure receipt).
func (a *applier) checkGrant(tx *types.Tx) (*assetOutcome, bool, error) {
	g, err := types.DecodeFeeGrant(tx.Payload)
	if err != nil {
		return nil, false, err
	}
	sponsor, err := a.accountOf(tx.Sender)
	if err != nil {
		return nil, true, err
	}
	kv := a.newTxKV()
	cur, err := a.readGrant(kv, g.Grantee)
	if kv.err != nil || err != nil {
		return nil, true, errors.Join(kv.err, err)
	}
	if cur != nil && cur.Sponsor != sponsor && (cur.Expires == 0 || cur.Expires >= a.height) {
		return &assetOutcome{err: fmt.Errorf("%w: %s already has a live grant from another sponsor", errGrantTaken, g.Grantee.DID())}, false, nil
	}
	if g.Allowance == 0 {
		kv.Set(FeeGrantKey(g.Grantee), nil)
	} else {
		kv.Set(FeeGrantKey(g.Grantee), mustMarshal(feeGrant{Sponsor: sponsor, Allowance: g.Allowance, Expires: g.Expires}))
	}
	return &assetOutcome{writes: kv.w}, false, nil
}

// errGrantTaken: the grantee has another sponsor's live grant.
var errGrantTaken = errors.New("fee grant taken")

// fail records an internal failure of the block's application (a broken
// invariant of the fee escrow); Apply and Propose return it.
func (a *applier) fail(err error) {
	if a.err == nil {
		a.err = err
	}
}
