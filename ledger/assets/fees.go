package assets

import (
	"fmt"
	"math/bits"
)

// GatewayShare returns the part of a fee that goes to the relaying
// gateway: floor(amount × bps / 10000), computed without overflow. bps
// above MaxFeeBps counts as MaxFeeBps.
func GatewayShare(amount uint64, bps uint16) uint64 {
	bps = min(bps, MaxFeeBps)
	hi, lo := bits.Mul64(amount, uint64(bps))
	q, _ := bits.Div64(hi, lo, MaxFeeBps) // hi < MaxFeeBps since bps <= MaxFeeBps
	return q
}

// ChargeFee moves a transaction's fee in denomination name from payer (the
// sender, or the sponsor who signed to pay) to the block's proposer, less
// the gateway's share when gateway is not zero: GatewayShare(amount,
// gatewayShareBps) to the gateway that relayed the transaction. The
// payer must not be frozen and must hold the amount. A zero amount is a
// no-op. Like Apply, it writes nothing when it fails.
func ChargeFee(kv KV, name string, payer, proposer, gateway Account, amount uint64, gatewayShareBps uint16) error {
	if gatewayShareBps > MaxFeeBps {
		return fmt.Errorf("%w: gateway share of %d basis points, at most %d", ErrBadFee, gatewayShareBps, MaxFeeBps)
	}
	if payer.IsZero() || proposer.IsZero() {
		return fmt.Errorf("%w: zero payer or proposer", ErrBadFee)
	}
	if amount == 0 {
		return nil
	}
	b := newBatch(kv)
	if err := b.denomExists(name); err != nil {
		return fmt.Errorf("fee: %w", err)
	}
	if err := b.debit(name, payer, amount); err != nil {
		return fmt.Errorf("fee: %w", err)
	}
	var share uint64
	if !gateway.IsZero() {
		share = GatewayShare(amount, gatewayShareBps)
	}
	if err := b.credit(name, proposer, amount-share); err != nil {
		return fmt.Errorf("fee: %w", err)
	}
	if share > 0 {
		if err := b.credit(name, gateway, share); err != nil {
			return fmt.Errorf("fee: %w", err)
		}
	}
	b.commit()
	return nil
}

// Reward mints up to amount of denomination name to an authority, for a
// sealed block under the genesis reward schedule. It is the protocol's
// own mint: it does not need the mint authority and works after mint was
// renounced, but never passes the maximum supply: it mints
// min(amount, MaxSupply-Supply) and returns that, so a schedule ends
// quietly at the cap. It also gives the genesis balances.
func Reward(kv KV, name string, to Account, amount uint64) (minted uint64, err error) {
	if to.IsZero() {
		return 0, fmt.Errorf("%w: reward to the zero account", ErrBadOp)
	}
	b := newBatch(kv)
	d, err := b.denom(name)
	if err != nil {
		return 0, fmt.Errorf("reward: %w", err)
	}
	minted = min(amount, d.MaxSupply-d.Supply)
	if minted == 0 {
		return 0, nil
	}
	d.Supply += minted
	b.putDenom(name, d)
	if err := b.credit(name, to, minted); err != nil {
		return 0, fmt.Errorf("reward: %w", err)
	}
	b.commit()
	return minted, nil
}
