package smt

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"testing"
)

// refRoot is the independent reference: the root of the compact tree
// holding m (key -> value), computed straight from the recursive definition
// in the package doc, with no node store and no code shared with the
// package but the Hash type.
func refRoot(m map[string][]byte) Hash {
	type leaf struct{ path, vh [32]byte }
	ls := make([]leaf, 0, len(m))
	for k, v := range m {
		ls = append(ls, leaf{sha256.Sum256([]byte(k)), sha256.Sum256(v)})
	}
	var build func(ls []leaf, d int) [32]byte
	build = func(ls []leaf, d int) [32]byte {
		switch len(ls) {
		case 0:
			return [32]byte{}
		case 1:
			enc := append(append([]byte{0x00}, ls[0].path[:]...), ls[0].vh[:]...)
			return sha256.Sum256(enc)
		}
		var l, r []leaf
		for _, x := range ls {
			if x.path[d/8]&(0x80>>(d%8)) == 0 {
				l = append(l, x)
			} else {
				r = append(r, x)
			}
		}
		lh, rh := build(l, d+1), build(r, d+1)
		return sha256.Sum256(append(append([]byte{0x01}, lh[:]...), rh[:]...))
	}
	return build(ls, 0)
}

// reach returns the hashes of every node reachable from root in r.
func reach(t tb, r NodeReader, root Hash) map[Hash]bool {
	t.Helper()
	seen := map[Hash]bool{}
	var walk func(h Hash, d int)
	walk = func(h Hash, d int) {
		if h == Empty {
			return
		}
		if seen[h] {
			t.Fatalf("node %s reached twice", h)
		}
		seen[h] = true
		n, err := readNode(r, h)
		if err != nil {
			t.Fatalf("walking: %v", err)
		}
		if !n.leaf {
			walk(n.a, d+1)
			walk(n.b, d+1)
		}
	}
	walk(root, 0)
	return seen
}

// overlay reads from top, then from base.
type overlay struct {
	top  map[Hash][]byte
	base NodeReader
}

func (o overlay) Node(h Hash) ([]byte, error) {
	if b, ok := o.top[h]; ok {
		return b, nil
	}
	return o.base.Node(h)
}

// checkAccounting checks Update's created and stale against the trees:
// created = new nodes not in the old tree, stale = old nodes not in the new.
func checkAccounting(t tb, store NodeReader, oldRoot, newRoot Hash, created map[Hash][]byte, stale []Hash) {
	t.Helper()
	oldR := reach(t, store, oldRoot)
	newR := reach(t, overlay{created, store}, newRoot)
	for h, enc := range created {
		if !newR[h] {
			t.Fatalf("created node %s is not in the new tree", h)
		}
		if oldR[h] {
			t.Fatalf("created node %s was already in the old tree", h)
		}
		if sha256.Sum256(enc) != h {
			t.Fatalf("created node %s does not hash to its key", h)
		}
	}
	if !sort.SliceIsSorted(stale, func(i, j int) bool { return bytes.Compare(stale[i][:], stale[j][:]) < 0 }) {
		t.Fatalf("stale is not sorted")
	}
	staleSet := map[Hash]bool{}
	for _, h := range stale {
		if staleSet[h] {
			t.Fatalf("stale lists %s twice", h)
		}
		staleSet[h] = true
		if !oldR[h] || newR[h] {
			t.Fatalf("stale node %s: in old tree %v, in new tree %v", h, oldR[h], newR[h])
		}
	}
	for h := range oldR {
		if !newR[h] && !staleSet[h] {
			t.Fatalf("old node %s left the tree but is not listed stale", h)
		}
	}
	for h := range newR {
		if !oldR[h] {
			if _, ok := created[h]; !ok {
				t.Fatalf("new node %s is neither old nor created", h)
			}
		}
	}
}

// model is a key -> value map with the tree it should equal.
type model struct {
	m     map[string][]byte
	store MapNodes
	root  Hash
}

func newModel() *model { return &model{m: map[string][]byte{}, store: MapNodes{}} }

// apply applies ops to both the tree and the map, checks the new root
// against refRoot and the accounting, and prunes stale nodes.
func (md *model) apply(t tb, ops []Op) {
	t.Helper()
	root, created, stale, err := Update(md.store, md.root, ops)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	checkAccounting(t, md.store, md.root, root, created, stale)
	for _, op := range ops {
		if op.Value == nil {
			delete(md.m, string(op.Key))
		} else {
			md.m[string(op.Key)] = op.Value
		}
	}
	if want := refRoot(md.m); root != want {
		t.Fatalf("root %s, reference %s (%d keys)", root, want, len(md.m))
	}
	md.store.Apply(created, stale)
	md.root = root
	if got := len(reach(t, md.store, root)); got != len(md.store) {
		t.Fatalf("store holds %d nodes, tree %d", len(md.store), got)
	}
}

// checkKey checks Get, Prove and Verify for key against the model.
func (md *model) checkKey(t tb, key []byte, otherRoot Hash) {
	t.Helper()
	want, present := md.m[string(key)]
	vh, found, err := Get(md.store, md.root, key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if found != present || (present && vh != sha256.Sum256(want)) {
		t.Fatalf("Get(%q) = %s, %v; want present %v", key, vh, found, present)
	}
	p, err := Prove(md.store, md.root, key)
	if err != nil {
		t.Fatalf("Prove(%q): %v", key, err)
	}
	if p.IsMember(key) != present {
		t.Fatalf("Prove(%q).IsMember = %v, want %v", key, !present, present)
	}
	mustFail := func(what string, err, target error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: key %q: Verify accepted", what, key)
		}
		if !errors.Is(err, target) || !errors.Is(err, ErrBadProof) {
			t.Fatalf("%s: key %q: %v, want %v", what, key, err, target)
		}
	}
	if present {
		if err := p.Verify(md.root, key, want); err != nil {
			t.Fatalf("membership of %q: %v", key, err)
		}
		mustFail("wrong value", p.Verify(md.root, key, append([]byte("x"), want...)), ErrValueMismatch)
		mustFail("claimed absent", p.Verify(md.root, key, nil), ErrValueMismatch)
		if otherRoot != md.root {
			mustFail("other root", p.Verify(otherRoot, key, want), ErrRootMismatch)
		}
		q := cloneProof(p)
		q.Leaf.ValueHash[0] ^= 1
		mustFail("tampered value hash", q.VerifyHash(md.root, key, &q.Leaf.ValueHash), ErrRootMismatch)
	} else {
		if err := p.Verify(md.root, key, nil); err != nil {
			t.Fatalf("non-membership of %q: %v", key, err)
		}
		mustFail("claimed present", p.Verify(md.root, key, []byte("v")), ErrValueMismatch)
		if otherRoot != md.root {
			mustFail("other root", p.Verify(otherRoot, key, nil), ErrRootMismatch)
		}
	}
	for i := range p.Siblings {
		q := cloneProof(p)
		q.Siblings[i][31] ^= 0x40
		err := q.Verify(md.root, key, want)
		if err == nil || !errors.Is(err, ErrBadProof) {
			t.Fatalf("tampered sibling %d of %q: %v", i, key, err)
		}
	}
	// The encodings round-trip.
	enc := p.Encode()
	q, err := DecodeProof(enc)
	if err != nil {
		t.Fatalf("DecodeProof(Encode()): %v", err)
	}
	if !bytes.Equal(q.Encode(), enc) || q.Verify(md.root, key, want) != nil {
		t.Fatalf("proof of %q does not survive CBOR", key)
	}
	js, err := p.MarshalJSON()
	if err != nil {
		t.Fatalf("%v", err)
	}
	var r Proof
	if err := r.UnmarshalJSON(js); err != nil {
		t.Fatalf("UnmarshalJSON(%s): %v", js, err)
	}
	if !bytes.Equal(r.Encode(), enc) {
		t.Fatalf("proof of %q does not survive JSON: %s", key, js)
	}
}

func cloneProof(p *Proof) *Proof {
	q := &Proof{Siblings: append([]Hash(nil), p.Siblings...)}
	if p.Leaf != nil {
		l := *p.Leaf
		q.Leaf = &l
	}
	return q
}

func kv(k, v string) Op { return Op{Key: []byte(k), Value: []byte(v)} }
func del(k string) Op   { return Op{Key: []byte(k)} }

func keyN(i int) []byte { return fmt.Appendf(nil, "key-%d", i) }

// tb is what the helpers need of a *testing.T, *testing.B or *rapid.T.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
}

var _ tb = testing.TB(nil)
