package types

import (
	"errors"
	"fmt"
	"math/bits"

	"github.com/sixdomain/sixdomain/identity"
)

// FeePolicy is a genesis's [fees] table: the fee denomination (created
// at genesis, with Allocations as its first balances), the gas price, which
// transactions are free, the relaying gateway's share, and the reward per
// sealed block. A genesis without it runs without fees.
type FeePolicy struct {
	_ struct{} `cbor:",toarray"`
	// Denom names the fee denomination (2 to 16 bytes of a-z, 0-9).
	Denom string `toml:"denom"`
	// MaxSupply caps the denomination (allocations and rewards included).
	MaxSupply uint64 `toml:"max_supply"`
	// GasPriceMilli is the price of 1,000 gas in base units: a
	// transaction's fee is ceil(gas × gas_price_milli / 1000).
	GasPriceMilli uint64 `toml:"gas_price_milli"`
	// FreeRecords makes data records, registry operations and evidence
	// free (asset, contract and grant transactions always pay).
	FreeRecords bool `toml:"free_records"`
	// GatewayShareBps is the share of a fee, in basis points, that goes to
	// the sender's gateway (the gateway that onboarded it: its DID's
	// controller, when that is a registered gateway); the rest goes to the
	// sealing authority.
	GatewayShareBps uint16 `toml:"gateway_share_bps"`
	// BlockReward is minted to the sealing authority per block, until the
	// maximum supply.
	BlockReward uint64 `toml:"block_reward"`
	// Allocations are the denomination's first balances.
	Allocations []FeeAllocation `toml:"allocations"`
}

// FeeAllocation is a genesis balance: a did:key and an amount.
type FeeAllocation struct {
	_       struct{} `cbor:",toarray"`
	Account string   `toml:"account"`
	Amount  uint64   `toml:"amount"`
}

// Fee limits.
const (
	maxFeeAllocations = 10_000
	// IntrinsicGas is the gas of any transaction, and TxByteGas the gas per
	// byte of its encoding (contracts add what they run).
	IntrinsicGas = 20_000
	TxByteGas    = 10
)

// ErrInsufficientFee: the payer (the sender, or its sponsor) cannot pay
// the transaction's largest fee. The transaction may become valid once the
// payer holds more.
var ErrInsufficientFee = errors.New("insufficient balance for the fee")

// Fee returns the fee of gas: ceil(gas × GasPriceMilli / 1000), saturating.
func (f *FeePolicy) Fee(gas uint64) uint64 {
	hi, lo := bits.Mul64(gas, f.GasPriceMilli)
	if hi >= 1000 {
		return ^uint64(0)
	}
	q, r := bits.Div64(hi, lo, 1000)
	if r > 0 && q < ^uint64(0) {
		q++
	}
	return q
}

// Validate checks the policy.
func (f *FeePolicy) Validate() error {
	var errs []error
	if n := len(f.Denom); n < 2 || n > 16 {
		errs = append(errs, fmt.Errorf("fees.denom %q: want 2 to 16 bytes", f.Denom))
	}
	for _, c := range []byte(f.Denom) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			errs = append(errs, fmt.Errorf("fees.denom %q: only a-z and 0-9", f.Denom))
			break
		}
	}
	if f.MaxSupply == 0 {
		errs = append(errs, errors.New("fees.max_supply must be positive"))
	}
	if f.GatewayShareBps > 10_000 {
		errs = append(errs, fmt.Errorf("fees.gateway_share_bps %d is above 10000", f.GatewayShareBps))
	}
	if len(f.Allocations) > maxFeeAllocations {
		errs = append(errs, fmt.Errorf("fees.allocations: %d, at most %d", len(f.Allocations), maxFeeAllocations))
	}
	var sum uint64
	seen := map[identity.PublicKey]bool{}
	for i, a := range f.Allocations {
		k, err := identity.ParseDID(a.Account)
		if err != nil {
			errs = append(errs, fmt.Errorf("fees.allocations[%d]: %w", i, err))
			continue
		}
		if seen[k] {
			errs = append(errs, fmt.Errorf("fees.allocations[%d]: %s twice", i, a.Account))
		}
		seen[k] = true
		var carry uint64
		if sum, carry = bits.Add64(sum, a.Amount, 0); carry != 0 || sum > f.MaxSupply {
			errs = append(errs, fmt.Errorf("fees.allocations add up to more than max_supply %d", f.MaxSupply))
			break
		}
	}
	return errors.Join(errs...)
}

// TxFeeGrant carries a FeeGrant: its sender (a gateway, say) sponsors the
// grantee's fees. A sponsor signs once, not per transaction — a gateway
// cannot co-sign each reading of thousands of devices as it happens — and
// the grant pays for the grantee's transactions while it has allowance.
const TxFeeGrant TxType = 7

// FeeGrant is the payload of a TxFeeGrant: [grantee, allowance,
// expires]. The sender pays the grantee's fees up to allowance base units
// in all, until block expires (0: no end). Allowance 0 revokes the
// sender's grant.
type FeeGrant struct {
	_         struct{}           `cbor:",toarray"`
	Grantee   identity.PublicKey `json:"grantee"`
	Allowance uint64             `json:"allowance"`
	Expires   uint64             `json:"expires"`
}

// Encode returns the payload's canonical encoding.
func (g *FeeGrant) Encode() []byte { return marshal(g) }

// DecodeFeeGrant strictly decodes a grant payload.
func DecodeFeeGrant(b []byte) (*FeeGrant, error) {
	if len(b) > 64 {
		return nil, fmt.Errorf("%w: fee grant of %d bytes", ErrOversize, len(b))
	}
	var g FeeGrant
	if err := unmarshalCanonical(b, &g); err != nil {
		return nil, fmt.Errorf("%w: fee grant: %w", ErrBadPayload, err)
	}
	return &g, nil
}
