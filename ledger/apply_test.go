package ledger

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/smt"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// assemble builds an unchecked block after st with a correct transaction
// root and count, and a zero state root.
func assemble(st State, p Params, txs []*types.Tx, at int64) *types.Block {
	b := &types.Block{Txs: txs}
	b.Header = types.Header{Version: types.BlockVersion, ChainID: p.ChainID, Height: st.Height + 1,
		Parent: st.LastBlockHash, Time: at, TxRoot: types.TxRoot(b.EncodedTxs()), TxCount: uint32(len(txs)),
		Difficulty: types.DiffInTurn}
	return b
}

func TestApplyAcceptsProposedBlock(t *testing.T) {
	f := newFixture(t, 3)
	steps := buildChain(t, f, 4)
	st := GenesisState(f.g)
	nonces := memNonces{}
	for _, x := range steps {
		// Through the wire, as a peer receives it.
		b, err := types.DecodeBlock(x.b.Encode())
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Header.VerifySeal(b.Seal); err != nil {
			t.Fatal(err)
		}
		next, ch, err := Apply(st, nonces, f.p, b)
		if err != nil {
			t.Fatalf("block %d: %v", b.Header.Height, err)
		}
		if next != x.next {
			t.Fatalf("block %d: Apply state %+v, Propose state %+v", b.Header.Height, next, x.next)
		}
		if !reflect.DeepEqual(ch, x.ch) {
			t.Fatalf("block %d: Apply and Propose changes differ", b.Header.Height)
		}
		if next.Height != st.Height+1 || next.LastBlockHash != b.Hash() || next.TotalTxs != st.TotalTxs+uint64(len(b.Txs)) ||
			next.LastBlockTime != b.Header.Time || next.StateRoot == st.StateRoot {
			t.Fatalf("block %d: bad next state %+v after %+v", b.Header.Height, next, st)
		}
		for i, r := range ch.Records {
			tx := b.Txs[i]
			if r.Sender != tx.Sender || r.Nonce != tx.Nonce || r.TxHash != tx.Hash() || r.Height != next.Height ||
				r.Index != uint32(i) || r.Timestamp != tx.Timestamp || r.Stream != streams[int(tx.Nonce)%len(streams)] {
				t.Fatalf("block %d: record %d = %+v", b.Header.Height, i, r)
			}
		}
		for k, n := range ch.Nonces {
			nonces[k] = n
		}
		st = next
	}
	if want := nonces[f.keys[2].Public()]; want != 3*(1+2+3+4) {
		t.Fatalf("last nonce of sender 2 = %d", want)
	}
}

func TestApplyRejects(t *testing.T) {
	f := newFixture(t, 2)
	k0, k1 := f.keys[0], f.keys[1]
	// State after block 1, in which k0 used nonces 1 and 2.
	gen := GenesisState(f.g)
	at1 := gen.LastBlockTime + 1000
	b1, st, ch1, sk := propose(gen, memNonces{}, f.p, []*types.Tx{f.tx(t, k0, 1, at1, "temp"), f.tx(t, k0, 2, at1, "temp")}, at1, f.auth.Public())
	if len(sk) != 0 || len(b1.Txs) != 2 {
		t.Fatalf("block 1: %v", sk)
	}
	nonces := memNonces(ch1.Nonces)
	at := st.LastBlockTime + 1000
	w := f.p.Window

	valid := func() *types.Block {
		b, _, _, sk := propose(st, nonces, f.p, []*types.Tx{f.tx(t, k0, 3, at, "temp"), f.tx(t, k1, 1, at, "hum")}, at, f.auth.Public())
		if len(sk) != 0 {
			t.Fatal(sk)
		}
		return b
	}
	withTxs := func(txs ...*types.Tx) func() *types.Block {
		return func() *types.Block { return assemble(st, f.p, txs, at) }
	}
	dup := f.tx(t, k1, 1, at, "hum")
	unsigned := f.tx(t, k1, 1, at, "hum")
	unsigned.Signature = nil

	tests := []struct {
		name    string
		block   func() *types.Block
		edit    func(b *types.Block)
		params  func(p *Params)
		txIndex int // index in the error message, -1 for a block-level error
		want    []error
	}{
		{name: "nil block", block: func() *types.Block { return nil }, txIndex: -1, want: []error{types.ErrBadBlock}},
		{name: "bad version", block: valid, edit: func(b *types.Block) { b.Header.Version = 2 }, txIndex: -1,
			want: []error{types.ErrBadBlock, types.ErrBadVersion}},
		{name: "wrong chain", block: valid, edit: func(b *types.Block) { b.Header.ChainID = "other-chain" }, txIndex: -1,
			want: []error{types.ErrBadBlock, types.ErrWrongChain}},
		{name: "height skips ahead", block: valid, edit: func(b *types.Block) { b.Header.Height++ }, txIndex: -1,
			want: []error{types.ErrBadBlock, ErrWrongHeight, ErrNotNext}},
		{name: "height repeats", block: valid, edit: func(b *types.Block) { b.Header.Height-- }, txIndex: -1,
			want: []error{types.ErrBadBlock, ErrWrongHeight, ErrNotNext}},
		{name: "wrong parent", block: valid, edit: func(b *types.Block) { b.Header.Parent[0] ^= 1 }, txIndex: -1,
			want: []error{types.ErrBadBlock, ErrWrongParent, ErrNotNext}},
		{name: "time equals parent's", block: valid, edit: func(b *types.Block) { b.Header.Time = st.LastBlockTime }, txIndex: -1,
			want: []error{types.ErrBadBlock, ErrBlockTime}},
		{name: "time before parent's", block: valid, edit: func(b *types.Block) { b.Header.Time = st.LastBlockTime - 1 }, txIndex: -1,
			want: []error{types.ErrBadBlock, ErrBlockTime}},
		{name: "too many txs", block: valid, params: func(p *Params) { p.MaxBlockTxs = 1 }, txIndex: -1,
			want: []error{types.ErrBadBlock, ErrTooManyTxs}},
		{name: "tx count mismatch", block: valid, edit: func(b *types.Block) { b.Header.TxCount++ }, txIndex: -1,
			want: []error{types.ErrBadBlock, ErrTxRoot}},
		{name: "tx root mismatch", block: valid, edit: func(b *types.Block) { b.Header.TxRoot[31] ^= 1 }, txIndex: -1,
			want: []error{types.ErrBadBlock, ErrTxRoot}},
		{name: "state root mismatch", block: valid, edit: func(b *types.Block) { b.Header.StateRoot[0] ^= 1 }, txIndex: -1,
			want: []error{types.ErrBadBlock, ErrStateRoot}},
		{name: "replayed nonce within block", txIndex: 1, want: []error{types.ErrBadBlock, types.ErrReplayedNonce},
			block: withTxs(f.tx(t, k1, 1, at, "hum"), signedTx(t, f.p.ChainID, k1, 1, at, "hum", "other value"))},
		{name: "replayed nonce across blocks", txIndex: 1, want: []error{types.ErrBadBlock, types.ErrReplayedNonce},
			block: withTxs(f.tx(t, k1, 1, at, "hum"), f.tx(t, k0, 2, at, "temp"))},
		{name: "nonce gap", txIndex: 0, want: []error{types.ErrBadBlock, types.ErrNonceGap},
			block: withTxs(f.tx(t, k0, 4, at, "temp"))},
		{name: "nonce gap within block", txIndex: 1, want: []error{types.ErrBadBlock, types.ErrNonceGap},
			block: withTxs(f.tx(t, k1, 1, at, "hum"), f.tx(t, k1, 3, at, "hum"))},
		{name: "zero nonce", txIndex: 0, want: []error{types.ErrBadBlock, types.ErrZeroNonce},
			block: withTxs(f.tx(t, k1, 0, at, "hum"))},
		{name: "tx timestamp before window", txIndex: 0, want: []error{types.ErrBadBlock, types.ErrTimeInPast},
			block: withTxs(f.tx(t, k1, 1, at-w.PastFor(types.TxDataRecord).Milliseconds()-1, "hum"))},
		{name: "tx timestamp after window", txIndex: 0, want: []error{types.ErrBadBlock, types.ErrTimeInFuture},
			block: withTxs(f.tx(t, k1, 1, at+w.Future.Milliseconds()+1, "hum"))},
		{name: "tx of another chain", txIndex: 0, want: []error{types.ErrBadBlock, types.ErrWrongChain},
			block: withTxs(signedTx(t, "other-chain", k1, 1, at, "hum", "x"))},
		{name: "tx without signature", txIndex: 0, want: []error{types.ErrBadBlock, types.ErrBadSignature},
			block: withTxs(unsigned)},
		{name: "duplicate tx", txIndex: 1, want: []error{types.ErrBadBlock, ErrDuplicateTx},
			block: withTxs(dup, dup)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.block()
			if tc.edit != nil {
				tc.edit(b)
			}
			p := f.p
			if tc.params != nil {
				tc.params(&p)
			}
			next, ch, err := Apply(st, nonces, p, b)
			if err == nil {
				t.Fatalf("accepted: %+v", next)
			}
			if ch != nil || next != (State{}) {
				t.Fatalf("returned changes or state with error %v", err)
			}
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("error %q does not wrap %q", err, w)
				}
			}
			if tc.txIndex >= 0 {
				prefix := fmt.Sprintf("%s: tx %d (%s): ", types.ErrBadBlock, tc.txIndex, b.Txs[tc.txIndex].Hash())
				if !strings.HasPrefix(err.Error(), prefix) {
					t.Errorf("error %q does not start with %q", err, prefix)
				}
			}
			t.Logf("%s: %v", types.Reason(err), err)
		})
	}

	// The valid block itself is accepted, and Apply did not modify the
	// reader's nonces while rejecting the others.
	if _, _, err := Apply(st, nonces, f.p, valid()); err != nil {
		t.Fatal(err)
	}
	if len(nonces) != 1 || nonces[k0.Public()] != 2 {
		t.Fatalf("nonces changed: %v", nonces)
	}
}

// Apply leaves signatures to its callers.
func TestApplyDoesNotVerifySignatures(t *testing.T) {
	f := newFixture(t, 1)
	st := GenesisState(f.g)
	at := st.LastBlockTime + 1000
	tx := f.tx(t, f.keys[0], 1, at, "temp")
	tx.Signature[0] ^= 1
	b, _, _, sk := propose(st, memNonces{}, f.p, []*types.Tx{tx}, at, f.auth.Public())
	if len(sk) != 0 {
		t.Fatal(sk)
	}
	if _, _, err := Apply(st, memNonces{}, f.p, b); err != nil {
		t.Fatal(err)
	}
}

type failingReader struct{ err error }

func (r failingReader) Nonce(identity.PublicKey) (uint64, error)         { return 0, r.err }
func (r failingReader) DID(identity.PublicKey) (*types.DIDRecord, error) { return nil, r.err }
func (r failingReader) IsAuthority(identity.PublicKey) bool              { return false }
func (r failingReader) Node(h smt.Hash) ([]byte, error)                  { return testNode(h) }
func (r failingReader) AuthoritiesAfter(*types.Header) ([]identity.PublicKey, error) {
	return testAuthorities, nil
}

func TestApplyReaderError(t *testing.T) {
	f := newFixture(t, 1)
	st := GenesisState(f.g)
	at := st.LastBlockTime + 1000
	b, _, _, _ := propose(st, memNonces{}, f.p, []*types.Tx{f.tx(t, f.keys[0], 1, at, "temp")}, at, f.auth.Public())
	boom := errors.New("disk on fire")
	_, _, err := Apply(st, failingReader{boom}, f.p, b)
	if !errors.Is(err, boom) || errors.Is(err, types.ErrBadBlock) {
		t.Fatalf("error %v", err)
	}
	_, _, _, sk := propose(st, failingReader{boom}, f.p, b.Txs, at, f.auth.Public())
	if len(sk) != 1 || !errors.Is(sk[0].Err, boom) {
		t.Fatalf("skipped %v", sk)
	}
}

func TestProposeSkips(t *testing.T) {
	f := newFixture(t, 2)
	k0, k1 := f.keys[0], f.keys[1]
	st := GenesisState(f.g)
	nonces := memNonces{k1.Public(): 5}
	at := st.LastBlockTime + 1000
	w := f.p.Window
	ok1 := f.tx(t, k0, 1, at, "temp")
	ok2 := f.tx(t, k0, 2, at, "temp")
	ok3 := f.tx(t, k1, 6, at, "hum")
	gapLater := f.tx(t, k0, 3, at, "temp") // comes before nonce 2: a gap then
	badSig := f.tx(t, k1, 7, at, "hum")
	badSig.Signature = badSig.Signature[:10]
	candidates := []*types.Tx{
		ok1,
		f.tx(t, k1, 5, at, "hum"), // replayed: k1 is at 5
		gapLater,
		ok1, // duplicate
		f.tx(t, k0, 2, at-w.PastFor(types.TxDataRecord).Milliseconds()-1, "temp"),
		f.tx(t, k0, 2, at+w.Future.Milliseconds()+1, "temp"),
		signedTx(t, "other-chain", k0, 2, at, "temp", "x"),
		nil,
		badSig,
		ok2,
		ok3,
	}
	want := []error{types.ErrReplayedNonce, types.ErrNonceGap, ErrDuplicateTx, types.ErrTimeInPast,
		types.ErrTimeInFuture, types.ErrWrongChain, types.ErrUndecodable, types.ErrBadSignature}
	wantSkipped := []*types.Tx{candidates[1], candidates[2], candidates[3], candidates[4], candidates[5], candidates[6], nil, badSig}

	b, next, ch, skipped := propose(st, nonces, f.p, candidates, at, f.auth.Public())
	if !reflect.DeepEqual(b.Txs, []*types.Tx{ok1, ok2, ok3}) {
		t.Fatalf("block holds %d txs", len(b.Txs))
	}
	if len(skipped) != len(want) {
		t.Fatalf("skipped %d: %v", len(skipped), skipped)
	}
	for i, s := range skipped {
		if s.Tx != wantSkipped[i] || !errors.Is(s.Err, want[i]) {
			t.Errorf("skipped[%d] = %v, want %v", i, s.Err, want[i])
		}
	}
	if b.Seal != nil || b.Header.Proposer != f.auth.Public() || b.Header.Time != at || b.Header.TxCount != 3 {
		t.Fatalf("header %+v", b.Header)
	}
	if ch.Nonces[k0.Public()] != 2 || ch.Nonces[k1.Public()] != 6 || len(ch.Nonces) != 2 || len(ch.Records) != 3 {
		t.Fatalf("changes %+v", ch)
	}
	next2, ch2, err := Apply(st, nonces, f.p, f.seal(b))
	if err != nil {
		t.Fatal(err)
	}
	if next2 != next || !reflect.DeepEqual(ch, ch2) {
		t.Fatal("Apply disagrees with Propose")
	}
}

func TestProposeFull(t *testing.T) {
	f := newFixture(t, 1)
	k := f.keys[0]
	st := GenesisState(f.g)
	at := st.LastBlockTime + 1000

	t.Run("by count", func(t *testing.T) {
		p := f.p
		p.MaxBlockTxs = 3
		var txs []*types.Tx
		for n := uint64(1); n <= 5; n++ {
			txs = append(txs, f.tx(t, k, n, at, "temp"))
		}
		b, _, _, skipped := propose(st, memNonces{}, p, txs, at, f.auth.Public())
		if len(b.Txs) != 3 || len(skipped) != 0 {
			t.Fatalf("%d txs, skipped %v", len(b.Txs), skipped)
		}
		if _, _, err := Apply(st, memNonces{}, p, f.seal(b)); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("by bytes", func(t *testing.T) {
		big := strings.Repeat("x", types.MaxRecordValue)
		var txs []*types.Tx
		for n := uint64(1); n <= types.MaxBlockBytes/types.MaxRecordValue+10; n++ {
			txs = append(txs, signedTx(t, f.p.ChainID, k, n, at, "blob", big))
		}
		b, _, _, skipped := propose(st, memNonces{}, f.p, txs, at, f.auth.Public())
		if len(skipped) != 0 || len(b.Txs) == len(txs) {
			t.Fatalf("%d of %d txs, skipped %v", len(b.Txs), len(txs), skipped)
		}
		enc := f.seal(b).Encode()
		if len(enc) > types.MaxBlockBytes {
			t.Fatalf("block of %d bytes", len(enc))
		}
		// One more transaction would not have fitted next to the room kept
		// for the engine's vote and checkpoint fields.
		reserve := blockSize(&types.Header{VoteTarget: make([]byte, 32), Checkpoint: make([]identity.PublicKey, maxCheckpointAuthorities)}, nil) -
			blockSize(&types.Header{}, nil)
		if len(enc)+len(txs[len(b.Txs)].Encode())+reserve <= types.MaxBlockBytes {
			t.Fatalf("block of %d bytes stopped early", len(enc))
		}
		if got := blockSize(&b.Header, b.EncodedTxs()); got != len(enc) {
			t.Fatalf("blockSize %d, encoding %d", got, len(enc))
		}
		d, err := types.DecodeBlock(enc)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := Apply(st, memNonces{}, f.p, d); err != nil {
			t.Fatal(err)
		}
	})
}

func TestProposeClampsTime(t *testing.T) {
	f := newFixture(t, 1)
	st := GenesisState(f.g)
	b, next, _, _ := propose(st, memNonces{}, f.p, nil, st.LastBlockTime-5, f.auth.Public())
	if b.Header.Time != st.LastBlockTime+1 || next.LastBlockTime != b.Header.Time {
		t.Fatalf("time %d after %d", b.Header.Time, st.LastBlockTime)
	}
	if _, _, err := Apply(st, memNonces{}, f.p, f.seal(b)); err != nil {
		t.Fatal(err)
	}
}

// TestStateRootIsTreeRoot checks that a block's state root is the root of
// the state tree holding exactly the documented keys: each sender's last
// nonce and the authority set after the block, rebuilt here from scratch.
func TestStateRootIsTreeRoot(t *testing.T) {
	f := newFixture(t, 2)
	k0, k1 := f.keys[0], f.keys[1]
	st := GenesisState(f.g)
	at := st.LastBlockTime + 1000
	b1, st1, ch1, sk := propose(st, memNonces{}, f.p, []*types.Tx{f.tx(t, k0, 1, at, "temp"), f.tx(t, k0, 2, at, "temp"), f.tx(t, k1, 1, at, "hum")}, at, f.auth.Public())
	if len(sk) != 0 {
		t.Fatal(sk)
	}
	if ch1.Authorities == nil {
		t.Fatal("block 1 must record the authority set")
	}
	want, _, _, err := smt.Update(smt.MapNodes{}, smt.Empty, []smt.Op{
		{Key: NonceStateKey(k0.Public()), Value: EncodeNonce(2)},
		{Key: NonceStateKey(k1.Public()), Value: EncodeNonce(1)},
		{Key: AuthoritiesStateKey(), Value: EncodeAuthorities(testAuthorities)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if b1.Header.StateRoot != types.Hash(want) || st1.StateRoot != types.Hash(want) {
		t.Fatalf("state root %s, tree of the documented keys %s", b1.Header.StateRoot, want)
	}
	// Block 2 changes one nonce; the authority set is unchanged and not
	// rewritten.
	nonces := memNonces{k0.Public(): 2, k1.Public(): 1}
	at2 := at + 1000
	b2, _, ch2, _ := propose(st1, nonces, f.p, []*types.Tx{f.tx(t, k1, 2, at2, "hum")}, at2, f.auth.Public())
	if ch2.Authorities != nil {
		t.Fatalf("block 2 rewrote an unchanged authority set: %v", ch2.Authorities)
	}
	want2, _, _, err := smt.Update(smt.MapNodes{}, smt.Empty, []smt.Op{
		{Key: NonceStateKey(k0.Public()), Value: EncodeNonce(2)},
		{Key: NonceStateKey(k1.Public()), Value: EncodeNonce(2)},
		{Key: AuthoritiesStateKey(), Value: EncodeAuthorities(testAuthorities)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if b2.Header.StateRoot != types.Hash(want2) {
		t.Fatalf("block 2 state root %s, want %s", b2.Header.StateRoot, want2)
	}
	// A block whose header claims another root is refused.
	bad := *b2
	bad.Header.StateRoot = b1.Header.StateRoot
	if _, _, err := Apply(st1, nonces, f.p, &bad); !errors.Is(err, ErrStateRoot) {
		t.Fatalf("wrong state root: %v", err)
	}
}
