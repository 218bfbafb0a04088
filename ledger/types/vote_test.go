package types

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/sixdomain/sixdomain/identity"
)

// cp returns a checkpoint whose hash is filled with b.
func cp(height uint64, b byte) Checkpoint {
	var h Hash
	for i := range h {
		h[i] = b
	}
	return Checkpoint{Height: height, Hash: h}
}

// signedVote returns key's vote source → target on chain.
func signedVote(key *identity.PrivateKey, chain string, source, target Checkpoint) *FinalityVote {
	v := &FinalityVote{ChainID: chain, Source: source, Target: target}
	v.Sign(key)
	return v
}

func TestVoteRoundTrip(t *testing.T) {
	key := seedKey(t, 7)
	v := signedVote(key, testChain, cp(5, 0xaa), cp(300, 0xbb))
	if v.Voter != key.Public() || len(v.Signature) != 64 {
		t.Fatal("Sign did not set voter and signature")
	}
	enc := v.Encode()
	got, err := DecodeVote(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Encode(), enc) || got.Hash() != v.Hash() || got.ChainID != testChain ||
		got.Source != v.Source || got.Target != v.Target || got.Voter != v.Voter || !bytes.Equal(got.Signature, v.Signature) {
		t.Fatalf("round trip changed the vote: %+v", got)
	}
	if err := got.VerifySignature(); err != nil {
		t.Fatal(err)
	}
	// The hash does not cover the signature; everything else is covered.
	other := *got
	other.Signature = bytes.Repeat([]byte{9}, 64)
	if other.Hash() != got.Hash() {
		t.Fatal("vote hash depends on the signature")
	}
	if err := other.VerifySignature(); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("forged signature: %v", err)
	}
	for name, mutate := range map[string]func(*FinalityVote){
		"chain":         func(v *FinalityVote) { v.ChainID = "other" },
		"source height": func(v *FinalityVote) { v.Source.Height++ },
		"source hash":   func(v *FinalityVote) { v.Source.Hash[3] ^= 1 },
		"target height": func(v *FinalityVote) { v.Target.Height++ },
		"target hash":   func(v *FinalityVote) { v.Target.Hash[31] ^= 1 },
		"voter":         func(v *FinalityVote) { v.Voter = seedKey(t, 8).Public() },
	} {
		m := *got
		mutate(&m)
		if m.Hash() == got.Hash() {
			t.Errorf("hash does not cover the %s", name)
		}
		if err := m.VerifySignature(); !errors.Is(err, ErrBadSignature) {
			t.Errorf("signature still verifies with another %s: %v", name, err)
		}
	}
}

// TestVoteEncoding pins the vote's encoding, hash and signed message
// against a hand-built CBOR encoding.
func TestVoteEncoding(t *testing.T) {
	key := seedKey(t, 7)
	v := signedVote(key, testChain, cp(5, 0xaa), cp(300, 0xbb))
	pub := key.Public()

	var body bytes.Buffer
	body.WriteByte(0x6e) // text(14)
	body.WriteString(testChain)
	body.Write([]byte{0x82, 0x05, 0x58, 0x20}) // [5, bytes(32)
	body.Write(bytes.Repeat([]byte{0xaa}, 32))
	body.Write([]byte{0x82, 0x19, 0x01, 0x2c, 0x58, 0x20}) // [300, bytes(32)
	body.Write(bytes.Repeat([]byte{0xbb}, 32))
	body.Write([]byte{0x58, 0x20}) // voter
	body.Write(pub[:])

	want := append([]byte{0x85}, body.Bytes()...)
	want = append(append(want, 0x58, 0x40), v.Signature...)
	if got := v.Encode(); !bytes.Equal(got, want) {
		t.Fatalf("encoding\n got %x\nwant %x", got, want)
	}
	unsigned := append([]byte{0x84}, body.Bytes()...)
	if h := v.Hash(); h != sha256.Sum256(unsigned) {
		t.Fatalf("hash %s is not SHA-256 of the unsigned 4-element array", h)
	}
	h := v.Hash()
	if msg := v.SignBytes(); !bytes.Equal(msg, append([]byte("SIXDOMAIN-VOTE-V1\x00"), h[:]...)) {
		t.Fatalf("sign bytes %x", msg)
	}
	if !pub.Verify(v.SignBytes(), v.Signature) {
		t.Fatal("signature is not over the sign bytes")
	}
	// A vote signature is not a transaction or block signature.
	if bytes.HasPrefix(v.SignBytes(), []byte("SIXDOMAIN-TX-V1")) || bytes.HasPrefix(v.SignBytes(), []byte("SIXDOMAIN-BLOCK-V1")) {
		t.Fatal("vote domain overlaps another")
	}
	// Ed25519 is deterministic: the same vote signs to the same bytes.
	if again := signedVote(key, testChain, cp(5, 0xaa), cp(300, 0xbb)); !bytes.Equal(again.Encode(), want) {
		t.Fatal("signing is not deterministic")
	}
}

func TestDecodeVoteRejects(t *testing.T) {
	key := seedKey(t, 7)
	good := func() *FinalityVote { return signedVote(key, testChain, cp(5, 0xaa), cp(6, 0xbb)) }
	marshalVote := func(v *FinalityVote) []byte { return marshal(v) }
	cases := []struct {
		name string
		data func() []byte
		want error
	}{
		{"oversize", func() []byte { return make([]byte, MaxVoteBytes+1) }, ErrOversize},
		{"empty", func() []byte { return nil }, ErrUndecodable},
		{"not cbor", func() []byte { return []byte("vote") }, ErrUndecodable},
		{"truncated", func() []byte { b := good().Encode(); return b[:len(b)-1] }, ErrUndecodable},
		{"non-canonical height", func() []byte {
			// Source height 5 as 0x18 0x05 instead of 0x05.
			b := good().Encode()
			i := bytes.Index(b, []byte{0x82, 0x05, 0x58, 0x20})
			if i < 0 {
				t.Fatal("layout changed")
			}
			return append(append(append([]byte{}, b[:i+1]...), 0x18, 0x05), b[i+2:]...)
		}, ErrNonCanonical},
		{"extra element", func() []byte {
			v := good()
			b, _ := encMode.Marshal([]any{v.ChainID, v.Source, v.Target, v.Voter, v.Signature, 0})
			return b
		}, ErrUndecodable},
		{"short voter", func() []byte {
			v := good()
			b, _ := encMode.Marshal([]any{v.ChainID, v.Source, v.Target, v.Voter[:31], v.Signature})
			return b
		}, ErrNonCanonical},
		{"target equals source", func() []byte {
			return signedVote(key, testChain, cp(5, 0xaa), cp(5, 0xbb)).Encode()
		}, ErrBadVote},
		{"target below source", func() []byte {
			return signedVote(key, testChain, cp(5, 0xaa), cp(4, 0xbb)).Encode()
		}, ErrBadVote},
		{"short signature", func() []byte { v := good(); v.Signature = v.Signature[:63]; return marshalVote(v) }, ErrBadSignature},
		{"no signature", func() []byte { v := good(); v.Signature = nil; return marshalVote(v) }, ErrBadSignature},
		{"long signature", func() []byte { v := good(); v.Signature = append(v.Signature, 0); return marshalVote(v) }, ErrBadSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := DecodeVote(c.data())
			if !errors.Is(err, c.want) || v != nil {
				t.Fatalf("DecodeVote = %v, %v; want %v", v, err, c.want)
			}
		})
	}
	// A commit vote (source == target) decodes.
	commit := signedVote(key, testChain, cp(5, 0xaa), cp(5, 0xaa))
	if v, err := DecodeVote(commit.Encode()); err != nil || !v.IsCommit() || v.Hash() != commit.Hash() {
		t.Fatalf("commit vote: %v, %v", v, err)
	}
	if good().IsCommit() {
		t.Fatal("a normal vote is a commit vote")
	}
	// DecodeVote checks form, not the signature.
	v := good()
	v.Signature[0] ^= 1
	if _, err := DecodeVote(v.Encode()); err != nil {
		t.Fatalf("DecodeVote checks the signature: %v", err)
	}
}

func TestConflict(t *testing.T) {
	k1, k2 := seedKey(t, 1), seedKey(t, 2)
	vote := func(k *identity.PrivateKey, s uint64, sb byte, tt uint64, tb byte) *FinalityVote {
		return signedVote(k, testChain, cp(s, sb), cp(tt, tb))
	}
	other := signedVote(k1, "other-chain", cp(0, 0), cp(5, 0xb))
	cases := []struct {
		name string
		a, b *FinalityVote
		want string // "" for no conflict
	}{
		{"double, same source", vote(k1, 0, 0, 5, 0xa), vote(k1, 0, 0, 5, 0xb), "double"},
		{"double, other source", vote(k1, 1, 1, 5, 0xa), vote(k1, 3, 3, 5, 0xb), "double"},
		{"double, other source height", vote(k1, 4, 1, 5, 0xa), vote(k1, 0, 0, 5, 0xb), "double"},
		{"a surrounds b", vote(k1, 1, 1, 10, 0xa), vote(k1, 2, 2, 9, 0xb), "surround"},
		{"b surrounds a", vote(k1, 2, 2, 9, 0xb), vote(k1, 1, 1, 10, 0xa), "surround"},
		{"surround by one each side", vote(k1, 0, 0, 3, 0xa), vote(k1, 1, 1, 2, 0xa), "surround"},
		{"same vote", vote(k1, 0, 0, 5, 0xa), vote(k1, 0, 0, 5, 0xa), ""},
		{"different voters, double", vote(k1, 0, 0, 5, 0xa), vote(k2, 0, 0, 5, 0xb), ""},
		{"different voters, surround", vote(k1, 1, 1, 10, 0xa), vote(k2, 2, 2, 9, 0xb), ""},
		{"different chains", vote(k1, 0, 0, 5, 0xa), other, ""},
		{"consecutive links", vote(k1, 0, 0, 5, 0xa), vote(k1, 5, 0xa, 6, 0xb), ""},
		{"overlapping, not nested", vote(k1, 1, 1, 5, 0xa), vote(k1, 2, 2, 6, 0xb), ""},
		{"same source, higher target", vote(k1, 1, 1, 5, 0xa), vote(k1, 1, 1, 9, 0xb), ""},
		{"same target, other source", vote(k1, 1, 1, 5, 0xa), vote(k1, 2, 2, 5, 0xa), ""},
		{"same target height and hash, nested sources", vote(k1, 1, 1, 9, 0xa), vote(k1, 2, 2, 9, 0xa), ""},
		{"disjoint", vote(k1, 0, 0, 2, 0xa), vote(k1, 3, 3, 4, 0xb), ""},
		// Commit votes (source == target: the link epoch 2h → 2h+1).
		{"two commits, one height", vote(k1, 5, 0xa, 5, 0xa), vote(k1, 5, 0xb, 5, 0xb), "double"},
		{"same commit", vote(k1, 5, 0xa, 5, 0xa), vote(k1, 5, 0xa, 5, 0xa), ""},
		{"commits at two heights", vote(k1, 5, 0xa, 5, 0xa), vote(k1, 6, 0xb, 6, 0xb), ""},
		{"commit and normal vote for another block at its height", vote(k1, 5, 0xa, 5, 0xa), vote(k1, 4, 4, 5, 0xb), ""},
		{"commit and normal vote for its block", vote(k1, 5, 0xa, 5, 0xa), vote(k1, 4, 4, 5, 0xa), ""},
		{"normal vote surrounds commit", vote(k1, 4, 4, 6, 0xb), vote(k1, 5, 0xa, 5, 0xa), "surround"},
		{"normal vote surrounds commit, wide", vote(k1, 0, 0, 9, 0xb), vote(k1, 5, 0xa, 5, 0xa), "surround"},
		{"normal vote from the commit's block", vote(k1, 5, 0xa, 6, 0xb), vote(k1, 5, 0xa, 5, 0xa), ""},
		{"normal vote from the commit's height, other block", vote(k1, 5, 0xc, 9, 0xb), vote(k1, 5, 0xa, 5, 0xa), ""},
		{"normal vote ending below the commit", vote(k1, 1, 1, 4, 0xb), vote(k1, 5, 0xa, 5, 0xa), ""},
		{"normal vote from above the commit", vote(k1, 6, 6, 9, 0xb), vote(k1, 5, 0xa, 5, 0xa), ""},
	}
	for _, c := range cases {
		for _, swap := range []bool{false, true} {
			a, b := c.a, c.b
			if swap {
				a, b = b, a
			}
			kind, ok := Conflict(a, b)
			if kind != c.want || ok != (c.want != "") {
				t.Errorf("%s (swapped %v): Conflict = %q, %v; want %q", c.name, swap, kind, ok, c.want)
			}
		}
	}
}

func TestEvidenceRoundTrip(t *testing.T) {
	key := seedKey(t, 3)
	a := signedVote(key, testChain, cp(0, 0), cp(5, 0xa))
	b := signedVote(key, testChain, cp(1, 1), cp(5, 0xb))
	e1, err := NewEvidence(a, b)
	if err != nil {
		t.Fatal(err)
	}
	e2, err := NewEvidence(b, a)
	if err != nil {
		t.Fatal(err)
	}
	enc := e1.Encode()
	if !bytes.Equal(enc, e2.Encode()) {
		t.Fatal("the pair has two encodings")
	}
	offender, va, vb, err := DecodeEvidence(testChain, enc)
	if err != nil {
		t.Fatal(err)
	}
	if offender != key.Public() || va.Voter != offender || vb.Voter != offender {
		t.Fatalf("offender %s", offender.DID())
	}
	ha, hb := va.Hash(), vb.Hash()
	if bytes.Compare(ha[:], hb[:]) >= 0 {
		t.Fatal("votes not in hash order")
	}
	if !(va.Hash() == a.Hash() && vb.Hash() == b.Hash() || va.Hash() == b.Hash() && vb.Hash() == a.Hash()) {
		t.Fatal("decoded votes are not the pair")
	}
	// Hand-built: [bytes(vote_lo), bytes(vote_hi)].
	lo, hi := a.Encode(), b.Encode()
	if ah, bh := a.Hash(), b.Hash(); bytes.Compare(ah[:], bh[:]) > 0 {
		lo, hi = hi, lo
	}
	want := []byte{0x82}
	want = append(append(want, 0x58, byte(len(lo))), lo...)
	want = append(append(want, 0x58, byte(len(hi))), hi...)
	if len(lo) < 24 || len(lo) > 255 || len(hi) > 255 || !bytes.Equal(enc, want) {
		t.Fatalf("evidence encoding\n got %x\nwant %x", enc, want)
	}

	// Two commit votes for different blocks at one height are a double
	// vote; a normal vote around a commit vote is a surround vote.
	for name, pair := range map[string][2]*FinalityVote{
		"double commit":   {signedVote(key, testChain, cp(7, 0xa), cp(7, 0xa)), signedVote(key, testChain, cp(7, 0xb), cp(7, 0xb))},
		"surround commit": {signedVote(key, testChain, cp(6, 6), cp(8, 0xc)), signedVote(key, testChain, cp(7, 0xa), cp(7, 0xa))},
	} {
		ec, err := NewEvidence(pair[0], pair[1])
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if off, _, _, err := DecodeEvidence(testChain, ec.Encode()); err != nil || off != key.Public() {
			t.Fatalf("%s evidence: %v", name, err)
		}
	}
	// A commit vote and a normal vote that do not conflict are no evidence.
	if _, err := NewEvidence(signedVote(key, testChain, cp(6, 6), cp(7, 0xb)), signedVote(key, testChain, cp(7, 0xa), cp(7, 0xa))); !errors.Is(err, ErrBadPayload) {
		t.Fatalf("commit vote and a normal vote for another block at its height: %v", err)
	}

	// A surround pair works the same way.
	s1 := signedVote(key, testChain, cp(1, 1), cp(10, 0xa))
	s2 := signedVote(key, testChain, cp(2, 2), cp(9, 0xb))
	es, err := NewEvidence(s2, s1)
	if err != nil {
		t.Fatal(err)
	}
	if off, _, _, err := DecodeEvidence(testChain, es.Encode()); err != nil || off != key.Public() {
		t.Fatalf("surround evidence: %v", err)
	}
}

func TestEvidenceRejects(t *testing.T) {
	key, other := seedKey(t, 3), seedKey(t, 4)
	a := signedVote(key, testChain, cp(0, 0), cp(5, 0xa))
	b := signedVote(key, testChain, cp(1, 1), cp(5, 0xb))
	ordered := func(x, y *FinalityVote) (*FinalityVote, *FinalityVote) {
		hx, hy := x.Hash(), y.Hash()
		if bytes.Compare(hx[:], hy[:]) > 0 {
			return y, x
		}
		return x, y
	}
	lo, hi := ordered(a, b)
	raw := func(x, y *FinalityVote) []byte { return (&Evidence{A: x.Encode(), B: y.Encode()}).Encode() }

	if _, err := NewEvidence(a, signedVote(key, testChain, cp(5, 0xa), cp(6, 6))); !errors.Is(err, ErrBadPayload) {
		t.Fatalf("NewEvidence of votes that do not conflict: %v", err)
	}
	if _, err := NewEvidence(a, a); !errors.Is(err, ErrBadPayload) {
		t.Fatalf("NewEvidence of one vote twice: %v", err)
	}

	cases := []struct {
		name  string
		chain string
		data  func() []byte
		want  error
	}{
		{"valid", testChain, func() []byte { return raw(lo, hi) }, nil},
		{"wrong order", testChain, func() []byte { return raw(hi, lo) }, ErrBadPayload},
		{"same vote twice", testChain, func() []byte { return raw(lo, lo) }, ErrBadPayload},
		{"decoded for another chain", "other-chain", func() []byte { return raw(lo, hi) }, ErrWrongChain},
		{"votes for another chain", testChain, func() []byte {
			return raw(ordered(signedVote(key, "other-chain", cp(0, 0), cp(5, 0xa)), signedVote(key, "other-chain", cp(1, 1), cp(5, 0xb))))
		}, ErrWrongChain},
		{"one vote for another chain", testChain, func() []byte {
			return raw(ordered(signedVote(key, "other-chain", cp(0, 0), cp(5, 0xa)), b))
		}, ErrWrongChain},
		{"not conflicting", testChain, func() []byte {
			return raw(ordered(a, signedVote(key, testChain, cp(5, 0xa), cp(6, 6))))
		}, ErrBadPayload},
		{"different voters", testChain, func() []byte {
			return raw(ordered(a, signedVote(other, testChain, cp(1, 1), cp(5, 0xb))))
		}, ErrBadPayload},
		{"bad signature on a", testChain, func() []byte {
			x := *lo
			x.Signature = bytes.Clone(lo.Signature)
			x.Signature[10] ^= 1
			return raw(&x, hi)
		}, ErrBadSignature},
		{"bad signature on b", testChain, func() []byte {
			y := *hi
			y.Signature = bytes.Clone(hi.Signature)
			y.Signature[63] ^= 0x80
			return raw(lo, &y)
		}, ErrBadSignature},
		{"vote b signed by another key", testChain, func() []byte {
			y := *hi
			y.Signature = other.Sign(hi.SignBytes())
			return raw(lo, &y)
		}, ErrBadSignature},
		{"undecodable vote", testChain, func() []byte {
			return (&Evidence{A: lo.Encode(), B: []byte{0x01}}).Encode()
		}, ErrBadPayload},
		{"vote with short signature", testChain, func() []byte {
			y := *hi
			y.Signature = hi.Signature[:32]
			return (&Evidence{A: lo.Encode(), B: marshal(&y)}).Encode()
		}, ErrBadPayload},
		{"not an array", testChain, func() []byte { return []byte{0x40} }, ErrBadPayload},
		{"three elements", testChain, func() []byte {
			b, _ := encMode.Marshal([]any{lo.Encode(), hi.Encode(), []byte{}})
			return b
		}, ErrBadPayload},
		{"oversize", testChain, func() []byte { return make([]byte, 2*MaxVoteBytes+17) }, ErrOversize},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			off, va, vb, err := DecodeEvidence(c.chain, c.data())
			if c.want == nil {
				if err != nil || off != key.Public() {
					t.Fatalf("DecodeEvidence: %v", err)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("DecodeEvidence: %v, want %v", err, c.want)
			}
			if va != nil || vb != nil || off != (identity.PublicKey{}) {
				t.Fatal("DecodeEvidence returned votes with an error")
			}
		})
	}
}

func TestEvidenceTx(t *testing.T) {
	offender, reporter := seedKey(t, 5), seedKey(t, 6)
	a := signedVote(offender, testChain, cp(2, 2), cp(7, 0xa))
	b := signedVote(offender, testChain, cp(3, 3), cp(6, 0xb)) // surrounded
	e, err := NewEvidence(a, b)
	if err != nil {
		t.Fatal(err)
	}
	now := time.UnixMilli(1_767_225_600_000)
	tx := NewEvidenceTx(testChain, 4, now.UnixMilli(), e)
	tx.Sign(reporter)
	if tx.Type != TxEvidence || tx.Type.String() != "evidence" || tx.Sender != reporter.Public() {
		t.Fatalf("evidence tx %+v", tx)
	}
	dec, err := DecodeTx(tx.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if err := dec.ValidateBasic(testChain); err != nil {
		t.Fatal(err)
	}
	if err := dec.VerifySignature(); err != nil {
		t.Fatal(err)
	}
	if err := dec.CheckTime(now, TimeWindow{Future: time.Second, Past: time.Second}); err != nil {
		t.Fatal(err)
	}
	if err := dec.ValidateBasic("other-chain"); !errors.Is(err, ErrWrongChain) {
		t.Fatalf("evidence tx on another chain: %v", err)
	}

	// The offender may report itself; the evidence is what counts.
	self := NewEvidenceTx(testChain, 1, now.UnixMilli(), e)
	self.Sign(offender)
	if err := self.ValidateBasic(testChain); err != nil {
		t.Fatal(err)
	}

	bad := NewEvidenceTx(testChain, 1, now.UnixMilli(), &Evidence{A: a.Encode(), B: a.Encode()})
	bad.Sign(reporter)
	if err := bad.ValidateBasic(testChain); !errors.Is(err, ErrBadPayload) {
		t.Fatalf("evidence tx with one vote twice: %v", err)
	}
	forged := *b
	forged.Signature = reporter.Sign(b.SignBytes())
	fe := &Evidence{A: a.Encode(), B: forged.Encode()}
	if ha, hb := a.Hash(), b.Hash(); bytes.Compare(ha[:], hb[:]) > 0 {
		fe.A, fe.B = fe.B, fe.A
	}
	ftx := NewEvidenceTx(testChain, 1, now.UnixMilli(), fe)
	ftx.Sign(reporter)
	if err := ftx.ValidateBasic(testChain); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("evidence tx with a forged vote: %v", err)
	}
	if Reason(ftx.ValidateBasic(testChain)) != "bad_signature" || Reason(bad.ValidateBasic(testChain)) != "bad_payload" {
		t.Fatal("reasons")
	}
}

// FuzzDecodeVote: decoding arbitrary bytes never panics; whatever decodes
// re-encodes to the same bytes and has its target above its source, or is
// a commit vote (target == source).
func FuzzDecodeVote(f *testing.F) {
	key := seedKey(f, 7)
	f.Add(signedVote(key, testChain, cp(5, 0xaa), cp(300, 0xbb)).Encode())
	f.Add(signedVote(key, "", cp(0, 0), cp(1, 1)).Encode())
	f.Add(signedVote(key, testChain, cp(5, 0xaa), cp(5, 0xaa)).Encode())
	f.Add([]byte{})
	f.Add([]byte{0x85})
	f.Add(bytes.Repeat([]byte{0x82}, 16))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := DecodeVote(data)
		if err != nil {
			return
		}
		if !bytes.Equal(v.Encode(), data) {
			t.Fatal("decoded vote re-encodes differently")
		}
		if v.Target.Height < v.Source.Height || v.Target.Height == v.Source.Height && !v.IsCommit() || len(v.Signature) != 64 {
			t.Fatalf("DecodeVote accepted %+v", v)
		}
		if _, ok := Conflict(v, v); ok {
			t.Fatal("a vote conflicts with itself")
		}
		_ = v.VerifySignature()
	})
}

// FuzzDecodeEvidence: the evidence decoder never panics; whatever it
// accepts is a conflicting, ordered pair of one voter that re-encodes to
// the same bytes.
func FuzzDecodeEvidence(f *testing.F) {
	key := seedKey(f, 3)
	a := signedVote(key, testChain, cp(0, 0), cp(5, 0xa))
	b := signedVote(key, testChain, cp(1, 1), cp(5, 0xb))
	e, err := NewEvidence(a, b)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(e.Encode())
	s, err := NewEvidence(signedVote(key, testChain, cp(1, 1), cp(10, 0xa)), signedVote(key, testChain, cp(2, 2), cp(9, 0xb)))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(s.Encode())
	f.Add((&Evidence{A: a.Encode(), B: a.Encode()}).Encode())
	f.Add([]byte{0x82, 0x40, 0x40})
	f.Fuzz(func(t *testing.T, data []byte) {
		off, va, vb, err := DecodeEvidence(testChain, data)
		if err != nil {
			return
		}
		if va.Voter != off || vb.Voter != off {
			t.Fatal("offender is not the voter")
		}
		if _, ok := Conflict(va, vb); !ok {
			t.Fatal("accepted votes that do not conflict")
		}
		again, err := NewEvidence(vb, va)
		if err != nil || !bytes.Equal(again.Encode(), data) {
			t.Fatalf("accepted evidence re-encodes differently: %v", err)
		}
	})
}

func TestCertificatesRoundTripAndBounds(t *testing.T) {
	k := seedKey(t, 3)
	mk := func(h uint64) *FinalityVote {
		v := &FinalityVote{ChainID: testChain, Source: Checkpoint{Height: h - 1, Hash: Hash{byte(h)}}, Target: Checkpoint{Height: h, Hash: Hash{byte(h + 1)}}}
		v.Sign(k)
		return v
	}
	certs := [][]*FinalityVote{{mk(2), mk(3)}, {mk(4)}}
	got, err := DecodeCertificates(EncodeCertificates(certs))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || len(got[0]) != 2 || got[1][0].Hash() != certs[1][0].Hash() {
		t.Fatalf("round trip changed the certificates")
	}
	if _, err := DecodeCertificates(EncodeCertificates([][]*FinalityVote{{}})); !errors.Is(err, ErrBadVote) {
		t.Fatalf("empty certificate accepted: %v", err)
	}
	if _, err := DecodeCertificates([]byte{0x9f}); !errors.Is(err, ErrUndecodable) {
		t.Fatalf("garbage accepted: %v", err)
	}
	many := make([][]*FinalityVote, MaxCertificates+1)
	for i := range many {
		many[i] = []*FinalityVote{mk(2)}
	}
	if _, err := DecodeCertificates(EncodeCertificates(many)); !errors.Is(err, ErrOversize) {
		t.Fatalf("too many certificates accepted: %v", err)
	}
}

func FuzzDecodeCertificates(f *testing.F) {
	k := seedKey(f, 3)
	v := &FinalityVote{ChainID: testChain, Target: Checkpoint{Height: 1}}
	v.Sign(k)
	f.Add(EncodeCertificates([][]*FinalityVote{{v}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = DecodeCertificates(data)
	})
}
