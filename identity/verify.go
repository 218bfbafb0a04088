package identity

import (
	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// The verification rule. Every Ed25519 signature of the system is verified
// by ZIP-215 (https://zips.z.cash/zip-0215): the public key A and the
// signature's R may be any encoding of a curve point, canonical or not, of
// any order; s must be canonical (s < L); and the signature is valid when the
// cofactored equation [8][s]B = [8]R + [8][k]A holds, k = SHA-512(R ‖ A ‖ M).
// Because the batch equation is cofactored too, a batch accepts exactly the
// signatures that single verification accepts (up to the 2^-128 chance that
// random batch coefficients hide an invalid signature, and an invalid entry
// is then found by single verification anyway).
//
// Signing is unchanged (crypto/ed25519): every signature crypto/ed25519
// verifies, and so every signature an honest signer makes, is valid under
// ZIP-215 as well.
var zip215 = &voi.Options{Verify: voi.VerifyOptionsZIP_215}

// verifyZIP215 reports whether sig (64 bytes) is a signature of msg by p
// under ZIP-215.
func verifyZIP215(p PublicKey, msg, sig []byte) bool {
	// VerifyWithOptions panics only on a public key that is not 32 bytes
	// and on inconsistent options, neither of which can happen here.
	return voi.VerifyWithOptions(p[:], msg, sig, zip215)
}

// Batch collects (public key, message, signature) triples and verifies them
// together, faster than one by one when they are valid, under exactly the
// rule of PublicKey.Verify. A Batch is not safe for concurrent use; use one
// per goroutine. The zero Batch is ready to use.
type Batch struct {
	v voi.BatchVerifier
	n int
}

// NewBatch returns an empty Batch with room for capacity entries.
func NewBatch(capacity int) *Batch {
	return &Batch{v: *voi.NewBatchVerifierWithCapacity(max(capacity, 0))}
}

// Add appends the triple (key, msg, sig) to b. msg and sig are read during
// the call and not retained, so their memory may be reused afterwards. A
// signature of the wrong size is added as an entry that fails.
func (b *Batch) Add(key PublicKey, msg, sig []byte) {
	if b.n == 0 {
		// Expanded keys (a precomputed table per key) cost an allocation
		// each and, for keys seen once, more time than they save.
		b.v.ForceNoPublicKeyExpansion()
	}
	b.v.AddWithOptions(key[:], msg, sig, zip215)
	b.n++
}

// Len returns the number of entries added since the last Reset.
func (b *Batch) Len() int { return b.n }

// Verify checks every entry. allOK reports whether all of them are valid;
// ok[i], for the i-th entry added, is exactly what PublicKey.Verify reports
// for it. If the batch equation fails, each entry is checked on its own
// (with the points already decoded), so the result names each invalid entry.
// An empty batch is all valid (allOK true, ok empty). Verify draws the
// batch's random coefficients from crypto/rand.
func (b *Batch) Verify() (allOK bool, ok []bool) {
	if b.n == 0 {
		return true, nil
	}
	return b.v.Verify(nil)
}

// Reset empties b for reuse, keeping its memory.
func (b *Batch) Reset() {
	b.v.Reset()
	b.n = 0
}

// VerifyBatch verifies sigs[i] as a signature of msgs[i] by keys[i] for
// every i and returns the verdicts, ok[i] being exactly keys[i].Verify(msgs[i],
// sigs[i]). The three slices must have the same length; if they do not, the
// missing entries of the shorter ones count as invalid and ok has the length
// of the longest.
func VerifyBatch(keys []PublicKey, msgs, sigs [][]byte) []bool {
	n := max(len(keys), len(msgs), len(sigs))
	m := min(len(keys), len(msgs), len(sigs))
	ok := make([]bool, n)
	if m == 0 {
		return ok
	}
	b := NewBatch(m)
	for i := range m {
		b.Add(keys[i], msgs[i], sigs[i])
	}
	_, v := b.Verify()
	copy(ok, v)
	return ok
}
