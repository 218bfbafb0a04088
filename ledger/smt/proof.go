package smt

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/bits"

	"github.com/fxamacker/cbor/v2"
)

// Leaf is the leaf a proof's search ended at: a key's path and the hash of
// its value.
type Leaf struct {
	Path      Hash `json:"path"`
	ValueHash Hash `json:"value_hash"`
}

// Proof is a membership or non-membership proof for one key: the siblings
// along the key's path from the root down to where the search ended, and
// the leaf it ended at, if any.
//
// Siblings[i] is the hash of the sibling subtree at depth i+1 met at depth i
// (Empty if that subtree is empty); len(Siblings) is the depth at which the
// search ended (0..256). Leaf is nil if the search ended at an empty subtree.
// If Leaf.Path is the key's path the proof shows the key present with value
// hash Leaf.ValueHash; otherwise it shows the key absent.
type Proof struct {
	Siblings []Hash
	Leaf     *Leaf
}

// MaxProofSize bounds an encoded proof: the CBOR array header, a depth of
// 256 (3 bytes), a 32-byte bitmap (2+32), 256 siblings (3+8192) and a leaf
// (2+64).
const MaxProofSize = 1 + 3 + (2 + MaxDepth/8) + (3 + MaxDepth*32) + (2 + 64)

// MaxProofJSONSize bounds a proof in JSON (about 2.1x the hex-encoded
// MaxProofSize).
const MaxProofJSONSize = 40 << 10

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	eo := cbor.CoreDetEncOptions()
	eo.NilContainers = cbor.NilContainerAsEmpty
	if encMode, err = eo.EncMode(); err != nil {
		panic(err) // constant options; cannot fail at run time
	}
	if decMode, err = (cbor.DecOptions{
		MaxNestedLevels:  4,
		MaxArrayElements: 16,
		MaxMapPairs:      16,
		IndefLength:      cbor.IndefLengthForbidden,
		TagsMd:           cbor.TagsForbidden,
	}).DecMode(); err != nil {
		panic(err)
	}
}

// wireProof is the CBOR form of a Proof (see the package doc).
type wireProof struct {
	_        struct{} `cbor:",toarray"`
	Depth    uint16
	Bitmap   []byte
	Siblings []byte
	Leaf     []byte
}

// IsMember reports whether p claims key present (its leaf is the key's).
func (p *Proof) IsMember(key []byte) bool {
	return p != nil && p.Leaf != nil && p.Leaf.Path == KeyPath(key)
}

// Verify checks p against root: value != nil checks that key maps to value,
// value == nil that key is absent. Errors wrap ErrBadProof (see the Err
// variables for the reasons); a key longer than MaxKeyLen is ErrKeyTooLong.
func (p *Proof) Verify(root Hash, key, value []byte) error {
	if value == nil {
		return p.VerifyHash(root, key, nil)
	}
	vh := HashValue(value)
	return p.VerifyHash(root, key, &vh)
}

// VerifyHash is Verify for a caller that holds the value's hash (as Get
// returns it): valueHash != nil checks key -> *valueHash, nil absence.
func (p *Proof) VerifyHash(root Hash, key []byte, valueHash *Hash) error {
	if len(key) > MaxKeyLen {
		return fmt.Errorf("%w: %d bytes (max %d)", ErrKeyTooLong, len(key), MaxKeyLen)
	}
	if err := p.check(); err != nil {
		return err
	}
	path := KeyPath(key)
	depth := len(p.Siblings)
	var cur Hash
	switch {
	case p.Leaf == nil:
		if valueHash != nil {
			return fmt.Errorf("%w: the proof shows the key absent (empty subtree at depth %d)", ErrValueMismatch, depth)
		}
	case !samePrefix(&p.Leaf.Path, &path, depth):
		return fmt.Errorf("%w: the proof's leaf %s is not on the path of key %s", ErrKeyMismatch, p.Leaf.Path, path)
	case p.Leaf.Path == path && valueHash == nil:
		return fmt.Errorf("%w: the proof shows the key present (value hash %s)", ErrValueMismatch, p.Leaf.ValueHash)
	case p.Leaf.Path == path && *valueHash != p.Leaf.ValueHash:
		return fmt.Errorf("%w: the proof shows value hash %s, not %s", ErrValueMismatch, p.Leaf.ValueHash, *valueHash)
	case p.Leaf.Path != path && valueHash != nil:
		return fmt.Errorf("%w: the proof shows the key absent (leaf of key path %s at depth %d)", ErrValueMismatch, p.Leaf.Path, depth)
	}
	if p.Leaf != nil {
		cur = leafHash(&p.Leaf.Path, &p.Leaf.ValueHash)
	}
	for i := depth - 1; i >= 0; i-- {
		if bit(&path, i) == 0 {
			cur = internalHash(&cur, &p.Siblings[i])
		} else {
			cur = internalHash(&p.Siblings[i], &cur)
		}
	}
	if cur != root {
		return fmt.Errorf("%w: the proof leads to root %s, not %s", ErrRootMismatch, cur, root)
	}
	return nil
}

// check rejects shapes no compact tree produces.
func (p *Proof) check() error {
	if p == nil {
		return fmt.Errorf("%w: nil proof", ErrMalformedProof)
	}
	d := len(p.Siblings)
	if d > MaxDepth {
		return fmt.Errorf("%w: %d siblings (max %d)", ErrMalformedProof, d, MaxDepth)
	}
	// The node above where the search ended is internal, so it holds at least
	// two leaves: the last sibling cannot be empty.
	if d > 0 && p.Siblings[d-1] == Empty {
		return fmt.Errorf("%w: empty sibling at depth %d, next to where the search ended", ErrMalformedProof, d-1)
	}
	return nil
}

// Encode returns the canonical CBOR encoding of p (see the package doc).
// p must be well formed (as Prove and DecodeProof return it).
func (p *Proof) Encode() []byte {
	w := p.wire()
	b, err := encMode.Marshal(&w)
	if err != nil {
		// A fixed struct of integers and byte strings always encodes.
		panic(fmt.Sprintf("smt: encoding a proof: %v", err))
	}
	return b
}

func (p *Proof) wire() wireProof {
	d := len(p.Siblings)
	w := wireProof{Depth: uint16(d), Bitmap: make([]byte, (d+7)/8), Siblings: []byte{}, Leaf: []byte{}}
	for i, s := range p.Siblings {
		if s != Empty {
			w.Bitmap[i>>3] |= 0x80 >> uint(i&7)
			w.Siblings = append(w.Siblings, s[:]...)
		}
	}
	if p.Leaf != nil {
		w.Leaf = append(append(make([]byte, 0, 64), p.Leaf.Path[:]...), p.Leaf.ValueHash[:]...)
	}
	return w
}

// DecodeProof decodes a proof strictly: at most MaxProofSize bytes, the one
// canonical encoding, a consistent bitmap and a shape a compact tree has.
// Errors wrap ErrMalformedProof (and so ErrBadProof).
func DecodeProof(b []byte) (*Proof, error) {
	if len(b) > MaxProofSize {
		return nil, fmt.Errorf("%w: %d bytes (max %d)", ErrMalformedProof, len(b), MaxProofSize)
	}
	var w wireProof
	if err := decMode.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedProof, err)
	}
	again, err := encMode.Marshal(&w)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedProof, err)
	}
	if !bytes.Equal(again, b) {
		return nil, fmt.Errorf("%w: not the canonical encoding", ErrMalformedProof)
	}
	return fromParts(int(w.Depth), w.Bitmap, w.Siblings, w.Leaf)
}

// fromParts builds a proof from its wire parts: depth, the bitmap, the
// non-empty siblings concatenated and the leaf (0 or 64 bytes).
func fromParts(depth int, bitmap, siblings, leaf []byte) (*Proof, error) {
	if depth < 0 || depth > MaxDepth {
		return nil, fmt.Errorf("%w: depth %d (max %d)", ErrMalformedProof, depth, MaxDepth)
	}
	if len(bitmap) != (depth+7)/8 {
		return nil, fmt.Errorf("%w: %d-byte bitmap for depth %d", ErrMalformedProof, len(bitmap), depth)
	}
	if rem := depth & 7; rem != 0 && bitmap[len(bitmap)-1]&(0xff>>uint(rem)) != 0 {
		return nil, fmt.Errorf("%w: bitmap bits set beyond depth %d", ErrMalformedProof, depth)
	}
	n := 0
	for _, c := range bitmap {
		n += bits.OnesCount8(c)
	}
	if len(siblings) != 32*n {
		return nil, fmt.Errorf("%w: %d sibling bytes for %d siblings", ErrMalformedProof, len(siblings), n)
	}
	if len(leaf) != 0 && len(leaf) != 64 {
		return nil, fmt.Errorf("%w: %d-byte leaf (want 0 or 64)", ErrMalformedProof, len(leaf))
	}
	p := &Proof{Siblings: make([]Hash, depth)}
	for i := range p.Siblings {
		if bitmap[i>>3]&(0x80>>uint(i&7)) == 0 {
			continue
		}
		p.Siblings[i] = Hash(siblings[:32])
		siblings = siblings[32:]
		if p.Siblings[i] == Empty {
			return nil, fmt.Errorf("%w: sibling at depth %d is all zero but marked non-empty", ErrMalformedProof, i)
		}
	}
	if len(leaf) == 64 {
		p.Leaf = &Leaf{Path: Hash(leaf[:32]), ValueHash: Hash(leaf[32:])}
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	return p, nil
}

// jsonProof is the JSON form of a Proof: the CBOR fields with hex strings.
type jsonProof struct {
	Depth    int    `json:"depth"`
	Bitmap   string `json:"bitmap"`
	Siblings []Hash `json:"siblings"`
	Leaf     *Leaf  `json:"leaf"`
}

// MarshalJSON encodes p as
// {"depth":N,"bitmap":"hex","siblings":["hex",...],"leaf":{"path":"hex","value_hash":"hex"}|null},
// the same fields as the CBOR form (siblings: the non-empty ones).
func (p Proof) MarshalJSON() ([]byte, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	w := p.wire()
	j := jsonProof{Depth: int(w.Depth), Bitmap: hex.EncodeToString(w.Bitmap), Siblings: []Hash{}}
	for i := 0; i < len(w.Siblings); i += 32 {
		j.Siblings = append(j.Siblings, Hash(w.Siblings[i:i+32]))
	}
	if p.Leaf != nil {
		l := *p.Leaf
		j.Leaf = &l
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes the form MarshalJSON writes, as strictly as
// DecodeProof: unknown fields, a bad bitmap or an inconsistent shape are
// ErrMalformedProof.
func (p *Proof) UnmarshalJSON(b []byte) error {
	if len(b) > MaxProofJSONSize {
		return fmt.Errorf("%w: %d bytes of JSON (max %d)", ErrMalformedProof, len(b), MaxProofJSONSize)
	}
	var j jsonProof
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformedProof, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: data after the proof", ErrMalformedProof)
	}
	if len(j.Siblings) > MaxDepth {
		return fmt.Errorf("%w: %d siblings (max %d)", ErrMalformedProof, len(j.Siblings), MaxDepth)
	}
	bitmap, err := hex.DecodeString(j.Bitmap)
	if err != nil {
		return fmt.Errorf("%w: bitmap: %v", ErrMalformedProof, err)
	}
	sib := make([]byte, 0, 32*len(j.Siblings))
	for _, s := range j.Siblings {
		sib = append(sib, s[:]...)
	}
	var leaf []byte
	if j.Leaf != nil {
		leaf = append(append(leaf, j.Leaf.Path[:]...), j.Leaf.ValueHash[:]...)
	}
	q, err := fromParts(j.Depth, bitmap, sib, leaf)
	if err != nil {
		return err
	}
	*p = *q
	return nil
}
