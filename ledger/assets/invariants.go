package assets

import (
	"bytes"
	"fmt"
	"maps"
	"math/bits"
	"slices"
	"strings"

	"github.com/sixdomain/sixdomain/identity"
)

// CheckInvariants reads every key under "asset/" and checks that the
// state is consistent:
//   - every key has one of the four layouts and a well-formed value;
//     denomination records decode and are valid (supply at most the
//     maximum supply, mint held by someone or renounced);
//   - balances and freeze flags belong to existing denominations;
//     balances are stored non-zero (absent means zero);
//   - for every denomination, the sum of its balances, computed without
//     overflow, equals its supply;
//   - every device asset belongs to a registered DID whose sole controller
//     is the asset's owner. (Its role was device when it was bound; a
//     later set-profile does not unbind it.)
//
// Amounts are uint64, so no balance is negative by construction. It
// returns an error wrapping ErrInvariant (or the KV's or Registry's error).
// It is for tests and audits: it reads the whole asset state.
func CheckInvariants(kv Iterable, reg Registry) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvariant, fmt.Sprintf(format, args...))
	}
	denoms := map[string]*Denom{}
	sums := map[string]uint64{}
	err := kv.Iterate([]byte(Prefix), func(key, value []byte) error {
		k := string(key)
		switch {
		case strings.HasPrefix(k, prefixDenom):
			name := k[len(prefixDenom):]
			if err := ValidDenomName(name); err != nil {
				return bad("denomination key %q: %v", key, err)
			}
			d, err := DecodeDenom(value)
			if err != nil {
				return bad("denomination %q: %v", name, err)
			}
			denoms[name] = d
		case strings.HasPrefix(k, prefixBal):
			name, a, ok := splitPairKey(key[len(prefixBal):])
			if !ok {
				return bad("balance key %x", key)
			}
			n, err := decodeAmount(value)
			if err != nil {
				return bad("balance of %s in %q: %v", a, name, err)
			}
			var carry uint64
			sums[name], carry = bits.Add64(sums[name], n, 0)
			if carry != 0 {
				return bad("balances of %q overflow", name)
			}
		case strings.HasPrefix(k, prefixFrozen):
			name, a, ok := splitPairKey(key[len(prefixFrozen):])
			if !ok {
				return bad("freeze key %x", key)
			}
			if !bytes.Equal(value, frozenValue) {
				return bad("freeze flag of %s in %q: %x", a, name, value)
			}
			if _, err := GetDenom(kv, name); err != nil {
				return bad("freeze flag of %s: %v", a, err)
			}
		case strings.HasPrefix(k, prefixDevice):
			rest := key[len(prefixDevice):]
			if len(rest) != len(Account{}) {
				return bad("device key %x", key)
			}
			did := toAccount(rest)
			owner, _, err := DeviceOwner(kv, did)
			if err != nil {
				return bad("device %s: %v", identity.PublicKey(did).DID(), err)
			}
			rec, err := reg.Lookup(did)
			if err != nil {
				return err
			}
			if rec == nil {
				return bad("device asset of %s, which is not registered", identity.PublicKey(did).DID())
			}
			ctl, err := soleController(rec)
			if err != nil {
				return bad("device %s: %v", rec.DID(), err)
			}
			if ctl != owner {
				return bad("device %s: owner %s, controller %s", rec.DID(), owner, ctl)
			}
		default:
			return bad("unknown key %q", key)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(sums)) {
		if denoms[name] == nil {
			return bad("balances in %q, which does not exist", name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(denoms)) {
		if d := denoms[name]; sums[name] != d.Supply {
			return bad("%q: balances sum to %d, supply is %d", name, sums[name], d.Supply)
		}
	}
	return nil
}
