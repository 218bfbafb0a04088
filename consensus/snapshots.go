package consensus

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/ipfs/go-datastore"

	"github.com/sixdomain/sixdomain/ledger/types"
)

// HeaderReader looks headers up by hash.
type HeaderReader interface {
	Header(hash types.Hash) (*types.Header, bool)
}

const (
	// snapshotCacheSize is how many snapshots Snapshots keeps in memory.
	snapshotCacheSize = 256
	// CheckpointInterval is how often (in blocks) Snapshots stores a
	// snapshot in its datastore.
	CheckpointInterval = 1024
	// MaxSnapshotWalk bounds how many headers At walks back looking for a
	// known snapshot.
	MaxSnapshotWalk = 100_000
)

// ErrUnknownAncestor: At could not reach a known snapshot through the
// header reader.
var ErrUnknownAncestor = errors.New("unknown ancestor")

// Snapshots finds the snapshot after any block: from a cache of recent
// ones, a datastore checkpoint, or the genesis, folding the headers in
// between. It is safe for concurrent use (given a datastore that is).
type Snapshots struct {
	poa *PoA
	ds  datastore.Datastore
	// ctx is the context of the checkpoint reads and writes of At, which
	// runs inside its owner's synchronous steps and has none of its own.
	ctx context.Context

	mu    sync.Mutex
	lru   *list.List                   // of *Snapshot, most recent first
	byKey map[types.Hash]*list.Element // block hash -> element of lru
}

// NewSnapshots returns an empty cache over p's genesis, with checkpoints in
// ds (the consensus namespace of the node's datastore), read and written
// with ctx, which the owner keeps alive as long as it uses the cache. ds
// may be nil: then nothing is stored and every restart folds from the
// genesis.
func NewSnapshots(ctx context.Context, p *PoA, ds datastore.Datastore) *Snapshots {
	return &Snapshots{poa: p, ds: ds, ctx: ctx, lru: list.New(), byKey: map[types.Hash]*list.Element{}}
}

func (s *Snapshots) get(hash types.Hash) *Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.byKey[hash]
	if !ok {
		return nil
	}
	s.lru.MoveToFront(e)
	return e.Value.(*Snapshot)
}

func (s *Snapshots) add(snap *Snapshot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.byKey[snap.Hash]; ok {
		s.lru.MoveToFront(e)
		return
	}
	s.byKey[snap.Hash] = s.lru.PushFront(snap)
	if s.lru.Len() > snapshotCacheSize {
		old := s.lru.Remove(s.lru.Back()).(*Snapshot)
		delete(s.byKey, old.Hash)
	}
}

func snapshotKey(hash types.Hash) datastore.Key {
	// In the consensus namespace (/consensus/snapshot/... of the node's
	// datastore, as in the flat layout before the namespaces).
	return datastore.NewKey("/snapshot/" + hash.String())
}

// load returns the checkpoint stored for (height, hash), or nil.
func (s *Snapshots) load(height uint64, hash types.Hash) (*Snapshot, error) {
	b, err := s.ds.Get(s.ctx, snapshotKey(hash))
	if errors.Is(err, datastore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot checkpoint %d: %w", height, err)
	}
	snap, err := DecodeSnapshot(b)
	if err != nil {
		return nil, fmt.Errorf("snapshot checkpoint %d (%s): %w", height, hash, err)
	}
	if snap.Height != height || snap.Hash != hash || snap.Epoch != s.poa.epoch {
		return nil, fmt.Errorf("snapshot checkpoint %d (%s): %w: holds block %d (%s), epoch %d",
			height, hash, types.ErrUndecodable, snap.Height, snap.Hash, snap.Epoch)
	}
	return snap, nil
}

// At returns the snapshot after the block (height, hash). It walks back
// from that block through r by parent hash until it finds a cached
// snapshot, a datastore checkpoint (kept every CheckpointInterval blocks)
// or the genesis, then applies the headers it passed, storing checkpoints
// on the way. It fails if the walk passes MaxSnapshotWalk headers, if r
// lacks one (ErrUnknownAncestor) or if the headers break the voting rules.
// The snapshot is shared: do not modify it.
func (s *Snapshots) At(height uint64, hash types.Hash, r HeaderReader) (*Snapshot, error) {
	var (
		headers []*types.Header // newest first
		snap    *Snapshot
	)
	for snap == nil {
		if snap = s.get(hash); snap != nil {
			break
		}
		if height == 0 {
			if hash != s.poa.genesisHash {
				return nil, fmt.Errorf("%w: block 0 is %s, not the genesis %s", ErrUnknownAncestor, hash, s.poa.genesisHash)
			}
			snap = s.poa.GenesisSnapshot()
			s.add(snap)
			break
		}
		if s.ds != nil && height%CheckpointInterval == 0 {
			var err error
			if snap, err = s.load(height, hash); err != nil {
				return nil, err
			}
			if snap != nil {
				s.add(snap)
				break
			}
		}
		if len(headers) >= MaxSnapshotWalk {
			return nil, fmt.Errorf("%w: no snapshot within %d blocks of block %d", ErrUnknownAncestor, MaxSnapshotWalk, height+uint64(len(headers)))
		}
		h, ok := r.Header(hash)
		if !ok {
			return nil, fmt.Errorf("%w: header %d (%s)", ErrUnknownAncestor, height, hash)
		}
		if h.Height != height {
			return nil, fmt.Errorf("%w: header %s has height %d, expected %d", ErrInvalidVotingChain, hash, h.Height, height)
		}
		headers = append(headers, h)
		height, hash = height-1, h.Parent
	}
	if len(headers) == 0 {
		return snap, nil
	}
	slices.Reverse(headers)
	// Apply in pieces that end on checkpoint heights, storing each.
	for len(headers) > 0 {
		n := len(headers)
		if s.ds != nil {
			next := (snap.Height/CheckpointInterval + 1) * CheckpointInterval
			n = min(n, int(next-snap.Height))
		}
		var err error
		if snap, err = snap.Apply(headers[:n]); err != nil {
			return nil, err
		}
		headers = headers[n:]
		if s.ds != nil && snap.Height%CheckpointInterval == 0 {
			if err := s.ds.Put(s.ctx, snapshotKey(snap.Hash), snap.Encode()); err != nil {
				return nil, fmt.Errorf("storing snapshot checkpoint %d: %w", snap.Height, err)
			}
		}
	}
	s.add(snap)
	return snap, nil
}
