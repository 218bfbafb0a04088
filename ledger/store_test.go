package ledger

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// allRecords returns the records of steps, per sender, in nonce order.
func allRecords(steps []step) map[identity.PublicKey][]RecordEntry {
	out := map[identity.PublicKey][]RecordEntry{}
	for _, x := range steps {
		for _, r := range x.ch.Records {
			out[r.Sender] = append(out[r.Sender], r)
		}
	}
	return out
}

func finalNonces(steps []step) map[identity.PublicKey]uint64 {
	out := map[identity.PublicKey]uint64{}
	for _, x := range steps {
		maps.Copy(out, x.ch.Nonces)
	}
	return out
}

// checkStore checks that s holds exactly the chain of steps.
func checkStore(t *testing.T, s *Store, f *fixture, steps []step) {
	t.Helper()
	ctx := context.Background()
	if got, want := s.State(), steps[len(steps)-1].next; got != want {
		t.Fatalf("State = %+v, want %+v", got, want)
	}
	for _, x := range steps {
		h := x.b.Header.Height
		raw, err := s.RawBlock(ctx, h)
		if err != nil || !bytes.Equal(raw, x.b.Encode()) {
			t.Fatalf("RawBlock(%d): %v", h, err)
		}
		b, err := s.Block(ctx, h)
		if err != nil || !bytes.Equal(b.Encode(), raw) {
			t.Fatalf("Block(%d): %v", h, err)
		}
		b, err = s.BlockByHash(ctx, x.b.Hash())
		if err != nil || b.Header.Height != h {
			t.Fatalf("BlockByHash(%d): %v", h, err)
		}
		for i, tx := range x.b.Txs {
			th := tx.Hash()
			gh, gi, err := s.TxLocation(ctx, th)
			if err != nil || gh != h || gi != uint32(i) {
				t.Fatalf("TxLocation(block %d tx %d) = %d, %d, %v", h, i, gh, gi, err)
			}
			got, gh, gi, err := s.Tx(ctx, th)
			if err != nil || gh != h || gi != uint32(i) || !bytes.Equal(got.Encode(), tx.Encode()) {
				t.Fatalf("Tx(block %d tx %d): %v", h, i, err)
			}
		}
	}
	for k, want := range finalNonces(steps) {
		if got, err := s.Nonce(k); err != nil || got != want {
			t.Fatalf("Nonce = %d, %v; want %d", got, err, want)
		}
	}
	if got, err := s.Nonce(newKey(t).Public()); err != nil || got != 0 {
		t.Fatalf("Nonce of a stranger = %d, %v", got, err)
	}
	for k, want := range allRecords(steps) {
		got, err := s.Records(ctx, k, "", 0, 0)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("Records: %v\n got %+v\nwant %+v", err, got, want)
		}
	}

	last := steps[len(steps)-1].b.Header.Height
	var zero types.Hash
	notFound := map[string]error{}
	_, notFound["Block(0)"] = s.Block(ctx, 0)
	_, notFound["Block(head+1)"] = s.Block(ctx, last+1)
	_, notFound["RawBlock(head+1)"] = s.RawBlock(ctx, last+1)
	_, notFound["BlockByHash"] = s.BlockByHash(ctx, zero)
	_, _, notFound["TxLocation"] = s.TxLocation(ctx, zero)
	_, _, _, notFound["Tx"] = s.Tx(ctx, zero)
	_, notFound["Proof"] = s.Proof(ctx, zero)
	for name, err := range notFound {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", name, err)
		}
	}
}

func TestStoreCommitReopen(t *testing.T) {
	f := newFixture(t, 3)
	steps := buildChain(t, f, 5)
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			d, reopen := be.open(t)
			s, err := Open(ctx, d, f.g)
			if err != nil {
				t.Fatal(err)
			}
			if s.State() != GenesisState(f.g) || s.GenesisHash() != f.g.Hash() {
				t.Fatalf("fresh State = %+v", s.State())
			}
			commitAll(t, s, f.p, steps)
			checkStore(t, s, f, steps)

			s, err = Open(ctx, reopen(), f.g)
			if err != nil {
				t.Fatal(err)
			}
			checkStore(t, s, f, steps)

			// The reopened store goes on.
			more := buildChainFrom(t, f, steps, 1)
			commitAll(t, s, f.p, more)
			checkStore(t, s, f, append(slices.Clone(steps), more...))
		})
	}
}

// buildChainFrom builds n more blocks after steps with one record per
// sender each.
func buildChainFrom(t *testing.T, f *fixture, steps []step, n int) []step {
	t.Helper()
	st := steps[len(steps)-1].next
	nonces := memNonces(finalNonces(steps))
	var out []step
	for range n {
		at := st.LastBlockTime + f.g.SlotMillis
		var txs []*types.Tx
		for _, k := range f.keys {
			txs = append(txs, f.tx(t, k, nonces[k.Public()]+1, at, "temp"))
		}
		b, next, ch, sk := propose(st, nonces, f.p, txs, at, f.auth.Public())
		if len(sk) != 0 {
			t.Fatal(sk)
		}
		out = append(out, step{f.seal(b), next, ch})
		maps.Copy(nonces, ch.Nonces)
		st = next
	}
	return out
}

func TestStoreRecords(t *testing.T) {
	f := newFixture(t, 3)
	steps := buildChain(t, f, 5)
	recs := allRecords(steps)
	heavy := f.keys[2].Public() // 45 records: nonces 1..0x2d

	expect := func(sender identity.PublicKey, stream string, after uint64, limit int) []RecordEntry {
		var out []RecordEntry
		for _, r := range recs[sender] {
			if r.Nonce > after && (stream == "" || r.Stream == stream) && len(out) < limit {
				out = append(out, r)
			}
		}
		return out
	}
	type q struct {
		name   string
		sender identity.PublicKey
		stream string
		after  uint64
		limit  int
		want   []RecordEntry
	}
	queries := []q{
		{"all", heavy, "", 0, 1000, expect(heavy, "", 0, 1000)},
		{"limit", heavy, "", 0, 7, expect(heavy, "", 0, 7)},
		{"after 9 (hex a next)", heavy, "", 9, 10, expect(heavy, "", 9, 10)},
		{"after 15 (hex 10 next)", heavy, "", 15, 3, expect(heavy, "", 15, 3)},
		{"after last", heavy, "", 45, 10, nil},
		{"zero limit means max", heavy, "", 0, 0, expect(heavy, "", 0, 1000)},
		{"negative limit means max", heavy, "", 0, -1, expect(heavy, "", 0, 1000)},
		{"stream temp", heavy, "temp", 0, 1000, expect(heavy, "temp", 0, 1000)},
		{"stream a, not ab", heavy, "a", 0, 1000, expect(heavy, "a", 0, 1000)},
		{"stream ab", heavy, "ab", 0, 1000, expect(heavy, "ab", 0, 1000)},
		{"stream hum after 20 limit 4", heavy, "hum", 20, 4, expect(heavy, "hum", 20, 4)},
		{"unknown stream", heavy, "pressure", 0, 1000, nil},
		{"unknown sender", newKey(t).Public(), "", 0, 1000, nil},
		{"light sender", f.keys[0].Public(), "", 0, 1000, expect(f.keys[0].Public(), "", 0, 1000)},
	}
	// Sanity of the expectations themselves.
	if n := len(queries[0].want); n != 45 {
		t.Fatalf("heavy sender has %d records", n)
	}
	for _, r := range queries[8].want {
		if r.Stream != "a" {
			t.Fatal(r)
		}
	}
	if len(queries[8].want) == 0 || len(queries[9].want) == 0 {
		t.Fatal("no records on streams a / ab")
	}

	answers := map[string][][]RecordEntry{}
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			d, _ := be.open(t)
			s, err := Open(ctx, d, f.g)
			if err != nil {
				t.Fatal(err)
			}
			commitAll(t, s, f.p, steps)
			for _, tc := range queries {
				got, err := s.Records(ctx, tc.sender, tc.stream, tc.after, tc.limit)
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.want)
				}
				answers[be.name] = append(answers[be.name], got)
			}
			// Paging through everything, for every stream.
			for _, stream := range append([]string{""}, streams...) {
				var all []RecordEntry
				var after uint64
				for {
					page, err := s.Records(ctx, heavy, stream, after, 4)
					if err != nil {
						t.Fatal(err)
					}
					all = append(all, page...)
					if len(page) < 4 {
						break
					}
					after = page[len(page)-1].Nonce
				}
				if want := expect(heavy, stream, 0, 1000); !reflect.DeepEqual(all, want) {
					t.Errorf("paging stream %q: %d records, want %d", stream, len(all), len(want))
				}
			}
		})
	}
	if !reflect.DeepEqual(answers["memory"], answers["pebble"]) {
		t.Fatal("backends disagree")
	}
}

func TestStoreRecordsLimitCap(t *testing.T) {
	f := newFixture(t, 1)
	k := f.keys[0]
	st := GenesisState(f.g)
	at := st.LastBlockTime + 1000
	var txs []*types.Tx
	for n := uint64(1); n <= MaxRecordsLimit+50; n++ {
		txs = append(txs, f.tx(t, k, n, at, "temp"))
	}
	b, next, ch, sk := propose(st, memNonces{}, f.p, txs, at, f.auth.Public())
	if len(sk) != 0 || len(b.Txs) != len(txs) {
		t.Fatal(sk)
	}
	f.seal(b)
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			d, _ := be.open(t)
			s, err := Open(ctx, d, f.g)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Commit(ctx, b, next, ch); err != nil {
				t.Fatal(err)
			}
			for _, limit := range []int{0, MaxRecordsLimit + 1, 1 << 30} {
				got, err := s.Records(ctx, k.Public(), "", 0, limit)
				if err != nil || len(got) != MaxRecordsLimit || got[0].Nonce != 1 || got[MaxRecordsLimit-1].Nonce != MaxRecordsLimit {
					t.Fatalf("limit %d: %d records, %v", limit, len(got), err)
				}
			}
			rest, err := s.Records(ctx, k.Public(), "temp", MaxRecordsLimit, 0)
			if err != nil || len(rest) != 50 || rest[0].Nonce != MaxRecordsLimit+1 {
				t.Fatalf("rest: %d records, %v", len(rest), err)
			}
		})
	}
}

func TestStoreProof(t *testing.T) {
	f := newFixture(t, 3)
	steps := buildChain(t, f, 3)
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			d, _ := be.open(t)
			s, err := Open(ctx, d, f.g)
			if err != nil {
				t.Fatal(err)
			}
			commitAll(t, s, f.p, steps)
			for _, x := range steps {
				for i, tx := range x.b.Txs {
					p, err := s.Proof(ctx, tx.Hash())
					if err != nil {
						t.Fatal(err)
					}
					hdr, ptx, err := p.Verify()
					if err != nil {
						t.Fatalf("block %d tx %d: %v", x.b.Header.Height, i, err)
					}
					if hdr.Hash() != x.b.Hash() || ptx.Hash() != tx.Hash() || p.Index != uint64(i) {
						t.Fatalf("block %d tx %d: proof of something else", x.b.Header.Height, i)
					}
					// The proof built from the stored bytes is the one
					// types builds from the block.
					want, err := types.NewTxProof(x.b, i)
					if err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(p, want) {
						t.Fatalf("block %d tx %d: proof differs from types.NewTxProof", x.b.Header.Height, i)
					}
				}
			}

			// Tampering: a tx in the middle of the largest block, so that
			// its path has several hashes.
			last := steps[len(steps)-1].b
			th := last.Txs[len(last.Txs)/2].Hash()
			tamper := map[string]func(p *types.TxProof){
				"tx":        func(p *types.TxProof) { p.Tx[len(p.Tx)-1] ^= 1 },
				"tx value":  func(p *types.TxProof) { p.Tx[len(p.Tx)-80] ^= 1 },
				"tx hash":   func(p *types.TxProof) { p.TxHash[0] ^= 1 },
				"path":      func(p *types.TxProof) { p.Path[0][0] ^= 1 },
				"path top":  func(p *types.TxProof) { p.Path[len(p.Path)-1][31] ^= 1 },
				"short":     func(p *types.TxProof) { p.Path = p.Path[1:] },
				"index":     func(p *types.TxProof) { p.Index ^= 1 },
				"tree size": func(p *types.TxProof) { p.TreeSize++ },
				"header":    func(p *types.TxProof) { p.Header[len(p.Header)-40] ^= 1 },
				"height":    func(p *types.TxProof) { p.Height-- },
				"seal":      func(p *types.TxProof) { p.Seal[10] ^= 1 },
			}
			for name, edit := range tamper {
				p, err := s.Proof(ctx, th)
				if err != nil {
					t.Fatal(err)
				}
				// Through JSON, as a client gets it.
				js, err := json.Marshal(p)
				if err != nil {
					t.Fatal(err)
				}
				var q types.TxProof
				if err := json.Unmarshal(js, &q); err != nil {
					t.Fatal(err)
				}
				if _, _, err := q.Verify(); err != nil {
					t.Fatalf("untampered proof: %v", err)
				}
				// Tamper with the proof itself: it must not share memory
				// with the store (checked below).
				edit(p)
				if _, _, err := p.Verify(); !errors.Is(err, types.ErrBadProof) {
					t.Errorf("tampered %s: %v", name, err)
				}
			}
			// Nor may blocks and transactions the store returns.
			blk, _ := s.Block(ctx, last.Header.Height)
			blk.Seal[0] ^= 1
			blk.Txs[0].Payload[0] ^= 1
			raw, _ := s.RawBlock(ctx, last.Header.Height)
			raw[0] ^= 1
			tx, _, _, _ := s.Tx(ctx, th)
			tx.Signature[0] ^= 1
			checkStore(t, s, f, steps)
		})
	}
}

func TestStoreGenesisMismatch(t *testing.T) {
	f := newFixture(t, 1)
	steps := buildChain(t, f, 1)
	other := *f.g
	other.GenesisTime = other.GenesisTime.Add(time.Second)
	otherChain := *f.g
	otherChain.ChainID = "another-chain"
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			d, reopen := be.open(t)
			s, err := Open(ctx, d, f.g)
			if err != nil {
				t.Fatal(err)
			}
			commitAll(t, s, f.p, steps)
			d = reopen()
			for _, g := range []*types.Genesis{&other, &otherChain} {
				if _, err := Open(ctx, d, g); !errors.Is(err, ErrGenesisMismatch) {
					t.Fatalf("Open with another genesis: %v", err)
				}
			}
			s, err = Open(ctx, d, f.g)
			if err != nil || s.State() != steps[0].next {
				t.Fatalf("Open with the right genesis: %v", err)
			}
		})
	}
	bad := *f.g
	bad.Authorities = nil
	if _, err := Open(context.Background(), NewMemory(), &bad); !errors.Is(err, types.ErrBadGenesis) {
		t.Fatalf("Open with an invalid genesis: %v", err)
	}
}

func TestStoreCommitRefuses(t *testing.T) {
	f := newFixture(t, 2)
	steps := buildChain(t, f, 2)
	b1, b2 := steps[0], steps[1]

	reparented := *b1.b
	reparented.Header.Parent[0] ^= 1
	f.seal(&reparented)
	unsealed := *b1.b
	unsealed.Seal = nil
	wrongNext := b1.next
	wrongNext.TotalTxs++
	wrongRoot := b1.next
	wrongRoot.StateRoot[0] ^= 1
	wrongChanges := *b1.ch
	wrongChanges.Records = slices.Clone(wrongChanges.Records)
	wrongChanges.Records[0].Height = 7

	tests := []struct {
		name string
		s    step
		want error
	}{
		{"height 2 at genesis", b2, ErrWrongHeight},
		{"wrong parent", step{&reparented, b1.next, b1.ch}, ErrWrongParent},
		{"unsealed", step{&unsealed, b1.next, b1.ch}, types.ErrBadBlock},
		{"next state of another block", step{b1.b, wrongNext, b1.ch}, nil},
		{"next state with another root", step{b1.b, wrongRoot, b1.ch}, nil},
		{"changes of another block", step{b1.b, b1.next, &wrongChanges}, nil},
		{"nil changes", step{b1.b, b1.next, nil}, nil},
	}
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			d, _ := be.open(t)
			s, err := Open(ctx, d, f.g)
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range tests {
				err := s.Commit(ctx, tc.s.b, tc.s.next, tc.s.ch)
				if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
					t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
				}
				if errors.Is(tc.want, ErrNotNext) && !errors.Is(err, ErrNotNext) {
					t.Errorf("%s: %v does not wrap ErrNotNext", tc.name, err)
				}
				if s.State() != GenesisState(f.g) {
					t.Fatalf("%s: state changed", tc.name)
				}
				if _, err := s.RawBlock(ctx, 1); !errors.Is(err, ErrNotFound) {
					t.Fatalf("%s: block 1 written: %v", tc.name, err)
				}
			}
			if err := s.Commit(ctx, b1.b, b1.next, b1.ch); err != nil {
				t.Fatal(err)
			}
			if err := s.Commit(ctx, b1.b, b1.next, b1.ch); !errors.Is(err, ErrNotNext) {
				t.Fatalf("committing block 1 twice: %v", err)
			}
			if err := s.Commit(ctx, b2.b, b2.next, b2.ch); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestStoreConcurrentReads reads while blocks are committed; run it with
// -race. Every state a reader sees is fully readable.
func TestStoreConcurrentReads(t *testing.T) {
	f := newFixture(t, 2)
	steps := buildChain(t, f, 8)
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			d, _ := be.open(t)
			s, err := Open(ctx, d, f.g)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() {
					for {
						select {
						case <-done:
							return
						default:
						}
						st := s.State()
						if st.Height == 0 {
							continue
						}
						b, err := s.Block(ctx, st.Height)
						if err != nil || b.Hash() != st.LastBlockHash {
							t.Errorf("head block %d: %v", st.Height, err)
							return
						}
						k := f.keys[1].Public()
						n, err := s.Nonce(k)
						if err != nil || n < 2*(st.Height*(st.Height+1)/2) {
							t.Errorf("nonce %d at height %d: %v", n, st.Height, err)
							return
						}
						if _, err := s.Records(ctx, k, "temp", 0, 10); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			for _, x := range steps {
				next, ch, err := Apply(s.State(), View(s, testAuthorities), f.p, x.b)
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Commit(ctx, x.b, next, ch); err != nil {
					t.Fatal(err)
				}
			}
			close(done)
			wg.Wait()
		})
	}
}

func TestStoreStreamRecords(t *testing.T) {
	f := newFixture(t, 3)
	steps := buildChain(t, f, 5)
	var chainOrder []RecordEntry // every record, in chain order
	for _, x := range steps {
		chainOrder = append(chainOrder, x.ch.Records...)
	}
	expect := func(stream string, from *RecordPos, desc bool, limit int) []RecordEntry {
		src := slices.Clone(chainOrder)
		if desc {
			slices.Reverse(src)
		}
		var out []RecordEntry
		for _, r := range src {
			p := RecordPos{r.Height, r.Index}
			after := from == nil || (!desc && from.Less(p)) || (desc && p.Less(*from))
			if r.Stream == stream && after && len(out) < limit {
				out = append(out, r)
			}
		}
		return out
	}
	mid := RecordPos{3, 4}
	cases := []struct {
		name   string
		stream string
		from   *RecordPos
		desc   bool
		limit  int
	}{
		{"temp ascending", "temp", nil, false, 1000},
		{"temp newest first", "temp", nil, true, 1000},
		{"limit", "hum", nil, false, 5},
		{"limit newest first", "hum", nil, true, 5},
		{"after a position", "temp", &mid, false, 1000},
		{"before a position, newest first", "temp", &mid, true, 1000},
		{"a, not ab", "a", nil, false, 1000},
		{"ab", "ab", nil, true, 1000},
		{"zero limit means max", "ab", nil, false, 0},
		{"unknown stream", "pressure", nil, false, 1000},
		{"after the last", "temp", &RecordPos{99, 0}, false, 1000},
	}
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			d, reopen := be.open(t)
			s, err := Open(ctx, d, f.g)
			if err != nil {
				t.Fatal(err)
			}
			commitAll(t, s, f.p, steps)
			for _, tc := range cases {
				limit := tc.limit
				if limit <= 0 {
					limit = MaxRecordsLimit
				}
				want := expect(tc.stream, tc.from, tc.desc, limit)
				got, err := s.StreamRecords(ctx, tc.stream, tc.from, tc.desc, tc.limit)
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, want)
				}
			}
			if n := len(expect("temp", nil, false, 1000)); n == 0 {
				t.Fatal("no temp records in the workload")
			}
			// Paging newest first through every stream.
			for _, stream := range streams {
				var all []RecordEntry
				var from *RecordPos
				for {
					page, err := s.StreamRecords(ctx, stream, from, true, 3)
					if err != nil {
						t.Fatal(err)
					}
					all = append(all, page...)
					if len(page) < 3 {
						break
					}
					last := page[len(page)-1]
					from = &RecordPos{last.Height, last.Index}
				}
				if want := expect(stream, nil, true, 1000); !reflect.DeepEqual(all, want) {
					t.Errorf("paging stream %q: %d records, want %d", stream, len(all), len(want))
				}
			}
			if _, err := s.StreamRecords(ctx, "", nil, false, 10); err == nil {
				t.Error("empty stream name accepted")
			}
			if !be.persistent {
				return
			}
			// A store written before the index existed: drop /q and the
			// marker; Open backfills them.
			d = reopen()
			res, err := d.Query(ctx, query.Query{Prefix: "/q", KeysOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			keys, err := res.Rest()
			if err != nil || len(keys) != len(chainOrder) {
				t.Fatalf("%d index keys for %d records: %v", len(keys), len(chainOrder), err)
			}
			for _, k := range keys {
				if err := d.Delete(ctx, datastore.RawKey(k.Key)); err != nil {
					t.Fatal(err)
				}
			}
			if err := d.Delete(ctx, keyStreamIndex); err != nil {
				t.Fatal(err)
			}
			s, err = Open(ctx, d, f.g)
			if err != nil {
				t.Fatal(err)
			}
			for _, stream := range streams {
				got, err := s.StreamRecords(ctx, stream, nil, false, 0)
				if err != nil || !reflect.DeepEqual(got, expect(stream, nil, false, 1000)) {
					t.Errorf("backfilled stream %q: %d records, %v", stream, len(got), err)
				}
			}
		})
	}
}

func TestParseRecordPos(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want RecordPos
		ok   bool
	}{
		{"12:3", RecordPos{12, 3}, true},
		{"0:0", RecordPos{}, true},
		{"18446744073709551615:4294967295", RecordPos{1<<64 - 1, 1<<32 - 1}, true},
		{"12", RecordPos{}, false},
		{"12:", RecordPos{}, false},
		{":3", RecordPos{}, false},
		{"12:4294967296", RecordPos{}, false},
		{"-1:2", RecordPos{}, false},
		{"a:b", RecordPos{}, false},
	} {
		got, err := ParseRecordPos(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseRecordPos(%q) = %v, %v", tc.in, got, err)
		}
		if tc.ok && got.String() != tc.in {
			t.Errorf("%v.String() = %q", got, got.String())
		}
	}
}
