package identity

import (
	"bytes"
	stded25519 "crypto/ed25519"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"testing"

	"filippo.io/edwards25519"
	"pgregory.net/rapid"
)

// smallOrderEncodings are the 14 encodings of the 8 points of order
// dividing 8 on edwards25519: the 8 canonical ones, then 6 non-canonical
// ones (x = 0 with the sign bit set, and y = p or y = p + 1). They are the
// points of ZIP-215 (https://zips.z.cash/zip-0215) and of the 196 test
// vectors that ed25519-zebra and ed25519consensus derived from them (every
// pair of encodings as A and R, with s = 0, message "Zcash");
// testZIP215Vectors builds the same 196 here and TestSmallOrderEncodings
// checks that each encoding is what this comment says.
var smallOrderEncodings = []struct {
	hex       string
	canonical bool
}{
	{"0100000000000000000000000000000000000000000000000000000000000000", true},  // identity, y = 1
	{"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", true},  // order 2, y = -1
	{"0000000000000000000000000000000000000000000000000000000000000000", true},  // order 4, y = 0
	{"0000000000000000000000000000000000000000000000000000000000000080", true},  // order 4, y = 0, x negative
	{"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", true},  // order 8
	{"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", true},  // order 8
	{"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", true},  // order 8
	{"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85", true},  // order 8
	{"0100000000000000000000000000000000000000000000000000000000000080", false}, // y = 1, sign bit set on x = 0
	{"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", false}, // y = -1, sign bit set on x = 0
	{"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", false}, // y = p (= 0)
	{"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", false}, // y = p (= 0), x negative
	{"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", false}, // y = p + 1 (= 1)
	{"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", false}, // y = p + 1 (= 1), sign bit set on x = 0
}

// l is the order of the prime-order subgroup, little-endian.
var l = [32]byte{
	0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
}

// addLE returns a + b as 256-bit little-endian numbers and whether it
// overflowed.
func addLE(a, b []byte) ([]byte, bool) {
	out := make([]byte, 32)
	carry := 0
	for i := range 32 {
		v := int(a[i]) + int(b[i]) + carry
		out[i] = byte(v)
		carry = v >> 8
	}
	return out, carry != 0
}

type sigCase struct {
	name     string
	key      PublicKey
	msg, sig []byte
	want     bool
}

func TestSmallOrderEncodings(t *testing.T) {
	canon := map[string]bool{}
	for _, e := range smallOrderEncodings {
		b := mustHex(t, e.hex)
		p, err := new(edwards25519.Point).SetBytes(b)
		if err != nil {
			t.Fatalf("%s: not a point: %v", e.hex, err)
		}
		if new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) != 1 {
			t.Fatalf("%s: [8]P is not the identity", e.hex)
		}
		if got := bytes.Equal(p.Bytes(), b); got != e.canonical {
			t.Fatalf("%s: canonical = %v, want %v", e.hex, got, e.canonical)
		}
		canon[hex.EncodeToString(p.Bytes())] = true
	}
	if len(canon) != 8 {
		t.Fatalf("the encodings name %d distinct points, want 8", len(canon))
	}
}

// testZIP215Vectors returns the 196 ZIP-215 vectors: every small-order
// encoding as A, every one as R, s = 0, message "Zcash". ZIP-215 accepts all.
func testZIP215Vectors(t testing.TB) []sigCase {
	var out []sigCase
	for _, a := range smallOrderEncodings {
		for _, r := range smallOrderEncodings {
			var key PublicKey
			copy(key[:], mustHex(t, a.hex))
			sig := append(mustHex(t, r.hex), make([]byte, 32)...)
			out = append(out, sigCase{name: "A=" + a.hex[:8] + "/R=" + r.hex[:8], key: key, msg: []byte("Zcash"), sig: sig, want: true})
		}
	}
	return out
}

// mixedOrderSig signs msg under A' = [a]B + T for a point T of order 8:
// the cofactored equation holds, the cofactorless one (crypto/ed25519's)
// only when 8 divides k. It returns the key, the signature and whether
// crypto/ed25519 accepts it.
func mixedOrderSig(t interface {
	Helper()
	Fatal(...any)
}, seed byte, msg []byte) (PublicKey, []byte, bool) {
	t.Helper()
	var wide [64]byte
	wide[0] = seed
	wide[1] = 1
	a, _ := new(edwards25519.Scalar).SetUniformBytes(wide[:])
	wide[2] = 2
	r, _ := new(edwards25519.Scalar).SetUniformBytes(wide[:])
	tb, err := hex.DecodeString(smallOrderEncodings[4].hex)
	if err != nil {
		t.Fatal(err)
	}
	T, err := new(edwards25519.Point).SetBytes(tb)
	if err != nil {
		t.Fatal(err)
	}
	A := new(edwards25519.Point).Add(new(edwards25519.Point).ScalarBaseMult(a), T)
	R := new(edwards25519.Point).ScalarBaseMult(r)
	h := sha512.New()
	h.Write(R.Bytes())
	h.Write(A.Bytes())
	h.Write(msg)
	k, _ := new(edwards25519.Scalar).SetUniformBytes(h.Sum(nil))
	s := new(edwards25519.Scalar).MultiplyAdd(k, a, r)
	var key PublicKey
	copy(key[:], A.Bytes())
	sig := append(R.Bytes(), s.Bytes()...)
	return key, sig, stded25519.Verify(key[:], msg, sig)
}

// edgeCases are the signatures every verifier of the system must judge
// alike: the ZIP-215 vectors (accepted), non-canonical s (rejected),
// mixed-order keys (accepted), a valid signature and a wrong message.
func edgeCases(t testing.TB) []sigCase {
	cases := testZIP215Vectors(t)

	k := mustGenerate(t)
	msg := []byte("sixdomain edge cases")
	sig := k.Sign(msg)
	cases = append(cases,
		sigCase{name: "valid", key: k.Public(), msg: msg, sig: sig, want: true},
		sigCase{name: "wrong message", key: k.Public(), msg: []byte("another message"), sig: sig, want: false},
		sigCase{name: "short signature", key: k.Public(), msg: msg, sig: sig[:63], want: false},
		sigCase{name: "long signature", key: k.Public(), msg: msg, sig: append(bytes.Clone(sig), 0), want: false},
	)
	// s + L: the same residue, so the equation holds, but s is not canonical.
	// (A canonical s is below L < 2^253, so s + L does not overflow.)
	for range 4 {
		k := mustGenerate(t)
		sig := k.Sign(msg)
		sl, _ := addLE(sig[32:], l[:])
		cases = append(cases, sigCase{name: "s+L", key: k.Public(), msg: msg, sig: append(bytes.Clone(sig[:32]), sl...), want: false})
	}
	// s = L, s = L + 1 and s = 2^256 - 1 with a small-order A and R, which
	// would be accepted with s = 0.
	ident := mustHex(t, smallOrderEncodings[0].hex)
	var smallA PublicKey
	copy(smallA[:], ident)
	lPlus1, _ := addLE(l[:], []byte{1, 31: 0})
	for name, s := range map[string][]byte{"s=L": l[:], "s=L+1": lPlus1, "s=2^256-1": bytes.Repeat([]byte{0xff}, 32)} {
		cases = append(cases, sigCase{name: name + " small-order", key: smallA, msg: []byte("Zcash"), sig: append(bytes.Clone(ident), s...), want: false})
	}
	// Mixed-order public keys: valid under the cofactored equation.
	for seed := range byte(16) {
		key, sig, _ := mixedOrderSig(t, seed, msg)
		cases = append(cases, sigCase{name: fmt.Sprintf("mixed-order A %d", seed), key: key, msg: msg, sig: sig, want: true})
	}
	// R that is not a point (y = 2 is not on the curve).
	cases = append(cases, sigCase{name: "R not on curve", key: k.Public(), msg: msg, sig: append(append([]byte{2}, make([]byte, 31)...), sig[32:]...), want: false})
	return cases
}

// TestZIP215SingleAndBatchAgree feeds every edge case to PublicKey.Verify,
// to a Batch on its own, to a Batch of all of them (a batch mixing good and
// bad) and to VerifyBatch, and requires the same, expected, verdict.
func TestZIP215SingleAndBatchAgree(t *testing.T) {
	cases := edgeCases(t)
	all := NewBatch(len(cases))
	keys := make([]PublicKey, len(cases))
	msgs := make([][]byte, len(cases))
	sigs := make([][]byte, len(cases))
	wantAll := true
	for i, c := range cases {
		if got := c.key.Verify(c.msg, c.sig); got != c.want {
			t.Errorf("%s: single Verify = %v, want %v", c.name, got, c.want)
		}
		var one Batch
		one.Add(c.key, c.msg, c.sig)
		allOK, ok := one.Verify()
		if allOK != c.want || len(ok) != 1 || ok[0] != c.want {
			t.Errorf("%s: batch of one = %v %v, want %v", c.name, allOK, ok, c.want)
		}
		all.Add(c.key, c.msg, c.sig)
		keys[i], msgs[i], sigs[i] = c.key, c.msg, c.sig
		wantAll = wantAll && c.want
	}
	if all.Len() != len(cases) {
		t.Fatalf("Len = %d, want %d", all.Len(), len(cases))
	}
	allOK, ok := all.Verify()
	if allOK != wantAll || len(ok) != len(cases) {
		t.Fatalf("mixed batch: allOK = %v (want %v), %d verdicts (want %d)", allOK, wantAll, len(ok), len(cases))
	}
	vb := VerifyBatch(keys, msgs, sigs)
	for i, c := range cases {
		if ok[i] != c.want {
			t.Errorf("%s: mixed batch says %v, want %v", c.name, ok[i], c.want)
		}
		if vb[i] != c.want {
			t.Errorf("%s: VerifyBatch says %v, want %v", c.name, vb[i], c.want)
		}
	}

	// Only the ZIP-215 vectors and valid entries: the batch equation itself
	// (not the fallback) must accept them.
	var good Batch
	for _, c := range cases {
		if c.want {
			good.Add(c.key, c.msg, c.sig)
		}
	}
	if allOK, _ := good.Verify(); !allOK {
		t.Fatal("a batch of only valid edge cases failed")
	}
}

// TestStdlibSubset: every edge case crypto/ed25519 accepts, ZIP-215
// accepts too (docs/PROTOCOL.md relies on it), and the cases where they
// differ are exactly the ones the documentation names.
func TestStdlibSubset(t *testing.T) {
	var differ int
	for _, c := range edgeCases(t) {
		std := len(c.sig) == 64 && stded25519.Verify(c.key[:], c.msg, c.sig)
		if std && !c.want {
			t.Errorf("%s: crypto/ed25519 accepts what ZIP-215 rejects", c.name)
		}
		if std != c.want {
			differ++
		}
	}
	if differ == 0 {
		t.Fatal("no edge case tells crypto/ed25519 from ZIP-215; the edge cases are too weak")
	}
	// Random honest signatures: both accept.
	for range 64 {
		k := mustGenerate(t)
		msg := []byte("honest")
		sig := k.Sign(msg)
		if !stded25519.Verify(k.Public().Bytes(), msg, sig) || !k.Public().Verify(msg, sig) {
			t.Fatal("an honest signature is not accepted by both")
		}
	}
}

func TestBatchEmptyAndReset(t *testing.T) {
	var b Batch
	if allOK, ok := b.Verify(); !allOK || len(ok) != 0 {
		t.Fatalf("empty batch: %v %v", allOK, ok)
	}
	k := mustGenerate(t)
	b.Add(k.Public(), []byte("m"), k.Sign([]byte("x")))
	if allOK, ok := b.Verify(); allOK || len(ok) != 1 || ok[0] {
		t.Fatalf("bad entry: %v %v", allOK, ok)
	}
	b.Reset()
	if b.Len() != 0 {
		t.Fatalf("Len after Reset = %d", b.Len())
	}
	b.Add(k.Public(), []byte("m"), k.Sign([]byte("m")))
	if allOK, ok := b.Verify(); !allOK || len(ok) != 1 || !ok[0] {
		t.Fatalf("after Reset: %v %v", allOK, ok)
	}
	// Slices of different lengths: the missing entries are invalid.
	got := VerifyBatch([]PublicKey{k.Public(), k.Public()}, [][]byte{[]byte("m")}, [][]byte{k.Sign([]byte("m")), k.Sign([]byte("m"))})
	if len(got) != 2 || !got[0] || got[1] {
		t.Fatalf("VerifyBatch with short msgs = %v", got)
	}
	if got := VerifyBatch(nil, nil, nil); len(got) != 0 {
		t.Fatalf("VerifyBatch of nothing = %v", got)
	}
}

// TestBatchAgreesRandom: random batches of valid and invalid signatures of
// every kind get, entry by entry, the verdict of single verification.
func TestBatchAgreesRandom(t *testing.T) {
	keys := make([]*PrivateKey, 8)
	for i := range keys {
		keys[i] = mustGenerate(t)
	}
	zip := testZIP215Vectors(t)
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(1, 200).Draw(rt, "n")
		var b Batch
		want := make([]bool, n)
		for i := range n {
			k := keys[rapid.IntRange(0, len(keys)-1).Draw(rt, "key")]
			msg := rapid.SliceOfN(rapid.Byte(), 0, 64).Draw(rt, "msg")
			sig := k.Sign(msg)
			pub := k.Public()
			switch rapid.IntRange(0, 6).Draw(rt, "kind") {
			case 0: // valid
			case 1: // flipped bit anywhere in the signature
				bit := rapid.IntRange(0, 511).Draw(rt, "bit")
				sig[bit/8] ^= 1 << (bit % 8)
			case 2: // wrong message
				msg = append(msg, 'x')
			case 3: // s + L
				if sl, overflow := addLE(sig[32:], l[:]); !overflow {
					copy(sig[32:], sl)
				}
			case 4: // a ZIP-215 vector
				c := zip[rapid.IntRange(0, len(zip)-1).Draw(rt, "zip")]
				pub, msg, sig = c.key, c.msg, c.sig
			case 5: // mixed-order key
				pub, sig, _ = mixedOrderSig(rt, rapid.Byte().Draw(rt, "seed"), msg)
			case 6: // arbitrary bytes
				copy(pub[:], rapid.SliceOfN(rapid.Byte(), 32, 32).Draw(rt, "pub"))
				sig = rapid.SliceOfN(rapid.Byte(), 0, 70).Draw(rt, "sig")
			}
			want[i] = pub.Verify(msg, sig)
			b.Add(pub, msg, sig)
		}
		allOK, ok := b.Verify()
		wantAll := true
		for i := range n {
			wantAll = wantAll && want[i]
			if ok[i] != want[i] {
				rt.Fatalf("entry %d: batch %v, single %v", i, ok[i], want[i])
			}
		}
		if allOK != wantAll {
			rt.Fatalf("allOK = %v, want %v", allOK, wantAll)
		}
	})
}

// FuzzVerifyAgree: for arbitrary key, signature and message bytes, single
// verification and batch verification (alone and between valid entries)
// agree and never panic.
func FuzzVerifyAgree(f *testing.F) {
	k, err := FromSeed(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		f.Fatal(err)
	}
	msg := []byte("fuzz")
	sig := k.Sign(msg)
	f.Add(k.Public().Bytes(), sig, msg)
	f.Add(k.Public().Bytes(), sig, []byte("other"))
	for _, c := range edgeCases(f) {
		f.Add(c.key[:], c.sig, c.msg)
	}
	f.Fuzz(func(t *testing.T, key, s, m []byte) {
		var pub PublicKey
		copy(pub[:], key)
		single := pub.Verify(m, s)

		var one Batch
		one.Add(pub, m, s)
		if allOK, ok := one.Verify(); allOK != single || len(ok) != 1 || ok[0] != single {
			t.Fatalf("single %v, batch of one %v %v", single, allOK, ok)
		}
		var mixed Batch
		mixed.Add(k.Public(), msg, sig)
		mixed.Add(pub, m, s)
		mixed.Add(k.Public(), msg, sig)
		allOK, ok := mixed.Verify()
		if allOK != single || len(ok) != 3 || !ok[0] || ok[1] != single || !ok[2] {
			t.Fatalf("single %v, batch among valid entries %v %v", single, allOK, ok)
		}
	})
}

func BenchmarkVerifySingleZIP215(b *testing.B) {
	k, err := FromSeed(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		b.Fatal(err)
	}
	msg := []byte("SIXDOMAIN-TX-V1\x00 0123456789abcdef0123456789abcdef")
	sig := k.Sign(msg)
	pub := k.Public()
	for b.Loop() {
		if !pub.Verify(msg, sig) {
			b.Fatal("does not verify")
		}
	}
}

func BenchmarkVerifySingleStdlib(b *testing.B) {
	k, err := FromSeed(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		b.Fatal(err)
	}
	msg := []byte("SIXDOMAIN-TX-V1\x00 0123456789abcdef0123456789abcdef")
	sig := k.Sign(msg)
	pub := k.Public()
	for b.Loop() {
		if !stded25519.Verify(pub[:], msg, sig) {
			b.Fatal("does not verify")
		}
	}
}
