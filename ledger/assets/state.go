package assets

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/fxamacker/cbor/v2"

	"github.com/sixdomain/sixdomain/ledger/types"
)

// Key prefixes (see the package doc for the layout byte by byte).
const (
	Prefix       = "asset/"
	prefixDenom  = Prefix + "denom/"
	prefixBal    = Prefix + "bal/"
	prefixFrozen = Prefix + "frozen/"
	prefixDevice = Prefix + "device/"
)

// Limits. They are part of the protocol.
const (
	MinDenomLen  = 2
	MaxDenomLen  = 16
	MaxDecimals  = 18
	MaxInputs    = 8
	MaxOutputs   = 64
	MaxOpBytes   = 8 * 1024
	MaxFeeBps    = 10_000
	denomRecSize = 256 // a stored denomination record is far smaller
)

// PowerState says whether a denomination has a power.
type PowerState uint8

// Power states. A renounced power never comes back.
const (
	PowerAbsent    PowerState = 0 // issued without it
	PowerHeld      PowerState = 1
	PowerRenounced PowerState = 2
)

func (s PowerState) String() string {
	switch s {
	case PowerAbsent:
		return "absent"
	case PowerHeld:
		return "held"
	case PowerRenounced:
		return "renounced"
	}
	return fmt.Sprintf("power-state(%d)", uint8(s))
}

// Denom is a fungible denomination's record. It encodes as the CBOR array
// [issuer, decimals, max_supply, supply, mint_authority, mint, freeze,
// clawback].
type Denom struct {
	_             struct{}   `cbor:",toarray"`
	Issuer        Account    // the DID that issued it
	Decimals      uint8      // display only: 10^Decimals base units make one unit
	MaxSupply     uint64     // at least 1
	Supply        uint64     // the sum of all balances; at most MaxSupply
	MintAuthority Account    // who may mint; zero once mint is renounced
	Mint          PowerState // held or renounced (never absent)
	Freeze        PowerState // the issuer's power to freeze accounts
	Clawback      PowerState // the issuer's power to take balances back
}

// Encode returns the record's canonical encoding.
func (d *Denom) Encode() []byte { return marshal(d) }

// DecodeDenom decodes a stored denomination record.
func DecodeDenom(data []byte) (*Denom, error) {
	if len(data) > denomRecSize {
		return nil, fmt.Errorf("%w: denomination record of %d bytes", ErrCorrupt, len(data))
	}
	var d Denom
	if err := unmarshalCanonical(data, &d); err != nil {
		return nil, fmt.Errorf("%w: denomination record: %w", ErrCorrupt, err)
	}
	if err := d.validate(); err != nil {
		return nil, fmt.Errorf("%w: denomination record: %w", ErrCorrupt, err)
	}
	return &d, nil
}

func (d *Denom) validate() error {
	switch {
	case d.Issuer.IsZero():
		return fmt.Errorf("%w: no issuer", ErrBadOp)
	case d.Decimals > MaxDecimals:
		return fmt.Errorf("%w: %d decimals, at most %d", ErrBadOp, d.Decimals, MaxDecimals)
	case d.MaxSupply == 0:
		return fmt.Errorf("%w: maximum supply 0", ErrBadOp)
	case d.Supply > d.MaxSupply:
		return fmt.Errorf("%w: supply %d above maximum %d", ErrSupplyExceeded, d.Supply, d.MaxSupply)
	case d.Mint != PowerHeld && d.Mint != PowerRenounced:
		return fmt.Errorf("%w: mint power %s", ErrBadOp, d.Mint)
	case d.Mint == PowerHeld && d.MintAuthority.IsZero():
		return fmt.Errorf("%w: mint held by no one", ErrBadOp)
	case d.Mint == PowerRenounced && !d.MintAuthority.IsZero():
		return fmt.Errorf("%w: renounced mint keeps an authority", ErrBadOp)
	case d.Freeze > PowerRenounced || d.Clawback > PowerRenounced:
		return fmt.Errorf("%w: unknown power state", ErrBadOp)
	}
	return nil
}

// ValidDenomName reports whether name may name a denomination: 2 to 16
// bytes of a-z, 0-9 and '-', starting with a letter.
func ValidDenomName(name string) error {
	if len(name) < MinDenomLen || len(name) > MaxDenomLen {
		return fmt.Errorf("%w: denomination %q: %d to %d bytes", ErrBadOp, name, MinDenomLen, MaxDenomLen)
	}
	if c := name[0]; c < 'a' || c > 'z' {
		return fmt.Errorf("%w: denomination %q must start with a-z", ErrBadOp, name)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("%w: denomination %q: byte 0x%02x; only a-z, 0-9 and '-' are allowed", ErrBadOp, name, c)
		}
	}
	return nil
}

// DenomKey returns the state key of a denomination's record:
// "asset/denom/" || name.
func DenomKey(name string) []byte { return append([]byte(prefixDenom), name...) }

// BalanceKey returns the state key of an account's balance in a
// denomination: "asset/bal/" || len(name) (1 byte) || name || account.
func BalanceKey(name string, a Account) []byte { return pairKey(prefixBal, name, a) }

// FrozenKey returns the state key of an account's freeze flag in a
// denomination: "asset/frozen/" || len(name) (1 byte) || name || account.
func FrozenKey(name string, a Account) []byte { return pairKey(prefixFrozen, name, a) }

// DeviceKey returns the state key of a device's asset: "asset/device/"
// || the device DID's ID.
func DeviceKey(did Account) []byte { return append([]byte(prefixDevice), did[:]...) }

func pairKey(prefix, name string, a Account) []byte {
	k := make([]byte, 0, len(prefix)+1+len(name)+len(a))
	k = append(k, prefix...)
	k = append(k, byte(len(name)))
	k = append(k, name...)
	return append(k, a[:]...)
}

// splitPairKey parses the part of a balance or frozen key after its
// prefix.
func splitPairKey(rest []byte) (string, Account, bool) {
	var a Account
	if len(rest) < 1 {
		return "", a, false
	}
	n := int(rest[0])
	if len(rest) != 1+n+len(a) {
		return "", a, false
	}
	name := string(rest[1 : 1+n])
	copy(a[:], rest[1+n:])
	return name, a, ValidDenomName(name) == nil
}

// deviceAssetDomain separates device asset IDs from every other hash.
const deviceAssetDomain = "SIXDOMAIN-DEVICE-ASSET-V1\x00"

// DeviceAssetID returns the ID of the device-bound asset of the device DID
// did: SHA-256 of a domain tag and the DID's ID. There is at most one per
// device, stored under DeviceKey(did).
func DeviceAssetID(did Account) [32]byte {
	return sha256.Sum256(append([]byte(deviceAssetDomain), did[:]...))
}

// Reading and writing records through a batch.

func (b *batch) denom(name string) (*Denom, error) {
	v, err := b.get(DenomKey(name))
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownDenom, name)
	}
	return DecodeDenom(v)
}

// denomExists checks that a denomination was issued without decoding
// its record (records are validated when written).
func (b *batch) denomExists(name string) error {
	v, err := b.get(DenomKey(name))
	if err != nil {
		return err
	}
	if v == nil {
		return fmt.Errorf("%w: %q", ErrUnknownDenom, name)
	}
	return nil
}

func (b *batch) putDenom(name string, d *Denom) { b.set(DenomKey(name), d.Encode()) }

func (b *batch) balance(name string, a Account) (uint64, error) {
	v, err := b.get(BalanceKey(name, a))
	if err != nil {
		return 0, err
	}
	return decodeAmount(v)
}

func decodeAmount(v []byte) (uint64, error) {
	if v == nil {
		return 0, nil
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: balance of %d bytes", ErrCorrupt, len(v))
	}
	n := binary.BigEndian.Uint64(v)
	if n == 0 {
		return 0, fmt.Errorf("%w: stored zero balance", ErrCorrupt)
	}
	return n, nil
}

// putBalance stores n; a zero balance is deleted, so that the state holds
// no empty entries.
func (b *batch) putBalance(name string, a Account, n uint64) {
	if n == 0 {
		b.set(BalanceKey(name, a), nil)
		return
	}
	b.set(BalanceKey(name, a), binary.BigEndian.AppendUint64(nil, n))
}

func (b *batch) frozen(name string, a Account) (bool, error) {
	v, err := b.get(FrozenKey(name, a))
	if err != nil {
		return false, err
	}
	switch {
	case v == nil:
		return false, nil
	case bytes.Equal(v, frozenValue):
		return true, nil
	}
	return false, fmt.Errorf("%w: freeze flag %x", ErrCorrupt, v)
}

var frozenValue = []byte{1}

func (b *batch) setFrozen(name string, a Account, f bool) {
	if f {
		b.set(FrozenKey(name, a), frozenValue)
	} else {
		b.set(FrozenKey(name, a), nil)
	}
}

func (b *batch) deviceOwner(did Account) (Account, bool, error) {
	var o Account
	v, err := b.get(DeviceKey(did))
	if err != nil || v == nil {
		return o, false, err
	}
	if len(v) != len(o) || bytes.Equal(v, o[:]) {
		return o, false, fmt.Errorf("%w: device owner %x", ErrCorrupt, v)
	}
	copy(o[:], v)
	return o, true, nil
}

func (b *batch) setDeviceOwner(did, owner Account) { b.set(DeviceKey(did), bytes.Clone(owner[:])) }

// debit takes n from a's balance; a must not be frozen.
func (b *batch) debit(name string, a Account, n uint64) error {
	if f, err := b.frozen(name, a); err != nil {
		return err
	} else if f {
		return fmt.Errorf("%w: %s in %q", ErrFrozen, a, name)
	}
	return b.take(name, a, n)
}

// take takes n from a's balance, frozen or not (clawback).
func (b *batch) take(name string, a Account, n uint64) error {
	bal, err := b.balance(name, a)
	if err != nil {
		return err
	}
	if bal < n {
		return fmt.Errorf("%w: %s holds %d %s, needs %d", ErrInsufficientFunds, a, bal, name, n)
	}
	b.putBalance(name, a, bal-n)
	return nil
}

// credit adds n to a's balance. A frozen account may receive.
func (b *batch) credit(name string, a Account, n uint64) error {
	bal, err := b.balance(name, a)
	if err != nil {
		return err
	}
	sum, carry := bits.Add64(bal, n, 0)
	if carry != 0 {
		return fmt.Errorf("%w: balance of %s in %q", ErrOverflow, a, name)
	}
	b.putBalance(name, a, sum)
	return nil
}

// Queries, for the ledger's API and the contracts' host.

// GetDenom returns a denomination's record.
func GetDenom(kv KV, name string) (*Denom, error) { return newBatch(kv).denom(name) }

// Balance returns a's balance in a denomination (0 if none; it does not
// check that the denomination exists).
func Balance(kv KV, name string, a Account) (uint64, error) { return newBatch(kv).balance(name, a) }

// Frozen reports whether a is frozen in a denomination.
func Frozen(kv KV, name string, a Account) (bool, error) { return newBatch(kv).frozen(name, a) }

// DeviceOwner returns the owner of the device DID's asset, and whether it
// has one.
func DeviceOwner(kv KV, did Account) (Account, bool, error) { return newBatch(kv).deviceOwner(did) }

// codec: the core deterministic profile, strict decoding, as in
// ledger/types.

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	// Empty (or nil) byte strings and arrays encode as empty, never as
	// null, so that the canonical check rejects null: one encoding only.
	enc := cbor.CoreDetEncOptions()
	enc.NilContainers = cbor.NilContainerAsEmpty
	encMode, err = enc.EncMode()
	if err != nil {
		panic(err) // constant options; cannot fail at run time
	}
	decMode, err = cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels:   4,
		MaxArrayElements:  MaxOutputs,
		MaxMapPairs:       16,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		UTF8:              cbor.UTF8RejectInvalid,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

func marshal(v any) []byte {
	b, err := encMode.Marshal(v)
	if err != nil {
		// Only the package's own fixed structs are marshalled.
		panic(fmt.Sprintf("assets: encoding %T: %v", v, err))
	}
	return b
}

func unmarshalCanonical(data []byte, v any) error {
	if err := decMode.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: %v", types.ErrUndecodable, err)
	}
	again, err := encMode.Marshal(v)
	if err != nil {
		return fmt.Errorf("%w: %v", types.ErrUndecodable, err)
	}
	if !bytes.Equal(again, data) {
		return types.ErrNonCanonical
	}
	return nil
}
