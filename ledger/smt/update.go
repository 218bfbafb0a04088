package smt

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
)

// MaxKeyLen is the longest key the tree accepts, in bytes.
const MaxKeyLen = 1024

// Op is one change of an Update batch: Value == nil deletes Key; any other
// Value, empty included, is stored (as SHA-256(Value)).
type Op struct {
	Key, Value []byte
}

// Update applies ops to the tree whose root is root, reading nodes only
// through r, and returns the new root, every node it created that the new
// tree references (to persist: hash -> encoding) and the hashes of the
// nodes of the old tree that the new tree no longer references, sorted
// ascending (for a pruner). created and stale are disjoint; a node that an
// op rewrote identically is in neither.
//
// The keys of ops must be distinct (ErrDuplicateKey otherwise); their order
// does not matter. Deleting an absent key is not an error. Update is pure:
// it reads nothing but r and changes nothing; on error it returns only the
// error. Its cost is about len(ops) x log2(size of the tree) node reads and
// hashes: the sorted batch is split by one path bit per level and only the
// subtrees it touches are visited.
func Update(r NodeReader, root Hash, ops []Op) (newRoot Hash, created map[Hash][]byte, stale []Hash, err error) {
	pops := make([]pendingOp, len(ops))
	for i, op := range ops {
		if len(op.Key) > MaxKeyLen {
			return Empty, nil, nil, fmt.Errorf("%w: op %d has a %d-byte key (max %d)", ErrKeyTooLong, i, len(op.Key), MaxKeyLen)
		}
		pops[i].path = KeyPath(op.Key)
		if op.Value == nil {
			pops[i].del = true
		} else {
			pops[i].vh = HashValue(op.Value)
		}
	}
	slices.SortFunc(pops, func(a, b pendingOp) int { return bytes.Compare(a.path[:], b.path[:]) })
	for i := 1; i < len(pops); i++ {
		if pops[i].path == pops[i-1].path {
			return Empty, nil, nil, fmt.Errorf("%w: key path %s", ErrDuplicateKey, pops[i].path)
		}
	}
	u := &updater{r: r, created: make(map[Hash][]byte, 2*len(ops))}
	res, err := u.update(subOf(root), 0, pops)
	if err != nil {
		return Empty, nil, nil, err
	}
	// A node rewritten identically (same content, hence same position) is
	// both "old" and "created": it needs neither storing nor pruning.
	out := u.stale[:0]
	for _, h := range u.stale {
		if _, ok := u.created[h]; ok {
			delete(u.created, h)
			continue
		}
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b Hash) int { return bytes.Compare(a[:], b[:]) })
	if len(out) == 0 {
		out = nil
	}
	return res.h, u.created, out, nil
}

// pendingOp is an Op by path: set the value hash vh, or delete.
type pendingOp struct {
	path, vh Hash
	del      bool
}

type kind uint8

const (
	kindUnknown kind = iota // not read yet
	kindEmpty
	kindLeaf
	kindInternal
)

// sub is a subtree: its root hash and, when known, its root's kind.
type sub struct {
	h Hash
	k kind
}

func subOf(h Hash) sub {
	if h == Empty {
		return sub{k: kindEmpty}
	}
	return sub{h: h, k: kindUnknown}
}

type updater struct {
	r       NodeReader
	created map[Hash][]byte
	stale   []Hash
}

// update applies ops (sorted by path, all below s's position at depth) to s.
func (u *updater) update(s sub, depth int, ops []pendingOp) (sub, error) {
	if len(ops) == 0 {
		return s, nil
	}
	if s.k == kindEmpty {
		return u.rebuild(depth, nil, Empty, ops)
	}
	n, err := readNode(u.r, s.h)
	if err != nil {
		return sub{}, err
	}
	if n.leaf {
		return u.rebuild(depth, &n, s.h, ops)
	}
	if depth >= MaxDepth {
		return sub{}, fmt.Errorf("%w: internal node %s below depth %d", ErrCorruptNode, s.h, MaxDepth)
	}
	u.stale = append(u.stale, s.h)
	i := sort.Search(len(ops), func(i int) bool { return bit(&ops[i].path, depth) == 1 })
	l, err := u.update(subOf(n.a), depth+1, ops[:i])
	if err != nil {
		return sub{}, err
	}
	r, err := u.update(subOf(n.b), depth+1, ops[i:])
	if err != nil {
		return sub{}, err
	}
	return u.join(l, r)
}

// newLeaf is a leaf of a subtree being rebuilt; old marks the subtree's
// existing leaf, kept unchanged (hash h).
type newLeaf struct {
	path, vh, h Hash
	old         bool
}

// rebuild applies ops to a subtree at depth that holds at most one leaf,
// old (nil: the subtree is empty; oldHash is its hash).
func (u *updater) rebuild(depth int, old *node, oldHash Hash, ops []pendingOp) (sub, error) {
	leaves := make([]newLeaf, 0, len(ops)+1)
	pending := old != nil // old leaf not placed yet
	for _, op := range ops {
		if pending {
			switch c := bytes.Compare(old.a[:], op.path[:]); {
			case c < 0:
				leaves = append(leaves, newLeaf{path: old.a, vh: old.b, h: oldHash, old: true})
				pending = false
			case c == 0:
				pending = false
				if !op.del && op.vh == old.b {
					leaves = append(leaves, newLeaf{path: old.a, vh: old.b, h: oldHash, old: true})
					continue
				}
				u.stale = append(u.stale, oldHash)
			}
		}
		if !op.del {
			leaves = append(leaves, newLeaf{path: op.path, vh: op.vh})
		}
	}
	if pending {
		leaves = append(leaves, newLeaf{path: old.a, vh: old.b, h: oldHash, old: true})
	}
	return u.build(depth, leaves)
}

// build makes the compact subtree at depth holding leaves (sorted by path,
// all sharing the subtree's depth-bit prefix).
func (u *updater) build(depth int, leaves []newLeaf) (sub, error) {
	switch len(leaves) {
	case 0:
		return sub{k: kindEmpty}, nil
	case 1:
		l := &leaves[0]
		if l.old {
			return sub{h: l.h, k: kindLeaf}, nil
		}
		enc := LeafEncoding(l.path, l.vh)
		h := leafHash(&l.path, &l.vh)
		u.created[h] = enc
		return sub{h: h, k: kindLeaf}, nil
	}
	if depth >= MaxDepth {
		// Two leaves with one path: ruled out by the duplicate check, or a
		// stored leaf under the wrong prefix.
		return sub{}, fmt.Errorf("%w: two leaves share path %s", ErrCorruptNode, leaves[0].path)
	}
	i := sort.Search(len(leaves), func(i int) bool { return bit(&leaves[i].path, depth) == 1 })
	l, err := u.build(depth+1, leaves[:i])
	if err != nil {
		return sub{}, err
	}
	r, err := u.build(depth+1, leaves[i:])
	if err != nil {
		return sub{}, err
	}
	return u.join(l, r)
}

// join makes the subtree whose children are l and r: empty if both are,
// the leaf itself if it is alone, an internal node otherwise.
func (u *updater) join(l, r sub) (sub, error) {
	var err error
	switch {
	case l.k == kindEmpty && r.k == kindEmpty:
		return sub{k: kindEmpty}, nil
	case l.k == kindEmpty:
		if r, err = u.resolve(r); err != nil || r.k == kindLeaf {
			return r, err
		}
	case r.k == kindEmpty:
		if l, err = u.resolve(l); err != nil || l.k == kindLeaf {
			return l, err
		}
	}
	enc := InternalEncoding(l.h, r.h)
	h := internalHash(&l.h, &r.h)
	u.created[h] = enc
	return sub{h: h, k: kindInternal}, nil
}

// resolve reads s's root to learn its kind if it is not known yet.
func (u *updater) resolve(s sub) (sub, error) {
	if s.k != kindUnknown {
		return s, nil
	}
	n, err := readNode(u.r, s.h)
	if err != nil {
		return sub{}, err
	}
	if n.leaf {
		s.k = kindLeaf
	} else {
		s.k = kindInternal
	}
	return s, nil
}

// Get returns the hash of the value stored under key (the tree stores
// SHA-256(value), not the value) and whether key is present.
func Get(r NodeReader, root Hash, key []byte) (valueHash Hash, found bool, err error) {
	if len(key) > MaxKeyLen {
		return Empty, false, fmt.Errorf("%w: %d bytes (max %d)", ErrKeyTooLong, len(key), MaxKeyLen)
	}
	path := KeyPath(key)
	h := root
	for depth := 0; h != Empty; depth++ {
		n, err := readNode(r, h)
		if err != nil {
			return Empty, false, err
		}
		if n.leaf {
			if n.a == path {
				return n.b, true, nil
			}
			return Empty, false, nil
		}
		if depth >= MaxDepth {
			return Empty, false, fmt.Errorf("%w: internal node %s below depth %d", ErrCorruptNode, h, MaxDepth)
		}
		if bit(&path, depth) == 0 {
			h = n.a
		} else {
			h = n.b
		}
	}
	return Empty, false, nil
}

// Prove returns a proof of key's value (membership) or of its absence
// (non-membership) in the tree whose root is root.
func Prove(r NodeReader, root Hash, key []byte) (*Proof, error) {
	if len(key) > MaxKeyLen {
		return nil, fmt.Errorf("%w: %d bytes (max %d)", ErrKeyTooLong, len(key), MaxKeyLen)
	}
	path := KeyPath(key)
	p := &Proof{Siblings: []Hash{}}
	h := root
	for depth := 0; h != Empty; depth++ {
		n, err := readNode(r, h)
		if err != nil {
			return nil, err
		}
		if n.leaf {
			p.Leaf = &Leaf{Path: n.a, ValueHash: n.b}
			return p, nil
		}
		if depth >= MaxDepth {
			return nil, fmt.Errorf("%w: internal node %s below depth %d", ErrCorruptNode, h, MaxDepth)
		}
		if bit(&path, depth) == 0 {
			h = n.a
			p.Siblings = append(p.Siblings, n.b)
		} else {
			h = n.b
			p.Siblings = append(p.Siblings, n.a)
		}
	}
	return p, nil
}
