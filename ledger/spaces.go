package ledger

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/keytransform"
	"github.com/ipfs/go-datastore/namespace"
	"github.com/ipfs/go-datastore/query"
)

// The namespaces of a node's datastore, one per owner (see the package doc).
var (
	LedgerNamespace    = datastore.NewKey("/ledger")
	ChainNamespace     = datastore.NewKey("/chain")
	ConsensusNamespace = datastore.NewKey("/consensus")
)

// Spaces splits a node's root datastore between its owners: the ledger
// Store under /ledger, package chain under /chain and the consensus
// snapshot checkpoints under /consensus. Each owner sees only its own keys.
// All of them wrap the one root datastore, so a batch over Root spans them
// all: Store.Commit writes a block and its owners' records (Write) in one
// batch.
type Spaces struct {
	Root      datastore.Batching
	Ledger    datastore.Batching
	Chain     datastore.Batching
	Consensus datastore.Batching
}

// Split migrates root from the flat layout if need be (MigrateFlat) and
// splits it into the owners' namespaces.
func Split(ctx context.Context, root datastore.Batching) (*Spaces, error) {
	if root == nil {
		return nil, errors.New("ledger: Split needs a datastore")
	}
	if _, err := MigrateFlat(ctx, root); err != nil {
		return nil, err
	}
	return &Spaces{Root: root,
		Ledger:    namespace.Wrap(root, LedgerNamespace),
		Chain:     namespace.Wrap(root, ChainNamespace),
		Consensus: namespace.Wrap(root, ConsensusNamespace)}, nil
}

// flatRoots are the top-level key prefixes of the ledger in the flat
// layout, where its keys sat at the root of the node's datastore next to
// /chain and /consensus (whose keys are unchanged by the split).
var flatRoots = []string{"/meta", "/b", "/h", "/t", "/n", "/r", "/s", "/q", "/e", "/d", "/st", "/auth"}

// MigrateFlat moves a ledger written in the flat layout (/meta/genesis at
// the root of the datastore) under /ledger. It reports whether it moved
// anything. Every key under the ledger's old top-level prefixes is copied
// under /ledger and deleted in one batch (synced, with OpenPebble), so an
// interrupted migration leaves the old layout whole and the next call
// starts over. A datastore that holds both layouts is refused.
func MigrateFlat(ctx context.Context, root datastore.Batching) (bool, error) {
	old, err := root.Has(ctx, keyGenesis)
	if err != nil {
		return false, fmt.Errorf("ledger: detecting the flat layout: %w", err)
	}
	if !old {
		return false, nil
	}
	if ok, err := root.Has(ctx, LedgerNamespace.Child(keyGenesis)); err != nil {
		return false, fmt.Errorf("ledger: detecting the flat layout: %w", err)
	} else if ok {
		return false, fmt.Errorf("ledger: datastore holds a ledger both at its root and under %s", LedgerNamespace)
	}
	batch, err := root.Batch(ctx)
	if err != nil {
		return false, fmt.Errorf("ledger: migrating the flat layout: %w", err)
	}
	moved := 0
	for _, prefix := range flatRoots {
		n, err := moveUnder(ctx, root, batch, prefix)
		if err != nil {
			return false, fmt.Errorf("ledger: migrating the flat layout (%s): %w", prefix, err)
		}
		moved += n
	}
	if err := batch.Commit(ctx); err != nil {
		return false, fmt.Errorf("ledger: migrating the flat layout (%d keys): %w", moved, err)
	}
	if err := root.Sync(ctx, datastore.NewKey("/")); err != nil {
		return false, fmt.Errorf("ledger: syncing the migrated layout: %w", err)
	}
	return true, nil
}

// moveUnder adds to batch, for every key under prefix, a copy under
// /ledger and its deletion.
func moveUnder(ctx context.Context, root datastore.Datastore, batch datastore.Batch, prefix string) (int, error) {
	res, err := root.Query(ctx, query.Query{Prefix: prefix})
	if err != nil {
		return 0, err
	}
	defer res.Close()
	n := 0
	for r := range res.Next() {
		if r.Error != nil {
			return n, r.Error
		}
		if !strings.HasPrefix(r.Key, prefix+"/") {
			continue // a prefix query matches whole path segments; be sure
		}
		k := datastore.RawKey(r.Key)
		if err := errors.Join(batch.Put(ctx, LedgerNamespace.Child(k), r.Value), batch.Delete(ctx, k)); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Write is a record that the caller of Store.Commit puts in the block's
// batch: Key in the caller's datastore DS, which must be the store's root
// datastore or a key-transforming wrapper of it (such as Spaces.Chain), so
// that the record commits atomically with the block.
type Write struct {
	DS    datastore.Datastore
	Key   datastore.Key
	Value []byte
}

// rootOf returns the datastore d wraps with a key transform (d itself if it
// wraps none) and the transform to its keys.
func rootOf(d datastore.Batching) (datastore.Batching, func(datastore.Key) datastore.Key) {
	if kt, ok := d.(*keytransform.Datastore); ok {
		if ch := kt.Children(); len(ch) == 1 {
			if b, ok := ch[0].(datastore.Batching); ok {
				return b, kt.ConvertKey
			}
		}
	}
	return d, func(k datastore.Key) datastore.Key { return k }
}

// rootKey returns w's key in the store's root datastore.
func (s *Store) rootKey(w Write) (datastore.Key, error) {
	if w.DS == nil {
		return datastore.Key{}, errors.New("ledger: a commit write without its datastore")
	}
	if sameDS(w.DS, s.root) {
		return w.Key, nil
	}
	if kt, ok := w.DS.(*keytransform.Datastore); ok {
		if ch := kt.Children(); len(ch) == 1 && sameDS(ch[0], s.root) {
			return kt.ConvertKey(w.Key), nil
		}
	}
	return datastore.Key{}, fmt.Errorf("ledger: commit write %s: its datastore is not the store's (nor a namespace of it), so it cannot commit atomically with the block", w.Key)
}

// sameDS compares two datastores by identity, false where they are not
// comparable.
func sameDS(a, b datastore.Datastore) (same bool) {
	defer func() {
		if recover() != nil {
			same = false // a datastore of an uncomparable dynamic type
		}
	}()
	return a == b
}

// Joins reports whether records in d can join the store's commit batch
// (Write): whether d is the store's root datastore or a namespace of it.
func (s *Store) Joins(d datastore.Datastore) bool {
	_, err := s.rootKey(Write{DS: d})
	return err == nil
}
