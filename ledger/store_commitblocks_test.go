package ledger

import (
	"context"
	"errors"
	"maps"
	"testing"

	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
)

// TestStoreCommitBlocks: blocks committed in one batch leave exactly the
// records that committing them one by one leaves; a batch with a block
// that does not fit writes nothing; and the batch survives a reopen.
func TestStoreCommitBlocks(t *testing.T) {
	f := newFixture(t, 2)
	steps := buildChain(t, f, 6)
	commits := func(ss []step) []BlockCommit {
		var out []BlockCommit
		for _, s := range ss {
			out = append(out, BlockCommit{Block: s.b, Next: s.next, Changes: s.ch})
		}
		return out
	}
	dump := func(t *testing.T, d datastore.Datastore) map[string]string {
		t.Helper()
		res, err := d.Query(context.Background(), query.Query{})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for r := range res.Next() {
			if r.Error != nil {
				t.Fatal(r.Error)
			}
			out[r.Key] = string(r.Value)
		}
		return out
	}
	ctx := context.Background()
	one := NewMemory()
	s1, err := Open(ctx, one, f.g)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range steps {
		if err := s1.Commit(ctx, x.b, x.next, x.ch); err != nil {
			t.Fatal(err)
		}
	}
	want := dump(t, one)
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			d, reopen := be.open(t)
			s, err := Open(ctx, d, f.g)
			if err != nil {
				t.Fatal(err)
			}
			before := dump(t, d)
			bad := commits(steps[:3])
			bad[2].Block = steps[3].b // block 4 where block 3 belongs
			if err := s.CommitBlocks(ctx, bad); !errors.Is(err, ErrWrongHeight) {
				t.Fatalf("a batch with a gap: %v, want ErrWrongHeight", err)
			}
			if s.State() != GenesisState(f.g) || !maps.Equal(dump(t, d), before) {
				t.Fatal("a refused batch wrote something")
			}
			if err := s.CommitBlocks(ctx, commits(steps[:4])); err != nil {
				t.Fatal(err)
			}
			if err := s.CommitBlocks(ctx, commits(steps[4:])); err != nil {
				t.Fatal(err)
			}
			if s.State() != steps[5].next {
				t.Fatalf("state %+v, want %+v", s.State(), steps[5].next)
			}
			if be.persistent {
				d = reopen()
				if s, err = Open(ctx, d, f.g); err != nil {
					t.Fatal(err)
				}
				if s.State() != steps[5].next {
					t.Fatalf("after reopen: state %+v, want %+v", s.State(), steps[5].next)
				}
			}
			if be.name == "memory" && !maps.Equal(dump(t, d), want) {
				t.Fatal("the batches left other records than commits one by one")
			}
		})
	}
}
