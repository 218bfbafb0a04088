package ledger

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-datastore"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/smt"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// t0 is the genesis time of the test chains.
var t0 = time.UnixMilli(1_750_000_000_000).UTC()

const testChain = "sixdomain-test"

type fixture struct {
	g    *types.Genesis
	p    Params
	auth *identity.PrivateKey
	keys []*identity.PrivateKey
}

func newKey(tb testing.TB) *identity.PrivateKey {
	tb.Helper()
	k, err := identity.Generate(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func newFixture(tb testing.TB, senders int) *fixture {
	tb.Helper()
	f := &fixture{auth: newKey(tb)}
	f.g = types.NewGenesis(testChain, t0, f.auth.Public())
	if err := f.g.Validate(); err != nil {
		tb.Fatal(err)
	}
	f.p = ParamsFromGenesis(f.g)
	for range senders {
		f.keys = append(f.keys, newKey(tb))
	}
	return f
}

// tx returns a signed data-record transaction.
func (f *fixture) tx(tb testing.TB, key *identity.PrivateKey, nonce uint64, ts int64, stream string) *types.Tx {
	tb.Helper()
	return signedTx(tb, f.p.ChainID, key, nonce, ts, stream, fmt.Sprintf(`{"n":%d}`, nonce))
}

func signedTx(tb testing.TB, chain string, key *identity.PrivateKey, nonce uint64, ts int64, stream, value string) *types.Tx {
	tb.Helper()
	tx, err := types.NewDataRecordTx(chain, nonce, ts, types.DataRecord{Stream: stream, ContentType: "application/json", Value: []byte(value)})
	if err != nil {
		tb.Fatal(err)
	}
	tx.Sign(key)
	return tx
}

func (f *fixture) seal(b *types.Block) *types.Block {
	b.Seal = f.auth.Sign(b.Header.SealBytes())
	return b
}

// memNonces is a NonceReader over a map.
type memNonces map[identity.PublicKey]uint64

func (m memNonces) Nonce(s identity.PublicKey) (uint64, error) { return m[s], nil }

// memNonces has no DIDs and no authorities: the open-chain reader of the
// tests that need only nonces.
func (m memNonces) DID(identity.PublicKey) (*types.DIDRecord, error) { return nil, nil }
func (m memNonces) IsAuthority(identity.PublicKey) bool              { return false }

// Node reads the state-tree nodes that propose and apply collected.
func (m memNonces) Node(h smt.Hash) ([]byte, error) { return testNode(h) }

// AuthoritiesAfter is the tests' fixed authority set.
func (m memNonces) AuthoritiesAfter(*types.Header) ([]identity.PublicKey, error) {
	return testAuthorities, nil
}

// testAuthorities is the authority set the tests' blocks record in the
// state (the readers of tests without consensus give it).
var testAuthorities = []identity.PublicKey{{1}}

// testNodes holds every state-tree node the tests' blocks created. Nodes
// are content-addressed and immutable, so tests can share them.
var testNodes sync.Map

func testNode(h smt.Hash) ([]byte, error) {
	if v, ok := testNodes.Load(h); ok {
		return v.([]byte), nil
	}
	return nil, fmt.Errorf("%w: %s", smt.ErrMissingNode, h)
}

func keepNodes(ch *Changes) {
	if ch == nil {
		return
	}
	for h, n := range ch.Tree.Nodes {
		testNodes.Store(h, n)
	}
}

// propose is Propose without a prepare hook that keeps the state-tree
// nodes it made for the readers of later blocks; a Reader error fails
// with a panic (tests that want it call Propose).
func propose(st State, r Reader, p Params, candidates []*types.Tx, at int64, proposer identity.PublicKey) (*types.Block, State, *Changes, []Skipped) {
	b, next, ch, sk, err := Propose(st, r, p, candidates, at, proposer, nil)
	if err != nil {
		panic(fmt.Sprintf("propose: %v", err))
	}
	keepNodes(ch)
	return b, next, ch, sk
}

// step is one block of a test chain with what Propose returned for it.
type step struct {
	b    *types.Block
	next State
	ch   *Changes
}

// stream names of the test workload; "a" and "ab" check that a stream
// query does not match a stream whose name it prefixes.
var streams = []string{"temp", "hum", "a", "ab"}

// buildChain builds and seals blocks 1..n of f's chain. In block h, sender
// i sends (i+1)*h records, cycling through streams, so the first sender
// reaches nonces past 0x0f and 0x10 in a few blocks.
func buildChain(tb testing.TB, f *fixture, n int) []step {
	tb.Helper()
	st := GenesisState(f.g)
	nonces := memNonces{}
	var out []step
	for h := 1; h <= n; h++ {
		at := st.LastBlockTime + f.g.SlotMillis
		var txs []*types.Tx
		for i, k := range f.keys {
			for j := 0; j < (i+1)*h; j++ {
				next := nonces[k.Public()] + uint64(j) + 1
				txs = append(txs, f.tx(tb, k, next, at-int64(j), streams[int(next)%len(streams)]))
			}
		}
		b, next, ch, skipped := propose(st, nonces, f.p, txs, at, f.auth.Public())
		if len(skipped) > 0 || len(b.Txs) != len(txs) {
			tb.Fatalf("block %d: skipped %v", h, skipped)
		}
		f.seal(b)
		out = append(out, step{b, next, ch})
		maps.Copy(nonces, ch.Nonces)
		st = next
	}
	return out
}

// backend is a datastore under test. open returns the datastore and a
// reopen function that closes it and opens it again (a no-op for memory).
type backend struct {
	name       string
	persistent bool
	open       func(t *testing.T) (datastore.Batching, func() datastore.Batching)
}

var backends = []backend{
	{"memory", false, func(t *testing.T) (datastore.Batching, func() datastore.Batching) {
		d := NewMemory()
		return d, func() datastore.Batching { return d }
	}},
	// the ledger's namespace of a node datastore, as node opens it
	{"memory/namespaced", false, func(t *testing.T) (datastore.Batching, func() datastore.Batching) {
		sp, err := Split(context.Background(), NewMemory())
		if err != nil {
			t.Fatal(err)
		}
		return sp.Ledger, func() datastore.Batching { return sp.Ledger }
	}},
	{"pebble", true, func(t *testing.T) (datastore.Batching, func() datastore.Batching) {
		dir := t.TempDir()
		open := func() datastore.Batching {
			d, err := OpenPebble(dir)
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		cur := open()
		t.Cleanup(func() { cur.Close() })
		return cur, func() datastore.Batching {
			if err := cur.Close(); err != nil {
				t.Fatal(err)
			}
			cur = open()
			return cur
		}
	}},
}

// commitAll commits steps to s, checking that Apply with s as the nonce
// reader agrees with Propose.
func commitAll(t *testing.T, s *Store, p Params, steps []step) {
	t.Helper()
	ctx := context.Background()
	for _, x := range steps {
		next, ch, err := Apply(s.State(), View(s, testAuthorities), p, x.b)
		if err != nil {
			t.Fatalf("Apply block %d: %v", x.b.Header.Height, err)
		}
		if next != x.next || !reflect.DeepEqual(ch, x.ch) {
			t.Fatalf("Apply block %d disagrees with Propose", x.b.Header.Height)
		}
		if err := s.Commit(ctx, x.b, next, ch); err != nil {
			t.Fatalf("Commit block %d: %v", x.b.Header.Height, err)
		}
		if s.State() != next {
			t.Fatalf("State after block %d = %+v, want %+v", x.b.Header.Height, s.State(), next)
		}
	}
}
