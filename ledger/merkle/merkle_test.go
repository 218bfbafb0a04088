package merkle

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
)

// referenceRoot is the recursive definition of RFC 6962 section 2.1.
func referenceRoot(leaves [][]byte) [HashSize]byte {
	n := len(leaves)
	switch n {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return LeafHash(leaves[0])
	}
	k := 1
	for k*2 < n {
		k *= 2
	}
	return NodeHash(referenceRoot(leaves[:k]), referenceRoot(leaves[k:]))
}

func makeLeaves(n int) [][]byte {
	leaves := make([][]byte, n)
	for i := range leaves {
		leaves[i] = []byte(fmt.Sprintf("leaf-%d", i))
	}
	return leaves
}

func TestRootMatchesRecursiveDefinition(t *testing.T) {
	for n := 0; n <= 70; n++ {
		leaves := makeLeaves(n)
		if got, want := Root(leaves), referenceRoot(leaves); got != want {
			t.Fatalf("n=%d: Root=%x, recursive definition=%x", n, got, want)
		}
	}
}

// The RFC 6962 empty-tree and single-leaf heads (as in Certificate Transparency's test vectors).
func TestKnownHeads(t *testing.T) {
	if got := hex.EncodeToString(func() []byte { r := Root(nil); return r[:] }()); got != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Fatalf("empty head = %s", got)
	}
	// RFC 6962 leaf hash of the empty string.
	l := LeafHash(nil)
	if got := hex.EncodeToString(l[:]); got != "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d" {
		t.Fatalf("empty leaf hash = %s", got)
	}
}

func TestPathsVerifyForEveryLeaf(t *testing.T) {
	for n := 1; n <= 40; n++ {
		leaves := makeLeaves(n)
		root := Root(leaves)
		for i := range leaves {
			path, err := Path(leaves, i)
			if err != nil {
				t.Fatal(err)
			}
			if err := Verify(root, leaves[i], uint64(i), uint64(n), path); err != nil {
				t.Fatalf("n=%d i=%d: %v", n, i, err)
			}
			// The same path must not prove another leaf, index or size.
			if err := Verify(root, []byte("forged"), uint64(i), uint64(n), path); !errors.Is(err, ErrInvalidProof) {
				t.Fatalf("n=%d i=%d: forged leaf accepted: %v", n, i, err)
			}
			if n > 1 {
				other := (i + 1) % n
				if err := Verify(root, leaves[i], uint64(other), uint64(n), path); err == nil {
					t.Fatalf("n=%d i=%d: proof accepted at index %d", n, i, other)
				}
			}
		}
	}
}

func TestVerifyRejectsMalformedPaths(t *testing.T) {
	leaves := makeLeaves(5)
	root := Root(leaves)
	path, _ := Path(leaves, 2)
	cases := map[string]struct {
		index, size uint64
		path        [][HashSize]byte
	}{
		"index beyond size": {index: 5, size: 5, path: path},
		"truncated path":    {index: 2, size: 5, path: path[:1]},
		"extended path":     {index: 2, size: 5, path: append(append([][HashSize]byte{}, path...), path[0])},
		"size zero":         {index: 0, size: 0, path: nil},
		"overlong path":     {index: 2, size: 5, path: make([][HashSize]byte, MaxPathLen+1)},
	}
	for name, c := range cases {
		if err := Verify(root, leaves[2], c.index, c.size, c.path); !errors.Is(err, ErrInvalidProof) {
			t.Errorf("%s: got %v, want ErrInvalidProof", name, err)
		}
	}
	if _, err := Path(leaves, 5); err == nil {
		t.Error("Path accepted an index out of range")
	}
}

func BenchmarkRoot1000(b *testing.B) {
	leaves := make([][]byte, 1000)
	for i := range leaves {
		leaves[i] = make([]byte, 200)
		leaves[i][0] = byte(i)
	}
	b.ResetTimer()
	for b.Loop() {
		Root(leaves)
	}
}
