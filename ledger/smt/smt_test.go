package smt

import (
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
)

func TestEmptyTree(t *testing.T) {
	md := newModel()
	if refRoot(nil) != Empty || md.root != Empty {
		t.Fatal("the empty tree's root is not Empty")
	}
	md.checkKey(t, []byte("a"), Empty)
	p, _ := Prove(md.store, Empty, []byte("a"))
	if len(p.Siblings) != 0 || p.Leaf != nil {
		t.Fatalf("proof in the empty tree: %+v", p)
	}
	// Deleting absent keys from the empty tree changes nothing.
	root, created, stale, err := Update(md.store, Empty, []Op{del("a"), del("b")})
	if err != nil || root != Empty || len(created) != 0 || len(stale) != 0 {
		t.Fatalf("deleting from the empty tree: %s %d %d %v", root, len(created), len(stale), err)
	}
}

func TestSingleLeafIsRoot(t *testing.T) {
	md := newModel()
	md.apply(t, []Op{kv("a", "1")})
	path, vh := sha256.Sum256([]byte("a")), sha256.Sum256([]byte("1"))
	want := sha256.Sum256(append(append([]byte{0}, path[:]...), vh[:]...))
	if md.root != want {
		t.Fatalf("root %s, want the leaf %x", md.root, want)
	}
	if len(md.store) != 1 {
		t.Fatalf("%d nodes stored for one key", len(md.store))
	}
	md.checkKey(t, []byte("a"), Empty)
	md.checkKey(t, []byte("b"), Empty)
	// Deleting the only key gives the empty tree and prunes the leaf.
	md.apply(t, []Op{del("a")})
	if md.root != Empty || len(md.store) != 0 {
		t.Fatalf("after deleting the only key: root %s, %d nodes", md.root, len(md.store))
	}
}

func TestTable(t *testing.T) {
	tests := []struct {
		name    string
		batches [][]Op
		nodes   int // nodes of the final tree
	}{
		{"two keys", [][]Op{{kv("a", "1"), kv("b", "2")}}, 0},
		{"two keys one at a time", [][]Op{{kv("a", "1")}, {kv("b", "2")}}, 0},
		{"update in place", [][]Op{{kv("a", "1"), kv("b", "2")}, {kv("a", "3")}}, 0},
		{"rewrite same value", [][]Op{{kv("a", "1"), kv("b", "2")}, {kv("a", "1")}}, 0},
		{"empty value is a value", [][]Op{{kv("a", ""), kv("b", "")}}, 0},
		{"delete collapses", [][]Op{{kv("a", "1"), kv("b", "2"), kv("c", "3")}, {del("b"), del("c")}}, 1},
		{"delete all", [][]Op{{kv("a", "1"), kv("b", "2"), kv("c", "3")}, {del("a"), del("b"), del("c")}}, 0},
		{"delete absent", [][]Op{{kv("a", "1"), kv("b", "2")}, {del("zz")}}, 0},
		{"insert and delete in one batch", [][]Op{{kv("a", "1"), kv("b", "2")}, {del("a"), kv("c", "3"), kv("d", "4")}}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			md := newModel()
			for _, ops := range tc.batches {
				md.apply(t, ops)
			}
			if tc.nodes != 0 && len(md.store) != tc.nodes {
				t.Fatalf("%d nodes, want %d", len(md.store), tc.nodes)
			}
			for _, k := range []string{"a", "b", "c", "d", "zz", ""} {
				md.checkKey(t, []byte(k), Empty)
			}
		})
	}
}

func TestEmptyValueDiffersFromDelete(t *testing.T) {
	md := newModel()
	md.apply(t, []Op{{Key: []byte("k"), Value: []byte{}}})
	if _, found, _ := Get(md.store, md.root, []byte("k")); !found {
		t.Fatal("an empty non-nil value was not stored")
	}
	md.apply(t, []Op{{Key: []byte("k"), Value: nil}})
	if md.root != Empty {
		t.Fatal("a nil value did not delete")
	}
}

func TestUpdateErrors(t *testing.T) {
	md := newModel()
	md.apply(t, []Op{kv("a", "1"), kv("b", "2"), kv("c", "3")})
	long := make([]byte, MaxKeyLen+1)
	if _, _, _, err := Update(md.store, md.root, []Op{kv("x", "1"), {Key: long, Value: []byte("v")}}); !errors.Is(err, ErrKeyTooLong) {
		t.Fatalf("long key: %v", err)
	}
	if _, _, _, err := Update(md.store, md.root, []Op{kv("x", "1"), {Key: make([]byte, MaxKeyLen), Value: []byte("v")}}); err != nil {
		t.Fatalf("key of MaxKeyLen: %v", err)
	}
	if _, _, _, err := Update(md.store, md.root, []Op{kv("x", "1"), del("x")}); !errors.Is(err, ErrDuplicateKey) {
		t.Fatalf("duplicate key: %v", err)
	}
	if _, _, err := Get(md.store, md.root, long); !errors.Is(err, ErrKeyTooLong) {
		t.Fatalf("Get long key: %v", err)
	}
	if _, err := Prove(md.store, md.root, long); !errors.Is(err, ErrKeyTooLong) {
		t.Fatalf("Prove long key: %v", err)
	}
	// A missing node and a corrupt node are reported as such.
	if _, _, _, err := Update(MapNodes{}, md.root, []Op{kv("x", "1")}); !errors.Is(err, ErrMissingNode) {
		t.Fatalf("missing root node: %v", err)
	}
	if _, _, err := Get(MapNodes{}, md.root, []byte("a")); !errors.Is(err, ErrMissingNode) {
		t.Fatalf("Get missing: %v", err)
	}
	bad := MapNodes{}
	for h, b := range md.store {
		c := append([]byte(nil), b...)
		c[40] ^= 1
		bad[h] = c
	}
	for name, f := range map[string]func() error{
		"Update": func() error { _, _, _, err := Update(bad, md.root, []Op{kv("x", "1")}); return err },
		"Get":    func() error { _, _, err := Get(bad, md.root, []byte("a")); return err },
		"Prove":  func() error { _, err := Prove(bad, md.root, []byte("a")); return err },
	} {
		if err := f(); !errors.Is(err, ErrCorruptNode) {
			t.Fatalf("%s over corrupt nodes: %v", name, err)
		}
	}
}

func TestUpdateIgnoresOrder(t *testing.T) {
	var ops []Op
	for i := range 200 {
		ops = append(ops, Op{Key: keyN(i), Value: keyN(i * 7)})
	}
	r1, c1, _, err := Update(MapNodes{}, Empty, ops)
	if err != nil {
		t.Fatal(err)
	}
	rev := make([]Op, len(ops))
	for i := range ops {
		rev[len(ops)-1-i] = ops[i]
	}
	r2, c2, _, err := Update(MapNodes{}, Empty, rev)
	if err != nil {
		t.Fatal(err)
	}
	if r1 != r2 || len(c1) != len(c2) {
		t.Fatalf("order changed the result: %s/%d vs %s/%d", r1, len(c1), r2, len(c2))
	}
}

// A hand-made chain of internal nodes that follows a key's path past its
// 256 bits is refused as corrupt, not followed past the path's end.
func TestTooDeepIsCorrupt(t *testing.T) {
	store := MapNodes{}
	leafA := LeafEncoding(KeyPath([]byte("a")), HashValue([]byte("1")))
	leafB := LeafEncoding(KeyPath([]byte("b")), HashValue([]byte("2")))
	ha, hb := Hash(sha256.Sum256(leafA)), Hash(sha256.Sum256(leafB))
	store[ha], store[hb] = leafA, leafB
	put := func(enc []byte) Hash {
		h := Hash(sha256.Sum256(enc))
		store[h] = enc
		return h
	}
	cur := put(InternalEncoding(ha, hb)) // at depth 256
	key := []byte("x")
	path := KeyPath(key)
	for d := MaxDepth - 1; d >= 0; d-- {
		if bit(&path, d) == 0 {
			cur = put(InternalEncoding(cur, Empty))
		} else {
			cur = put(InternalEncoding(Empty, cur))
		}
	}
	if _, _, err := Get(store, cur, key); !errors.Is(err, ErrCorruptNode) {
		t.Fatalf("Get: %v", err)
	}
	if _, err := Prove(store, cur, key); !errors.Is(err, ErrCorruptNode) {
		t.Fatalf("Prove: %v", err)
	}
	if _, _, _, err := Update(store, cur, []Op{{Key: key, Value: []byte("v")}}); !errors.Is(err, ErrCorruptNode) {
		t.Fatalf("Update: %v", err)
	}
}

func TestHashText(t *testing.T) {
	h := HashValue([]byte("x"))
	txt, _ := h.MarshalText()
	if string(txt) != h.String() || len(txt) != 64 || strings.ToLower(string(txt)) != string(txt) {
		t.Fatalf("text %q", txt)
	}
	var g Hash
	if err := g.UnmarshalText(txt); err != nil || g != h {
		t.Fatalf("round trip: %v", err)
	}
	for _, bad := range []string{"", "00", strings.Repeat("g", 64), strings.Repeat("0", 66)} {
		if _, err := ParseHash(bad); !errors.Is(err, ErrBadHash) {
			t.Fatalf("ParseHash(%q): %v", bad, err)
		}
	}
}
