package ledger

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ipfs/go-datastore"

	"github.com/sixdomain/sixdomain/ledger/types"
)

// Header returns the header of the committed block at height, decoding
// only the header part of the stored block.
func (s *Store) Header(ctx context.Context, height uint64) (*types.Header, error) {
	raw, err := s.rawBlock(ctx, height)
	if err != nil {
		return nil, err
	}
	var parts blockParts
	if err := decMode.Unmarshal(raw, &parts); err != nil {
		return nil, fmt.Errorf("ledger: corrupt block %d: %w", height, err)
	}
	h, err := types.DecodeHeader(parts.Header)
	if err != nil {
		return nil, fmt.Errorf("ledger: corrupt header %d: %w", height, err)
	}
	return h, nil
}

// HeaderByHash returns the header of the committed block with hash h.
func (s *Store) HeaderByHash(ctx context.Context, h types.Hash) (*types.Header, error) {
	height, err := s.heightOf(ctx, h)
	if err != nil {
		return nil, err
	}
	hd, err := s.Header(ctx, height)
	if err != nil {
		return nil, err
	}
	if hd.Hash() != h {
		return nil, fmt.Errorf("ledger: corrupt index: block %d does not hash to %s", hd.Height, h)
	}
	return hd, nil
}

// heightOf looks up the height of the committed block with hash h.
func (s *Store) heightOf(ctx context.Context, h types.Hash) (uint64, error) {
	v, err := s.d.Get(ctx, blockHashKey(h))
	if errors.Is(err, datastore.ErrNotFound) {
		return 0, fmt.Errorf("%w: block %s", ErrNotFound, h)
	}
	if err != nil {
		return 0, fmt.Errorf("ledger: reading block %s: %w", h, err)
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("ledger: corrupt height of block %s", h)
	}
	return binary.BigEndian.Uint64(v), nil
}
