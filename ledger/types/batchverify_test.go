package types

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/sixdomain/sixdomain/identity"
)

// didTx returns a registry transaction sent by gw with two approvals; if
// badApproval, the second approval signs something else.
func didTx(t testing.TB, nonce uint64, badApproval bool) *Tx {
	t.Helper()
	gw, dev, owner := seedKey(t, 7), seedKey(t, 8), seedKey(t, 9)
	op := DIDOp{Op: OpRegister, Subject: dev.Public(), Domain: DomainSensing, Role: EntityDevice}
	op.Approve(testChain, dev)
	op.Approve(testChain, owner)
	if badApproval {
		op.Approvals[1].Signature = owner.Sign([]byte("not the operation"))
	}
	tx, err := NewDIDTx(testChain, nonce, 1_767_225_600_000, &op)
	if err != nil {
		t.Fatal(err)
	}
	tx.Sign(gw)
	return tx
}

// txKinds builds a transaction of one of the kinds VerifyTxs must judge
// as VerifySignature does.
var txKinds = []string{"valid", "flipped bit", "other signer", "s+L", "short signature", "did ok", "did bad approval", "small-order sender"}

func kindTx(t testing.TB, kind string, i int) *Tx {
	k := seedKey(t, byte(i%5+1))
	tx := signedRecord(t, k, uint64(i+1), 1_767_225_600_000, fmt.Sprint(i))
	switch kind {
	case "valid":
	case "flipped bit":
		tx.Signature[i%64] ^= 1 << (i % 8)
	case "other signer":
		tx.Signature = seedKey(t, 42).Sign(tx.SignBytes())
	case "s+L":
		// s + L keeps the residue but is not canonical: refused.
		var carry int
		for j := range 32 {
			v := int(tx.Signature[32+j]) + int(orderL[j]) + carry
			tx.Signature[32+j], carry = byte(v), v>>8
		}
	case "short signature":
		tx.Signature = tx.Signature[:63]
	case "did ok":
		return didTx(t, uint64(i+1), false)
	case "did bad approval":
		return didTx(t, uint64(i+1), true)
	case "small-order sender":
		// The identity as sender and R, s = 0: valid under ZIP-215 for
		// any message.
		tx.Sender = identity.PublicKey{0: 1}
		tx.Signature = make([]byte, 64)
		tx.Signature[0] = 1
	default:
		t.Fatalf("unknown kind %q", kind)
	}
	return tx
}

// orderL is the order of edwards25519's prime-order subgroup, little-endian.
var orderL = [32]byte{
	0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
}

// checkAgree requires errs (from VerifyTxs) to hold, for each transaction,
// exactly VerifySignature's verdict and error text.
func checkAgree(t interface{ Fatalf(string, ...any) }, txs []*Tx, errs []error) {
	anyBad := false
	for i, tx := range txs {
		want := tx.VerifySignature()
		anyBad = anyBad || want != nil
		var got error
		if errs != nil {
			got = errs[i]
		}
		if (got == nil) != (want == nil) || (got != nil && got.Error() != want.Error()) {
			t.Fatalf("tx %d: VerifyTxs says %v, VerifySignature %v", i, got, want)
		}
		if got != nil && !errors.Is(got, ErrBadSignature) && !errors.Is(got, ErrBadPayload) {
			t.Fatalf("tx %d: error %v wraps no sentinel", i, got)
		}
	}
	if anyBad != (errs != nil) {
		t.Fatalf("some invalid: %v, but errs = %v", anyBad, errs)
	}
	if errs != nil && len(errs) != len(txs) {
		t.Fatalf("%d errors for %d transactions", len(errs), len(txs))
	}
}

// TestVerifyTxsEdgeCases: every kind alone, all kinds mixed, and a large
// batch (several goroutines) with one bad signature in the middle.
func TestVerifyTxsEdgeCases(t *testing.T) {
	for i, kind := range txKinds {
		txs := []*Tx{kindTx(t, kind, i)}
		checkAgree(t, txs, VerifyTxs(txs, nil))
	}
	var mixed []*Tx
	for i := range 3 * len(txKinds) {
		mixed = append(mixed, kindTx(t, txKinds[i%len(txKinds)], i))
	}
	checkAgree(t, mixed, VerifyTxs(mixed, NewSigCache(1024)))

	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	big := make([]*Tx, 300)
	for i := range big {
		big[i] = kindTx(t, "valid", i)
	}
	if errs := VerifyTxs(big, nil); errs != nil {
		t.Fatalf("all valid, got %v", errs)
	}
	big[171] = kindTx(t, "other signer", 171)
	errs := VerifyTxs(big, nil)
	checkAgree(t, big, errs)
	if errs[171] == nil {
		t.Fatal("the bad signature was not named")
	}
	if VerifyTxs(nil, nil) != nil {
		t.Fatal("no transactions, some errors")
	}
}

// TestVerifyTxsRandom: random batches of valid and invalid transactions of
// every kind, with and without a cache, with 1 to 4 goroutines, get
// VerifySignature's per-transaction verdicts.
func TestVerifyTxsRandom(t *testing.T) {
	pool := make(map[string][]*Tx)
	for _, kind := range txKinds {
		for i := range 8 {
			pool[kind] = append(pool[kind], kindTx(t, kind, i))
		}
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	rapid.Check(t, func(rt *rapid.T) {
		runtime.GOMAXPROCS(rapid.IntRange(1, 4).Draw(rt, "procs"))
		n := rapid.IntRange(0, 260).Draw(rt, "n")
		txs := make([]*Tx, n)
		for i := range txs {
			kind := rapid.SampledFrom(txKinds).Draw(rt, "kind")
			txs[i] = pool[kind][rapid.IntRange(0, 7).Draw(rt, "i")]
		}
		var cache *SigCache
		if rapid.Bool().Draw(rt, "cache") {
			cache = NewSigCache(rapid.IntRange(1, 64).Draw(rt, "cap"))
			// Some already seen.
			for _, tx := range txs[:rapid.IntRange(0, n).Draw(rt, "seen")] {
				_ = cache.Verify(tx)
			}
		}
		checkAgree(rt, txs, VerifyTxs(txs, cache))
	})
}

// TestVerifyTxsCache: verified transactions are remembered under the key
// SigCache.Verify uses, failed ones are not, and a cached one is not
// verified again.
func TestVerifyTxsCache(t *testing.T) {
	c := NewSigCache(64)
	good, bad := kindTx(t, "valid", 1), kindTx(t, "flipped bit", 2)
	errs := VerifyTxs([]*Tx{good, bad, nil}, c)
	if errs == nil || errs[0] != nil || !errors.Is(errs[1], ErrBadSignature) || !errors.Is(errs[2], ErrBadSignature) {
		t.Fatalf("errs = %v", errs)
	}
	if c.Len() != 1 {
		t.Fatalf("cache holds %d, want 1", c.Len())
	}
	c.set.mu.Lock()
	_, ok := c.set.set[sigKey(good)]
	c.set.mu.Unlock()
	if !ok {
		t.Fatal("the verified transaction is not cached under sigKey")
	}
	// Vouch for the bad one by hand: VerifyTxs trusts the cache and so
	// does not verify it (the cache is only ever filled by verification).
	if err := c.set.Check(sigKey(bad), func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	if errs := VerifyTxs([]*Tx{good, bad}, c); errs != nil {
		t.Fatalf("cached transactions were verified again: %v", errs)
	}
	if err := c.Verify(good); err != nil {
		t.Fatal(err)
	}
}

// TestBlockVerifyTxsOrder: the block's error is the one a check of each
// transaction in order (fields, then signature) meets first.
func TestBlockVerifyTxsOrder(t *testing.T) {
	good, badSig := kindTx(t, "valid", 1), kindTx(t, "other signer", 2)
	wrongChain := kindTx(t, "valid", 3)
	wrongChain.ChainID = "another-chain"
	wrongChain.Sign(seedKey(t, 3))
	for _, c := range []struct {
		name string
		txs  []*Tx
		want error
		at   string
	}{
		{"all good", []*Tx{good}, nil, ""},
		{"bad signature first", []*Tx{good, badSig, wrongChain}, ErrBadSignature, "tx 1:"},
		{"wrong chain first", []*Tx{good, wrongChain, badSig}, ErrWrongChain, "tx 1:"},
		{"nil transaction", []*Tx{good, nil}, ErrBadSignature, "tx 1:"},
	} {
		b := &Block{Header: Header{ChainID: testChain}, Txs: c.txs}
		err := b.VerifyTxs(NewSigCache(16))
		if c.want == nil {
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			continue
		}
		if !errors.Is(err, ErrBadBlock) || !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.at) {
			t.Fatalf("%s: got %v, want %v at %s", c.name, err, c.want, c.at)
		}
	}
	// No cache at all works too.
	if err := (&Block{Header: Header{ChainID: testChain}, Txs: []*Tx{good}}).VerifyTxs(nil); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkVerifySingle: one transaction signature, as gossip checks it
// today (Tx.VerifySignature, ZIP-215).
func BenchmarkVerifySingle(b *testing.B) {
	tx := kindTx(b, "valid", 1)
	for b.Loop() {
		if err := tx.VerifySignature(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/sig")
}

// BenchmarkVerifyTxsBatch: VerifyTxs on n distinct valid transactions
// from 1,000 senders, no cache (every signature verified), on all cores.
func BenchmarkVerifyTxsBatch(b *testing.B) {
	keys := make([]*identity.PrivateKey, 1000)
	for i := range keys {
		k, err := identity.FromSeed(append(make([]byte, 28), byte(i>>24), byte(i>>16), byte(i>>8), byte(i)))
		if err != nil {
			b.Fatal(err)
		}
		keys[i] = k
	}
	for _, n := range []int{64, 256, 1024} {
		txs := make([]*Tx, n)
		for i := range txs {
			txs[i] = signedRecord(b, keys[i%len(keys)], uint64(i+1), 1_767_225_600_000, fmt.Sprint(i))
		}
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				if errs := VerifyTxs(txs, nil); errs != nil {
					b.Fatal(errs)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/sig")
		})
	}
}
