package consensus

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// eip225Vectors is the project's copy of the 24 signer-voting scenarios of
// EIP-225 (the EIP's "Test Cases" section and go-ethereum's
// consensus/clique/snapshot_test.go); testdata/README.md names its source.
var eip225Vectors = filepath.Join("testdata", "eip225_vectors.json")

type eip225Case struct {
	ID      int    `json:"id"`
	Name    string `json:"name"`
	Epoch   uint64 `json:"epoch"`
	Signers []string
	Votes   []struct {
		Signer     string   `json:"signer"`
		Voted      string   `json:"voted"`
		Auth       bool     `json:"auth"`
		Checkpoint []string `json:"checkpoint"`
		NewBatch   bool     `json:"newbatch"`
	} `json:"votes"`
	Results []string `json:"results"`
	Failure *string  `json:"failure"`
}

// letterKey maps a scenario's account letter to a deterministic key.
func letterKey(t *testing.T, letter string) identity.PublicKey {
	t.Helper()
	seed := sha256.Sum256([]byte(letter))
	k, err := identity.FromSeed(seed[:])
	if err != nil {
		t.Fatal(err)
	}
	return k.Public()
}

func letterKeys(t *testing.T, letters []string) []identity.PublicKey {
	out := make([]identity.PublicKey, 0, len(letters))
	for _, l := range letters {
		out = append(out, letterKey(t, l))
	}
	slices.SortFunc(out, comparePK)
	return out
}

// eip225Failures maps the vectors' error names to this package's errors.
var eip225Failures = map[string]error{
	"errUnauthorizedSigner": ErrUnauthorizedSigner,
	"errRecentlySigned":     ErrRecentlySigned,
	"errInvalidVotingChain": ErrInvalidVotingChain,
	"errInvalidCheckpoint":  ErrInvalidCheckpoint,
}

func TestEIP225Vectors(t *testing.T) {
	data, err := os.ReadFile(eip225Vectors)
	if err != nil {
		t.Fatalf("conformance vectors: %v", err)
	}
	var file struct {
		Cases []eip225Case `json:"cases"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Cases) != 24 {
		t.Fatalf("%d cases, want 24", len(file.Cases))
	}
	for _, c := range file.Cases {
		t.Run(c.Name, func(t *testing.T) {
			genesis := types.Hash(sha256.Sum256([]byte(c.Name)))
			snap := NewSnapshot(c.Epoch, 0, genesis, letterKeys(t, c.Signers))

			// Blocks, split into batches where newbatch is set.
			var batches [][]*types.Header
			parent := genesis
			for i, v := range c.Votes {
				h := &types.Header{Version: types.BlockVersion, ChainID: "eip225", Height: uint64(i + 1), Parent: parent,
					Time: int64(i+1) * 1000, Proposer: letterKey(t, v.Signer), Difficulty: types.DiffNoTurn}
				if v.Voted != "" {
					h.VoteTarget, h.VoteAdd = letterKey(t, v.Voted).Bytes(), v.Auth
				}
				if v.Checkpoint != nil {
					h.Checkpoint = letterKeys(t, v.Checkpoint)
				}
				if i == 0 || v.NewBatch {
					batches = append(batches, nil)
				}
				batches[len(batches)-1] = append(batches[len(batches)-1], h)
				parent = h.Hash()
			}

			for i, batch := range batches {
				next, err := snap.Apply(batch)
				if i < len(batches)-1 {
					if err != nil {
						t.Fatalf("batch %d: %v", i, err)
					}
					snap = next
					continue
				}
				if c.Failure != nil {
					want, ok := eip225Failures[*c.Failure]
					if !ok {
						t.Fatalf("unknown failure %q", *c.Failure)
					}
					if !errors.Is(err, want) {
						t.Fatalf("last batch: got %v, want %v", err, want)
					}
					return
				}
				if err != nil {
					t.Fatalf("last batch: %v", err)
				}
				snap = next
			}
			if want := letterKeys(t, c.Results); !slices.Equal(snap.Signers, want) {
				t.Fatalf("signers %d keys, want %v (%d keys)", len(snap.Signers), c.Results, len(want))
			}
			if snap.Height != uint64(len(c.Votes)) || snap.Hash != parent {
				t.Fatalf("snapshot at %d %s, want %d %s", snap.Height, snap.Hash, len(c.Votes), parent)
			}
		})
	}
}
