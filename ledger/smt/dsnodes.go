package smt

import (
	"context"
	"errors"
	"fmt"

	"github.com/ipfs/go-datastore"
)

// NodeKey is the datastore key of the node with hash h: "/" + hex(h). The
// caller puts the nodes under a prefix of its choosing (a namespace).
func NodeKey(h Hash) datastore.Key { return datastore.RawKey("/" + h.String()) }

// DSNodes reads nodes stored under NodeKey in DS (usually a namespace of
// a larger datastore). It implements NodeReader: datastore.ErrNotFound
// becomes ErrMissingNode. A nil Ctx is context.Background().
type DSNodes struct {
	Ctx context.Context
	DS  datastore.Read
}

// Node reads the encoding of the node with hash h.
func (d DSNodes) Node(h Hash) ([]byte, error) {
	ctx := d.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	b, err := d.DS.Get(ctx, NodeKey(h))
	if errors.Is(err, datastore.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrMissingNode, h)
	}
	if err != nil {
		return nil, fmt.Errorf("smt: datastore: %w", err)
	}
	return b, nil
}

// PutNodes writes nodes (as Update's created) under NodeKey to w, typically
// a batch of the block's commit.
func PutNodes(ctx context.Context, w datastore.Write, nodes map[Hash][]byte) error {
	for h, b := range nodes {
		if err := w.Put(ctx, NodeKey(h), b); err != nil {
			return fmt.Errorf("smt: writing node %s: %w", h, err)
		}
	}
	return nil
}

// DeleteNodes deletes the nodes with hashes hs (as Update's stale) from w.
// See the package doc before pruning: a node can leave the tree and come
// back in a later version.
func DeleteNodes(ctx context.Context, w datastore.Write, hs []Hash) error {
	for _, h := range hs {
		if err := w.Delete(ctx, NodeKey(h)); err != nil {
			return fmt.Errorf("smt: deleting node %s: %w", h, err)
		}
	}
	return nil
}
