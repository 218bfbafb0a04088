package smt

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

var updateVectors = flag.Bool("update", false, "rewrite testdata/vectors.json from the implementation")

const vectorsPath = "testdata/vectors.json"

type vectorFile struct {
	Comment string       `json:"comment"`
	Cases   []vectorCase `json:"cases"`
}

type vectorCase struct {
	Name    string        `json:"name"`
	Entries []vectorEntry `json:"entries"` // key and value, hex
	Root    Hash          `json:"root"`
	Nodes   int           `json:"nodes"` // nodes of the tree (leaves and internal)
	Proofs  []vectorProof `json:"proofs"`
}

type vectorEntry struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type vectorProof struct {
	Key       string          `json:"key"`   // hex
	Value     *string         `json:"value"` // hex; null: the proof shows the key absent
	Ends      string          `json:"ends"`  // "member", "empty subtree" or "other leaf"
	Proof     string          `json:"proof"` // canonical CBOR, hex
	ProofJSON json.RawMessage `json:"proof_json"`
}

// vectorSpec is a case's definition: its entries and the keys to prove.
type vectorSpec struct {
	name   string
	keys   []string
	values []string
	prove  []string // keys to prove; "?empty" and "?leaf" pick an absent key whose search ends that way
}

func vectorSpecs() []vectorSpec {
	seq := func(n int, kf, vf string) ([]string, []string) {
		var ks, vs []string
		for i := range n {
			ks = append(ks, fmt.Sprintf(kf, i))
			vs = append(vs, fmt.Sprintf(vf, i))
		}
		return ks, vs
	}
	k32, v32 := seq(32, "key-%d", "value-%d")
	k256, v256 := seq(256, "key-%d", "value-%d")
	return []vectorSpec{
		{name: "empty tree", prove: []string{"a"}},
		{name: "one key", keys: []string{"a"}, values: []string{"1"}, prove: []string{"a", "b"}},
		{name: "two keys", keys: []string{"a", "b"}, values: []string{"1", "2"}, prove: []string{"a", "b", "?leaf"}},
		{name: "empty key and empty value", keys: []string{"", "k"}, values: []string{"empty key", ""}, prove: []string{"", "k", "?leaf"}},
		{name: "32 keys", keys: k32, values: v32, prove: []string{"key-0", "key-17", "?empty", "?leaf"}},
		{name: "256 keys", keys: k256, values: v256, prove: []string{"key-100", "key-255", "?empty", "?leaf"}},
	}
}

// makeVectors computes the vectors from the implementation (one Update of
// all entries), cross-checking each root against the reference.
func makeVectors(t *testing.T) vectorFile {
	t.Helper()
	vf := vectorFile{Comment: "ledger/smt golden vectors: see testdata/README.md"}
	for _, s := range vectorSpecs() {
		m := map[string][]byte{}
		var ops []Op
		c := vectorCase{Name: s.name, Entries: []vectorEntry{}, Proofs: []vectorProof{}}
		for i, k := range s.keys {
			ops = append(ops, kv(k, s.values[i]))
			m[k] = []byte(s.values[i])
			c.Entries = append(c.Entries, vectorEntry{hex.EncodeToString([]byte(k)), hex.EncodeToString([]byte(s.values[i]))})
		}
		root, created, _, err := Update(MapNodes{}, Empty, ops)
		if err != nil {
			t.Fatal(err)
		}
		if root != refRoot(m) {
			t.Fatalf("%s: root %s, reference %s", s.name, root, refRoot(m))
		}
		c.Root, c.Nodes = root, len(created)
		store := MapNodes(created)
		for _, k := range s.prove {
			key := []byte(k)
			if k == "?empty" || k == "?leaf" {
				key = findAbsent(t, store, root, k == "?leaf")
			}
			p, err := Prove(store, root, key)
			if err != nil {
				t.Fatal(err)
			}
			vp := vectorProof{Key: hex.EncodeToString(key), Proof: hex.EncodeToString(p.Encode())}
			switch {
			case p.IsMember(key):
				v := hex.EncodeToString(m[string(key)])
				vp.Value, vp.Ends = &v, "member"
			case p.Leaf == nil:
				vp.Ends = "empty subtree"
			default:
				vp.Ends = "other leaf"
			}
			if vp.ProofJSON, err = json.Marshal(p); err != nil {
				t.Fatal(err)
			}
			c.Proofs = append(c.Proofs, vp)
		}
		vf.Cases = append(vf.Cases, c)
	}
	return vf
}

// findAbsent returns the first key "absent-i" whose search ends at another
// key's leaf (atLeaf) or at an empty subtree.
func findAbsent(t *testing.T, r NodeReader, root Hash, atLeaf bool) []byte {
	t.Helper()
	for i := range 10000 {
		key := fmt.Appendf(nil, "absent-%d", i)
		p, err := Prove(r, root, key)
		if err != nil {
			t.Fatal(err)
		}
		if !p.IsMember(key) && (p.Leaf != nil) == atLeaf {
			return key
		}
	}
	t.Fatalf("no absent key found (atLeaf %v)", atLeaf)
	return nil
}

func TestVectors(t *testing.T) {
	got := makeVectors(t)
	if *updateVectors {
		b, err := json.MarshalIndent(got, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorsPath, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", vectorsPath)
	}
	b, err := os.ReadFile(filepath.FromSlash(vectorsPath))
	if err != nil {
		t.Fatalf("%v (run go test -run TestVectors -update)", err)
	}
	var want vectorFile
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	// The file on its own: the reference gives its roots; every proof decodes,
	// re-encodes to itself, matches its JSON and verifies.
	for _, c := range want.Cases {
		m := map[string][]byte{}
		var ops []Op
		for _, e := range c.Entries {
			k, v := unhex(t, e.Key), unhex(t, e.Value)
			m[string(k)] = v
			ops = append([]Op{{Key: k, Value: v}}, ops...)
		}
		if refRoot(m) != c.Root {
			t.Errorf("%s: the file's root %s, reference %s", c.Name, c.Root, refRoot(m))
		}
		// Built another way: one key at a time, in reverse order.
		store, root := MapNodes{}, Empty
		for _, op := range ops {
			r, created, stale, err := Update(store, root, []Op{op})
			if err != nil {
				t.Fatal(err)
			}
			store.Apply(created, stale)
			root = r
		}
		if root != c.Root || len(store) != c.Nodes {
			t.Errorf("%s: built key by key: root %s with %d nodes, file %s with %d", c.Name, root, len(store), c.Root, c.Nodes)
		}
		for _, vp := range c.Proofs {
			enc := unhex(t, vp.Proof)
			p, err := DecodeProof(enc)
			if err != nil {
				t.Fatalf("%s: proof of %s: %v", c.Name, vp.Key, err)
			}
			if !bytes.Equal(p.Encode(), enc) {
				t.Errorf("%s: proof of %s does not re-encode to itself", c.Name, vp.Key)
			}
			var pj Proof
			if err := json.Unmarshal(vp.ProofJSON, &pj); err != nil || !bytes.Equal(pj.Encode(), enc) {
				t.Errorf("%s: proof_json of %s differs from proof: %v", c.Name, vp.Key, err)
			}
			var value []byte
			if vp.Value != nil {
				value = unhex(t, *vp.Value)
			}
			if err := p.Verify(c.Root, unhex(t, vp.Key), value); err != nil {
				t.Errorf("%s: proof of %s: %v", c.Name, vp.Key, err)
			}
			q, err := Prove(store, root, unhex(t, vp.Key))
			if err != nil || !bytes.Equal(q.Encode(), enc) {
				t.Errorf("%s: Prove(%s) differs from the file: %v", c.Name, vp.Key, err)
			}
		}
	}
	// And the implementation today makes exactly the file.
	if !reflect.DeepEqual(normalize(t, got), normalize(t, want)) {
		t.Fatalf("%s differs from what the implementation computes (run go test -run TestVectors -update and review the diff)", vectorsPath)
	}
}

func normalize(t *testing.T, v vectorFile) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}
