package smt

import (
	"context"
	"errors"
	"testing"

	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/namespace"
	"github.com/ipfs/go-datastore/query"
	dssync "github.com/ipfs/go-datastore/sync"
	pebbleds "github.com/ipfs/go-ds-pebble"
)

// TestDSNodes builds a tree over real datastores (pebble on disk, and
// go-datastore's MapDatastore), the nodes in a namespace, each block's
// nodes written and its stale nodes deleted in one batch.
func TestDSNodes(t *testing.T) {
	ctx := context.Background()
	open := map[string]func(t *testing.T) datastore.Batching{
		"pebble": func(t *testing.T) datastore.Batching {
			d, err := pebbleds.NewDatastore(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Close() })
			return d
		},
		"map": func(t *testing.T) datastore.Batching {
			return dssync.MutexWrap(datastore.NewMapDatastore())
		},
	}
	for name, mk := range open {
		t.Run(name, func(t *testing.T) {
			base := mk(t)
			ds := namespace.Wrap(base, datastore.NewKey("/state/nodes"))
			nodes := DSNodes{Ctx: ctx, DS: ds}
			m := map[string][]byte{}
			root := Empty
			for block := range 5 {
				var ops []Op
				for i := range 300 {
					k := keyN(block*150 + i) // half of each block rewrites the previous one's keys
					switch {
					case i%7 == 0:
						ops = append(ops, Op{Key: k})
						delete(m, string(k))
					default:
						v := keyN(block*1000 + i)
						ops = append(ops, Op{Key: k, Value: v})
						m[string(k)] = v
					}
				}
				newRoot, created, stale, err := Update(nodes, root, ops)
				if err != nil {
					t.Fatal(err)
				}
				checkAccounting(t, nodes, root, newRoot, created, stale)
				b, err := ds.Batch(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if err := PutNodes(ctx, b, created); err != nil {
					t.Fatal(err)
				}
				if err := DeleteNodes(ctx, b, stale); err != nil {
					t.Fatal(err)
				}
				if err := b.Commit(ctx); err != nil {
					t.Fatal(err)
				}
				root = newRoot
				if root != refRoot(m) {
					t.Fatalf("block %d: root %s, reference %s", block, root, refRoot(m))
				}
			}
			// The datastore holds exactly the tree's nodes, under the namespace.
			res, err := base.Query(ctx, queryKeysOnly("/state/nodes"))
			if err != nil {
				t.Fatal(err)
			}
			all, err := res.Rest()
			if err != nil {
				t.Fatal(err)
			}
			stored := len(all)
			if want := len(reach(t, nodes, root)); stored != want {
				t.Fatalf("datastore holds %d nodes, the tree %d", stored, want)
			}
			for i := range 800 {
				k := keyN(i)
				want, present := m[string(k)]
				vh, found, err := Get(nodes, root, k)
				if err != nil || found != present || (present && vh != HashValue(want)) {
					t.Fatalf("Get(%s): %v %v %v", k, vh, found, err)
				}
				p, err := Prove(nodes, root, k)
				if err != nil {
					t.Fatal(err)
				}
				if err := p.Verify(root, k, want); err != nil {
					t.Fatalf("proof of %s: %v", k, err)
				}
			}
			// A node missing from the datastore is ErrMissingNode; a damaged one
			// ErrCorruptNode.
			if err := ds.Delete(ctx, NodeKey(root)); err != nil {
				t.Fatal(err)
			}
			if _, _, err := Get(nodes, root, keyN(1)); !errors.Is(err, ErrMissingNode) {
				t.Fatalf("Get with the root node deleted: %v", err)
			}
			if err := ds.Put(ctx, NodeKey(root), make([]byte, NodeSize)); err != nil {
				t.Fatal(err)
			}
			if _, _, err := Get(nodes, root, keyN(1)); !errors.Is(err, ErrCorruptNode) {
				t.Fatalf("Get with the root node damaged: %v", err)
			}
		})
	}
}

func TestNodeKey(t *testing.T) {
	h := HashValue([]byte("x"))
	if got, want := NodeKey(h).String(), "/"+h.String(); got != want {
		t.Fatalf("NodeKey = %s, want %s", got, want)
	}
}

func queryKeysOnly(prefix string) query.Query { return query.Query{Prefix: prefix, KeysOnly: true} }
