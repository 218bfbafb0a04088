package ledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/ipfs/go-datastore"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/assets"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// Module state: keys of the state tree that modules own (ledger/assets:
// "asset/..."), read through KVReader and written through the block's
// Changes.KV. Their values live in the store under /kv/<key hex> and in
// the state tree under the key itself.

// KVReader reads the committed value of a module's state key (nil if
// absent).
type KVReader interface {
	StateGet(key []byte) ([]byte, error)
}

// kvRoot is the store's prefix of module values.
const kvRoot = "/kv/"

func kvKey(key []byte) datastore.Key {
	return datastore.RawKey(string(hex.AppendEncode([]byte(kvRoot), key)))
}

// StateGet implements KVReader over the committed values.
func (s *Store) StateGet(key []byte) ([]byte, error) {
	v, err := s.d.Get(s.ctx, kvKey(key))
	if errors.Is(err, datastore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: reading state key %s: %w", DescribeStateKey(key), err)
	}
	return bytes.Clone(v), nil
}

// isModuleKey reports whether key belongs to a module (its value is kept
// under /kv/).
func isModuleKey(key []byte) bool {
	return bytes.HasPrefix(key, []byte(assets.Prefix)) || bytes.HasPrefix(key, []byte(contractPrefix)) ||
		bytes.HasPrefix(key, []byte(feePrefix))
}

func sha256Of(b []byte) [32]byte { return sha256.Sum256(b) }

// txKV is one transaction's view of module state: its own writes over
// the block's, over the committed state. Writes stay in w until the
// transaction is accepted.
type txKV struct {
	a      *applier
	parent *txKV // the layer below (the fee reservation), or nil
	w      map[string][]byte
	err    error // the first read error: the transaction cannot be judged
}

// newTxKV returns a layer over the transaction's fee reservation (if any).
func (a *applier) newTxKV() *txKV {
	return &txKV{a: a, parent: a.feeLayer, w: map[string][]byte{}}
}

func (k *txKV) Get(key []byte) ([]byte, error) {
	for l := k; l != nil; l = l.parent {
		if v, ok := l.w[string(key)]; ok {
			return v, nil
		}
	}
	if v, ok := k.a.kv[string(key)]; ok {
		return v, nil
	}
	v, err := k.a.r.StateGet(key)
	if err != nil && k.err == nil {
		k.err = err
	}
	return v, err
}

func (k *txKV) Set(key, value []byte) { k.w[string(key)] = bytes.Clone(value) }

// registryView is the DID registry as of the transactions accepted so far.
type registryView struct{ a *applier }

func (r registryView) Lookup(id assets.Account) (*types.DIDRecord, error) {
	rec, err := r.a.did(identity.PublicKey(id))
	if err != nil || rec == nil || rec.ID != identity.PublicKey(id) {
		return nil, err
	}
	return rec, nil
}

func (r registryView) AdmissionRequired() bool { return r.a.p.Admitted }

// accountOf is the asset account of a sender: its DID's ID if it has one
// (so that a key rotation keeps its balances), else its key.
func (a *applier) accountOf(k identity.PublicKey) (assets.Account, error) {
	rec, err := a.did(k)
	if err != nil {
		return assets.Account{}, err
	}
	if rec != nil {
		return assets.Account(rec.ID), nil
	}
	return assets.Account(k), nil
}

// assetOutcome is what an asset transaction does: its module writes and
// registry change (when it succeeded), or the refusal for its receipt.
type assetOutcome struct {
	writes map[string][]byte
	did    *DIDChange
	err    error // the operation's refusal (the transaction is still included)
}

// checkAsset runs an asset operation against the block's state without
// changing a. ioErr reports a read failure (the transaction cannot be
// judged).
func (a *applier) checkAsset(tx *types.Tx, hash types.Hash) (*assetOutcome, bool, error) {
	op, err := assets.DecodeOp(tx.Payload)
	if err != nil {
		return nil, false, fmt.Errorf("%w: asset operation: %w", types.ErrBadPayload, err)
	}
	sender, err := a.accountOf(tx.Sender)
	if err != nil {
		return nil, true, err
	}
	kv := a.newTxKV()
	eff, err := assets.Apply(kv, registryView{a}, sender, op)
	if kv.err != nil {
		return nil, true, fmt.Errorf("ledger: reading asset state: %w", kv.err)
	}
	if err != nil && !assets.Refused(err) {
		// Corrupt state or a registry failure: not a verdict on the
		// transaction; the block cannot be judged.
		return nil, true, fmt.Errorf("ledger: asset state: %w", err)
	}
	if err != nil {
		return &assetOutcome{err: err}, false, nil
	}
	out := &assetOutcome{writes: kv.w}
	if cc := eff.ControllerChange; cc != nil {
		cur, err := a.did(identity.PublicKey(cc.Device))
		if err != nil {
			return nil, true, err
		}
		if cur == nil {
			return &assetOutcome{err: fmt.Errorf("%w: device %s has no DID", assets.ErrCorrupt, identity.PublicKey(cc.Device).DID())}, false, nil
		}
		rec := cur.Clone()
		rec.Controllers, rec.Threshold = []identity.PublicKey{identity.PublicKey(cc.NewController)}, 1
		rec.Version++
		rec.Updated = a.blockTime.UnixMilli()
		rec.Height = a.height
		rec.TxHash = hash
		out.did = &DIDChange{Record: rec}
	}
	return out, false, nil
}

// didControllersChanged keeps module state in step with a registry
// operation that changes a DID's controllers: a device-bound asset's
// owner follows its DID's controller, and a bound device keeps exactly one
// (assets.ControllersChanged). It returns the module writes.
func (a *applier) didControllersChanged(prev, next *types.DIDRecord) (map[string][]byte, bool, error) {
	if prev == nil || (slices.Equal(prev.Controllers, next.Controllers) && prev.Threshold == next.Threshold) {
		return nil, false, nil
	}
	kv := a.newTxKV()
	err := assets.ControllersChanged(kv, assets.Account(next.ID), next.Controllers, next.Threshold)
	if kv.err != nil {
		return nil, true, fmt.Errorf("ledger: reading asset state: %w", kv.err)
	}
	if err != nil {
		return nil, false, err
	}
	return kv.w, false, nil
}

// acceptKV merges a transaction's module writes into the block's.
func (a *applier) acceptKV(w map[string][]byte) {
	if len(w) == 0 {
		return
	}
	if a.kv == nil {
		a.kv = map[string][]byte{}
	}
	maps.Copy(a.kv, w)
}

// kvOps returns the block's module writes as state-tree operations, and
// records them in the changes.
func (a *applier) kvOps() []opKV {
	if len(a.kv) == 0 {
		return nil
	}
	keys := slices.Sorted(maps.Keys(a.kv))
	out := make([]opKV, 0, len(keys))
	a.ch.KV = make(map[string][]byte, len(keys))
	for _, k := range keys {
		out = append(out, opKV{key: []byte(k), value: a.kv[k]})
		a.ch.KV[k] = a.kv[k]
	}
	return out
}

type opKV struct{ key, value []byte }

// Receipt returns the receipt of a committed transaction that has one
// (ErrNotFound otherwise).
func (s *Store) Receipt(ctx context.Context, txHash types.Hash) (*types.Receipt, error) {
	v, err := s.d.Get(ctx, receiptKey(txHash))
	if errors.Is(err, datastore.ErrNotFound) {
		return nil, fmt.Errorf("%w: no receipt for %s", ErrNotFound, txHash)
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: reading the receipt of %s: %w", txHash, err)
	}
	return types.DecodeReceipt(v)
}

func receiptKey(h types.Hash) datastore.Key {
	return datastore.RawKey("/rc/" + h.String())
}
