package smt

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// maxProof is the largest proof the format allows: 256 non-empty siblings
// and a leaf.
func maxProof() *Proof {
	p := &Proof{Siblings: make([]Hash, MaxDepth), Leaf: &Leaf{Path: HashValue([]byte("p")), ValueHash: HashValue([]byte("v"))}}
	for i := range p.Siblings {
		p.Siblings[i] = HashValue([]byte{byte(i), byte(i >> 8)})
	}
	return p
}

func TestMaxProofSize(t *testing.T) {
	enc := maxProof().Encode()
	if len(enc) != MaxProofSize || MaxProofSize != 8299 {
		t.Fatalf("largest proof %d bytes, MaxProofSize %d (the package doc says 8,299)", len(enc), MaxProofSize)
	}
	if _, err := DecodeProof(enc); err != nil {
		t.Fatalf("the largest proof does not decode: %v", err)
	}
	js, err := json.Marshal(maxProof())
	if err != nil || len(js) > MaxProofJSONSize {
		t.Fatalf("largest proof in JSON: %d bytes (max %d), %v", len(js), MaxProofJSONSize, err)
	}
	var q Proof
	if err := json.Unmarshal(js, &q); err != nil || !bytes.Equal(q.Encode(), enc) {
		t.Fatalf("largest proof JSON round trip: %v", err)
	}
}

func TestDecodeProofRejects(t *testing.T) {
	sib := bytes.Repeat([]byte{7}, 32)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	b := func(x ...byte) []byte { return x }
	valid := cat(b(0x84, 0x01, 0x41, 0x80, 0x58, 0x20), sib, b(0x40)) // depth 1, one sibling, empty leaf
	if _, err := DecodeProof(valid); err != nil {
		t.Fatalf("the valid base case: %v", err)
	}
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty input", nil},
		{"oversize", make([]byte, MaxProofSize+1)},
		{"not an array", b(0xa0)},
		{"three elements", b(0x83, 0x00, 0x40, 0x40)},
		{"five elements", b(0x85, 0x00, 0x40, 0x40, 0x40, 0x40)},
		{"trailing byte", cat(valid, b(0x00))},
		{"non-minimal depth", cat(b(0x84, 0x18, 0x01, 0x41, 0x80, 0x58, 0x20), sib, b(0x40))},
		{"indefinite array", b(0x9f, 0x00, 0x40, 0x40, 0x40, 0xff)},
		{"indefinite bytes", b(0x84, 0x00, 0x5f, 0xff, 0x40, 0x40)},
		{"tagged", b(0xc0, 0x84, 0x00, 0x40, 0x40, 0x40)},
		{"null leaf", b(0x84, 0x00, 0x40, 0x40, 0xf6)},
		{"text bitmap", b(0x84, 0x00, 0x60, 0x40, 0x40)},
		{"negative depth", b(0x84, 0x20, 0x40, 0x40, 0x40)},
		{"depth 257", cat(b(0x84, 0x19, 0x01, 0x01, 0x58, 0x21), make([]byte, 33), b(0x40, 0x40))},
		{"depth 65535", b(0x84, 0x19, 0xff, 0xff, 0x40, 0x40, 0x40)},
		{"bitmap too short", cat(b(0x84, 0x01, 0x40, 0x58, 0x20), sib, b(0x40))},
		{"bitmap too long", cat(b(0x84, 0x01, 0x42, 0x80, 0x00, 0x58, 0x20), sib, b(0x40))},
		{"bitmap bit beyond depth", cat(b(0x84, 0x01, 0x41, 0xc0, 0x58, 0x20), sib, b(0x40))},
		{"missing sibling", b(0x84, 0x01, 0x41, 0x80, 0x40, 0x40)},
		{"extra sibling bytes", cat(b(0x84, 0x01, 0x41, 0x80, 0x58, 0x21), sib, b(0x00, 0x40))},
		{"zero sibling marked non-empty", cat(b(0x84, 0x01, 0x41, 0x80, 0x58, 0x20), make([]byte, 32), b(0x40))},
		{"last sibling empty", b(0x84, 0x01, 0x41, 0x00, 0x40, 0x40)},
		{"63-byte leaf", cat(b(0x84, 0x00, 0x40, 0x40, 0x58, 0x3f), make([]byte, 63))},
		{"65-byte leaf", cat(b(0x84, 0x00, 0x40, 0x40, 0x58, 0x41), make([]byte, 65))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := DecodeProof(tc.in)
			if err == nil {
				t.Fatalf("accepted: %+v", p)
			}
			if !errors.Is(err, ErrMalformedProof) || !errors.Is(err, ErrBadProof) || errors.Is(err, ErrProofMismatch) {
				t.Fatalf("error %v is not (only) ErrMalformedProof", err)
			}
		})
	}
}

func TestUnmarshalJSONRejects(t *testing.T) {
	s := HashValue([]byte("s")).String()
	for name, in := range map[string]string{
		"not JSON":        `{`,
		"unknown field":   `{"depth":0,"bitmap":"","siblings":[],"leaf":null,"x":1}`,
		"bad bitmap hex":  `{"depth":1,"bitmap":"zz","siblings":["` + s + `"],"leaf":null}`,
		"bitmap mismatch": `{"depth":1,"bitmap":"00","siblings":["` + s + `"],"leaf":null}`,
		"short hash":      `{"depth":1,"bitmap":"80","siblings":["00"],"leaf":null}`,
		"depth 300":       `{"depth":300,"bitmap":"","siblings":[],"leaf":null}`,
		"negative depth":  `{"depth":-1,"bitmap":"","siblings":[],"leaf":null}`,
		"two values":      `{"depth":0,"bitmap":"","siblings":[],"leaf":null} {}`,
		"bad leaf":        `{"depth":0,"bitmap":"","siblings":[],"leaf":{"path":"00","value_hash":"00"}}`,
	} {
		var p Proof
		if err := p.UnmarshalJSON([]byte(in)); !errors.Is(err, ErrMalformedProof) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestVerifyReasons(t *testing.T) {
	md := newModel()
	var ops []Op
	for i := range 64 {
		ops = append(ops, Op{Key: keyN(i), Value: keyN(i)})
	}
	md.apply(t, ops)
	member, _ := Prove(md.store, md.root, keyN(3))
	// An absent key whose search ends at another key's leaf.
	var absent []byte
	var nonMember *Proof
	for i := 1000; nonMember == nil; i++ {
		k := keyN(i)
		if p, _ := Prove(md.store, md.root, k); p.Leaf != nil {
			absent, nonMember = k, p
		}
	}
	tests := []struct {
		name  string
		p     *Proof
		root  Hash
		key   []byte
		value []byte
		want  error // nil: accepted
	}{
		{"membership", member, md.root, keyN(3), keyN(3), nil},
		{"non-membership", nonMember, md.root, absent, nil, nil},
		{"wrong value", member, md.root, keyN(3), keyN(4), ErrValueMismatch},
		{"member claimed absent", member, md.root, keyN(3), nil, ErrValueMismatch},
		{"absent claimed present", nonMember, md.root, absent, []byte("v"), ErrValueMismatch},
		{"another root", member, HashValue([]byte("r")), keyN(3), keyN(3), ErrRootMismatch},
		{"empty root", member, Empty, keyN(3), keyN(3), ErrRootMismatch},
		{"another key's membership proof", member, md.root, keyN(5), nil, nil}, // set below
		{"nil proof", nil, md.root, keyN(3), keyN(3), ErrMalformedProof},
		{"257 siblings", &Proof{Siblings: make([]Hash, MaxDepth+1)}, md.root, keyN(3), nil, ErrMalformedProof},
	}
	// The proof of key-3 used for key-5: its leaf is off key-5's path if the
	// paths diverge above the leaf's depth, else the root differs.
	p5 := KeyPath(keyN(5))
	if samePrefix(&member.Leaf.Path, &p5, len(member.Siblings)) {
		tests[7].want = ErrRootMismatch
	} else {
		tests[7].want = ErrKeyMismatch
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Verify(tc.root, tc.key, tc.value)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) || !errors.Is(err, ErrBadProof) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	if err := member.Verify(md.root, make([]byte, MaxKeyLen+1), nil); !errors.Is(err, ErrKeyTooLong) {
		t.Fatalf("long key: %v", err)
	}
}
