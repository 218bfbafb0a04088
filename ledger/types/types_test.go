package types

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/sixdomain/sixdomain/identity"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

const testChain = "sixdomain-test"

func seedKey(t testing.TB, b byte) *identity.PrivateKey {
	t.Helper()
	k, err := identity.FromSeed(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func signedRecord(t testing.TB, key *identity.PrivateKey, nonce uint64, ts int64, value string) *Tx {
	t.Helper()
	tx, err := NewDataRecordTx(testChain, nonce, ts, DataRecord{Stream: "temperature/room1", ContentType: "text/plain", Value: []byte(value)})
	if err != nil {
		t.Fatal(err)
	}
	tx.Sign(key)
	return tx
}

func TestTxRoundTrip(t *testing.T) {
	tx := signedRecord(t, seedKey(t, 1), 7, 1_700_000_000_123, "21.5")
	enc := tx.Encode()
	got, err := DecodeTx(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Encode(), enc) || got.Hash() != tx.Hash() {
		t.Fatal("round trip changed the transaction")
	}
	if err := got.ValidateBasic(testChain); err != nil {
		t.Fatal(err)
	}
	if err := got.VerifySignature(); err != nil {
		t.Fatal(err)
	}
	// The hash does not cover the signature.
	other := *got
	other.Signature = bytes.Repeat([]byte{9}, 64)
	if other.Hash() != got.Hash() {
		t.Fatal("hash depends on the signature")
	}
}

// TestTxGoldenVector pins the encoding, hash and signature of one
// transaction, so that other implementations can check theirs against
// testdata/tx_vector.json.
func TestTxGoldenVector(t *testing.T) {
	key := seedKey(t, 0x42)
	tx := signedRecord(t, key, 1, 1_767_225_600_000, `{"celsius":21.5}`)
	type vector struct {
		SeedHex      string `json:"seed_hex"`
		SenderDID    string `json:"sender_did"`
		ChainID      string `json:"chain_id"`
		Nonce        uint64 `json:"nonce"`
		Timestamp    int64  `json:"timestamp_ms"`
		Stream       string `json:"stream"`
		ContentType  string `json:"content_type"`
		Value        string `json:"value"`
		PayloadHex   string `json:"payload_hex"`
		BodyHex      string `json:"body_hex"`
		TxHash       string `json:"tx_hash"`
		SignatureHex string `json:"signature_hex"`
		TxHex        string `json:"tx_hex"`
	}
	got := vector{SeedHex: hex.EncodeToString(key.Seed()), SenderDID: key.Public().DID(), ChainID: testChain,
		Nonce: 1, Timestamp: tx.Timestamp, Stream: "temperature/room1", ContentType: "text/plain", Value: `{"celsius":21.5}`,
		PayloadHex: hex.EncodeToString(tx.Payload), BodyHex: hex.EncodeToString(tx.BodyBytes()), TxHash: tx.Hash().String(),
		SignatureHex: hex.EncodeToString(tx.Signature), TxHex: hex.EncodeToString(tx.Encode())}
	path := filepath.Join("testdata", "tx_vector.json")
	if *update {
		b, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update once to create it)", err)
	}
	var want vector
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("encoding changed:\n got %+v\nwant %+v", got, want)
	}
	// The vector decodes and verifies on its own.
	b, _ := hex.DecodeString(want.TxHex)
	dec, err := DecodeTx(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := dec.VerifySignature(); err != nil {
		t.Fatal(err)
	}
}

func TestTxRejections(t *testing.T) {
	key := seedKey(t, 2)
	now := time.UnixMilli(1_767_225_600_000)
	window := TimeWindow{Future: 30 * time.Second, Past: 10 * time.Minute}
	good := func() *Tx { return signedRecord(t, key, 1, now.UnixMilli(), "1") }

	// Each case mutates a good transaction and expects one specific reason,
	// from the check that a gossip validator would run (cheapest first).
	check := func(tx *Tx, raw []byte) error {
		if raw == nil {
			raw = tx.Encode()
		}
		d, err := DecodeTx(raw)
		if err != nil {
			return err
		}
		if err := d.ValidateBasic(testChain); err != nil {
			return err
		}
		if err := d.CheckTime(now, window); err != nil {
			return err
		}
		return d.VerifySignature()
	}
	cases := []struct {
		name string
		make func() (*Tx, []byte)
		want error
	}{
		{"valid", func() (*Tx, []byte) { return good(), nil }, nil},
		{"bad signature", func() (*Tx, []byte) { tx := good(); tx.Signature[0] ^= 1; return tx, nil }, ErrBadSignature},
		{"signed by another key", func() (*Tx, []byte) {
			tx := good()
			tx.Sender = seedKey(t, 3).Public()
			return tx, nil
		}, ErrBadSignature},
		{"wrong chain ID", func() (*Tx, []byte) {
			tx := good()
			tx.ChainID = "other-chain"
			tx.Sign(key)
			return tx, nil
		}, ErrWrongChain},
		{"too far in the future", func() (*Tx, []byte) {
			return signedRecord(t, key, 1, now.Add(31*time.Second).UnixMilli(), "1"), nil
		}, ErrTimeInFuture},
		{"too far in the past", func() (*Tx, []byte) {
			return signedRecord(t, key, 1, now.Add(-11*time.Minute).UnixMilli(), "1"), nil
		}, ErrTimeInPast},
		{"oversize", func() (*Tx, []byte) { return nil, make([]byte, MaxTxBytes+1) }, ErrOversize},
		{"undecodable bytes", func() (*Tx, []byte) { return nil, []byte("not cbor at all") }, ErrUndecodable},
		{"truncated", func() (*Tx, []byte) { b := good().Encode(); return nil, b[:len(b)-3] }, ErrUndecodable},
		{"non-canonical integer", func() (*Tx, []byte) {
			// Re-encode the nonce 1 in a two-byte form (0x18 0x01).
			b := good().Encode()
			i := bytes.Index(b, []byte{0x58, 0x20}) // sender byte string header
			nonceAt := i + 2 + 32
			if b[nonceAt] != 0x01 {
				t.Fatalf("unexpected layout %x", b[nonceAt])
			}
			nb := append(append(append([]byte{}, b[:nonceAt]...), 0x18, 0x01), b[nonceAt+1:]...)
			return nil, nb
		}, ErrNonCanonical},
		{"zero nonce", func() (*Tx, []byte) { return signedRecord(t, key, 0, now.UnixMilli(), "1"), nil }, ErrZeroNonce},
		{"unknown type", func() (*Tx, []byte) { tx := good(); tx.Type = 99; tx.Sign(key); return tx, nil }, ErrUnknownType},
		{"bad version", func() (*Tx, []byte) { tx := good(); tx.Version = 2; tx.Sign(key); return tx, nil }, ErrBadVersion},
		{"garbage payload", func() (*Tx, []byte) { tx := good(); tx.Payload = []byte{0xff}; tx.Sign(key); return tx, nil }, ErrBadPayload},
		{"short sender", func() (*Tx, []byte) {
			raw, _ := encMode.Marshal([]any{1, testChain, 1, []byte{1, 2, 3}, 1, now.UnixMilli(), good().Payload, make([]byte, 64)})
			return nil, raw
		}, ErrNonCanonical},
		{"extra array element", func() (*Tx, []byte) {
			tx := good()
			raw, _ := encMode.Marshal([]any{tx.Version, tx.ChainID, tx.Type, tx.Sender, tx.Nonce, tx.Timestamp, tx.Payload, tx.Signature, 0})
			return nil, raw
		}, ErrUndecodable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tx, raw := c.make()
			err := check(tx, raw)
			if c.want == nil {
				if err != nil {
					t.Fatalf("valid transaction refused: %v", err)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if Reason(err) == "other" {
				t.Fatalf("no reason code for %v", err)
			}
		})
	}
}

func TestDataRecordLimits(t *testing.T) {
	cases := []struct {
		rec  DataRecord
		want error
	}{
		{DataRecord{Stream: "a", Value: make([]byte, MaxRecordValue)}, nil},
		{DataRecord{Stream: "", Value: nil}, ErrBadPayload},
		{DataRecord{Stream: strings.Repeat("s", MaxStreamLen+1)}, ErrBadPayload},
		{DataRecord{Stream: "has space"}, ErrBadPayload},
		{DataRecord{Stream: "ok", ContentType: strings.Repeat("c", MaxContentTypeLen+1)}, ErrBadPayload},
		{DataRecord{Stream: "ok", Value: make([]byte, MaxRecordValue+1)}, ErrOversize},
	}
	for i, c := range cases {
		_, err := NewDataRecordTx(testChain, 1, 1, c.rec)
		if !errors.Is(err, c.want) && !(c.want == nil && err == nil) {
			t.Errorf("case %d: got %v, want %v", i, err, c.want)
		}
	}
}

func testBlock(t testing.TB, n int) (*Block, *identity.PrivateKey) {
	t.Helper()
	proposer := seedKey(t, 9)
	b := &Block{Header: Header{Version: BlockVersion, ChainID: testChain, Height: 3, Difficulty: DiffInTurn, Time: 1_767_225_601_000, Proposer: proposer.Public()}}
	for i := 0; i < n; i++ {
		b.Txs = append(b.Txs, signedRecord(t, seedKey(t, byte(i+10)), uint64(i+1), 1_767_225_600_000, "v"))
	}
	b.Header.TxCount = uint32(n)
	b.Header.TxRoot = TxRoot(b.EncodedTxs())
	b.Seal = proposer.Sign(b.Header.SealBytes())
	return b, proposer
}

func TestBlockRoundTripAndChecks(t *testing.T) {
	b, _ := testBlock(t, 5)
	enc := b.Encode()
	got, err := DecodeBlock(enc)
	if err != nil {
		t.Fatal(err)
	}
	if got.Hash() != b.Hash() || !bytes.Equal(got.Encode(), enc) {
		t.Fatal("round trip changed the block")
	}
	if err := got.Header.VerifySeal(got.Seal); err != nil {
		t.Fatal(err)
	}
	bad := *b
	bad.Seal = append([]byte{}, b.Seal...)
	bad.Seal[5] ^= 1
	if err := bad.Header.VerifySeal(bad.Seal); !errors.Is(err, ErrBadBlock) {
		t.Fatalf("tampered seal accepted: %v", err)
	}
	// A transaction root that does not match.
	wrongRoot := *b
	wrongRoot.Header.TxRoot = Hash{1}
	if _, err := DecodeBlock(wrongRoot.Encode()); !errors.Is(err, ErrBadBlock) {
		t.Fatalf("wrong root accepted: %v", err)
	}
	// A count that does not match.
	wrongCount := *b
	wrongCount.Header.TxCount = 4
	if _, err := DecodeBlock(wrongCount.Encode()); !errors.Is(err, ErrBadBlock) {
		t.Fatalf("wrong count accepted: %v", err)
	}
	if _, err := DecodeBlock(make([]byte, MaxBlockBytes+1)); !errors.Is(err, ErrOversize) {
		t.Fatalf("oversize block: %v", err)
	}
	if _, err := DecodeBlock([]byte{0x83, 0x01}); !errors.Is(err, ErrUndecodable) {
		t.Fatalf("truncated block: %v", err)
	}
	// An indefinite-length array is refused.
	if _, err := DecodeBlock([]byte{0x9f, 0xff}); !errors.Is(err, ErrUndecodable) {
		t.Fatalf("indefinite array: %v", err)
	}
}

func TestProofVerifiesAndDetectsTampering(t *testing.T) {
	b, _ := testBlock(t, 7)
	for i := range b.Txs {
		p, err := NewTxProof(b, i)
		if err != nil {
			t.Fatal(err)
		}
		// Through JSON, as a proof file travels.
		j, _ := json.Marshal(p)
		var q TxProof
		if err := json.Unmarshal(j, &q); err != nil {
			t.Fatal(err)
		}
		h, tx, err := q.Verify()
		if err != nil {
			t.Fatalf("tx %d: %v", i, err)
		}
		if h.Hash() != b.Hash() || tx.Hash() != b.Txs[i].Hash() {
			t.Fatal("proof returned the wrong header or transaction")
		}
	}
	p, _ := NewTxProof(b, 3)
	tamper := []func(p *TxProof){
		func(p *TxProof) { p.Tx[len(p.Tx)-1] ^= 1 },
		func(p *TxProof) { p.Path[0][0] ^= 1 },
		func(p *TxProof) { p.Header[len(p.Header)-1] ^= 1 },
		func(p *TxProof) { p.Seal[0] ^= 1 },
		func(p *TxProof) { p.Index = 2 },
		func(p *TxProof) { p.TreeSize = 8 },
		func(p *TxProof) { p.TxHash[0] ^= 1 },
		func(p *TxProof) { p.Height = 4 },
	}
	for i, f := range tamper {
		j, _ := json.Marshal(p)
		var q TxProof
		_ = json.Unmarshal(j, &q)
		f(&q)
		if _, _, err := q.Verify(); !errors.Is(err, ErrBadProof) {
			t.Errorf("tampering %d accepted: %v", i, err)
		}
	}
}

func TestGenesis(t *testing.T) {
	a, b := seedKey(t, 1).Public(), seedKey(t, 2).Public()
	g := NewGenesis("sixdomain-devnet", time.UnixMilli(1_767_225_600_000), b, a)
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	parsed, err := ParseGenesis(g.MarshalTOML())
	if err != nil {
		t.Fatalf("%v\n%s", err, g.MarshalTOML())
	}
	if parsed.Hash() != g.Hash() {
		t.Fatal("genesis hash changed through TOML")
	}
	keys := parsed.AuthorityKeys()
	if len(keys) != 2 || bytes.Compare(keys[0][:], keys[1][:]) >= 0 {
		t.Fatal("authority keys not sorted")
	}
	for name, src := range map[string]string{
		"unknown key":   string(g.MarshalTOML()) + "\nsurprise = 1\n",
		"no authority":  strings.Replace(string(g.MarshalTOML()), a.DID(), "did:key:zBad", 1),
		"bad chain":     strings.Replace(string(g.MarshalTOML()), "sixdomain-devnet", "Bad Chain!", 1),
		"tiny slot":     strings.Replace(string(g.MarshalTOML()), "slot_ms = 1000", "slot_ms = 1", 1),
		"not toml":      "chain_id = [",
		"duplicate key": strings.Replace(string(g.MarshalTOML()), b.DID(), a.DID(), 1),
	} {
		if _, err := ParseGenesis([]byte(src)); !errors.Is(err, ErrBadGenesis) {
			t.Errorf("%s: got %v", name, err)
		}
	}
}

// The decoder options must refuse CBOR tags even where the value would fit.
func TestTagsRefused(t *testing.T) {
	raw, _ := cbor.Marshal(cbor.Tag{Number: 1, Content: 5})
	var x int64
	if err := unmarshalCanonical(raw, &x); !errors.Is(err, ErrUndecodable) {
		t.Fatalf("tag accepted: %v", err)
	}
}

func TestSigCache(t *testing.T) {
	c := NewSigCache(2)
	k := seedKey(t, 5)
	a, b, d := signedRecord(t, k, 1, 1, "a"), signedRecord(t, k, 2, 1, "b"), signedRecord(t, k, 3, 1, "c")
	for _, tx := range []*Tx{a, b, d} {
		if err := c.Verify(tx); err != nil {
			t.Fatal(err)
		}
	}
	if c.Len() != 2 {
		t.Fatalf("cache holds %d, capacity 2", c.Len())
	}
	// A cached transaction with a forged signature is still refused.
	forged := *d
	forged.Signature = append([]byte{}, d.Signature...)
	forged.Signature[1] ^= 1
	if err := c.Verify(&forged); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("forged signature accepted through the cache: %v", err)
	}
}

// The example genesis shipped in configs/ stays valid.
func TestExampleGenesisLoads(t *testing.T) {
	g, err := LoadGenesis(filepath.Join("..", "..", "configs", "genesis.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(g.AuthorityKeys()) != 3 || g.ChainID != "sixdomain-example" {
		t.Fatalf("unexpected example genesis %+v", g)
	}
}

// TestGenesisHashAdmission: the admission mode is part of the genesis hash
// only on admitted chains; an open chain keeps the hash it always had.
func TestGenesisHashAdmission(t *testing.T) {
	g := NewGenesis(testChain, time.UnixMilli(1_767_225_600_000), seedKey(t, 1).Public())
	open := g.Hash()
	g.Admission = AdmissionOpen
	if g.Hash() != open {
		t.Fatal(`admission = "open" changed the hash`)
	}
	g.Admission = AdmissionAdmitted
	if g.Hash() == open {
		t.Fatal("admitted chain has the open chain's hash")
	}
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	g.Admission = "closed"
	if err := g.Validate(); err == nil {
		t.Fatal("unknown admission mode accepted")
	}
	back, err := ParseGenesis(func() []byte { g.Admission = AdmissionAdmitted; return g.MarshalTOML() }())
	if err != nil || !back.Admitted() || back.Hash() != g.Hash() {
		t.Fatalf("round trip: %v", err)
	}
}
