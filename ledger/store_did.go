package ledger

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// The registry's keys (see the package doc):
//
//	/d/k/<key hex>                 -> DID ID (32 bytes): every key a DID has had
//	/d/h/<id hex>                  -> latest record
//	/d/v/<id hex>/<version, 16 hex> -> every version of the record
const (
	didAliasRoot   = "/d/k/"
	didHeadRoot    = "/d/h/"
	didVersionRoot = "/d/v/"
)

func didAliasKey(k identity.PublicKey) datastore.Key {
	return datastore.RawKey(string(hex.AppendEncode([]byte(didAliasRoot), k[:])))
}

func didHeadKey(id identity.PublicKey) datastore.Key {
	return datastore.RawKey(string(hex.AppendEncode([]byte(didHeadRoot), id[:])))
}

func didVersionPrefix(id identity.PublicKey) string {
	return string(hex.AppendEncode([]byte(didVersionRoot), id[:])) + "/"
}

func didVersionKey(id identity.PublicKey, version uint64) datastore.Key {
	return datastore.RawKey(string(appendNonce([]byte(didVersionPrefix(id)), version)))
}

// putDIDs adds a block's registry changes to a commit batch.
func putDIDs(put func(datastore.Key, []byte), dids []DIDChange) {
	for _, d := range dids {
		enc := d.Record.Encode()
		put(didVersionKey(d.Record.ID, d.Record.Version), enc)
		put(didHeadKey(d.Record.ID), enc)
		for _, k := range d.NewKeys {
			put(didAliasKey(k), d.Record.ID[:])
		}
	}
}

// DID returns the latest committed record of the DID that k names or
// named (its registration key, current key or a key rotated out), or nil
// if none. It implements DIDReader, which has no context: it reads with the
// store's (see Store).
func (s *Store) DID(k identity.PublicKey) (*types.DIDRecord, error) {
	return s.did(s.ctx, k)
}

func (s *Store) did(ctx context.Context, k identity.PublicKey) (*types.DIDRecord, error) {
	id, err := s.d.Get(ctx, didAliasKey(k))
	if errors.Is(err, datastore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: reading the DID of %s: %w", k.DID(), err)
	}
	if len(id) != len(identity.PublicKey{}) {
		return nil, fmt.Errorf("ledger: corrupt DID alias of %s: %d bytes", k.DID(), len(id))
	}
	raw, err := s.d.Get(ctx, didHeadKey(identity.PublicKey(id)))
	if err != nil {
		return nil, fmt.Errorf("ledger: reading the DID record of %s: %w", k.DID(), err)
	}
	rec, err := types.DecodeDIDRecord(raw)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	return rec, nil
}

// DIDHistory returns every version of the DID that k names, oldest first,
// or ErrNotFound.
func (s *Store) DIDHistory(ctx context.Context, k identity.PublicKey) ([]*types.DIDRecord, error) {
	latest, err := s.did(ctx, k)
	if err != nil {
		return nil, err
	}
	if latest == nil {
		return nil, fmt.Errorf("%w: no DID has had the key %s", ErrNotFound, k.DID())
	}
	res, err := s.d.Query(ctx, query.Query{Prefix: didVersionPrefix(latest.ID), Orders: []query.Order{query.OrderByKey{}}})
	if err != nil {
		return nil, fmt.Errorf("ledger: listing DID versions: %w", err)
	}
	defer res.Close()
	var out []*types.DIDRecord
	for r := range res.Next() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if r.Error != nil {
			return nil, fmt.Errorf("ledger: listing DID versions: %w", r.Error)
		}
		rec, err := types.DecodeDIDRecord(r.Value)
		if err != nil {
			return nil, fmt.Errorf("ledger: %s: %w", r.Key, err)
		}
		out = append(out, rec)
	}
	return out, nil
}

// DIDAt returns the version of the DID that k names which was current at
// time t: the last one updated by a block at or before t. It returns
// ErrNotFound if the DID did not exist at t (or never did).
func (s *Store) DIDAt(ctx context.Context, k identity.PublicKey, t time.Time) (*types.DIDRecord, error) {
	hist, err := s.DIDHistory(ctx, k)
	if err != nil {
		return nil, err
	}
	i := VersionAt(hist, t)
	if i < 0 {
		return nil, fmt.Errorf("%w: %s was not registered at %s", ErrNotFound, k.DID(), t.UTC().Format(time.RFC3339Nano))
	}
	return hist[i], nil
}

// VersionAt returns the index in hist (a DID's versions, oldest first) of
// the version current at time t: the last one updated by a block at or
// before t; -1 if the DID did not exist yet.
func VersionAt(hist []*types.DIDRecord, t time.Time) int {
	ms := t.UnixMilli()
	at := -1
	for i, r := range hist {
		if r.Updated > ms {
			break
		}
		at = i
	}
	return at
}

// BarredKeys lists every key that may not act on the chain: all keys of
// revoked and deactivated DIDs, and keys rotated out of any DID. Nodes
// refuse connections from them.
func (s *Store) BarredKeys(ctx context.Context) ([]identity.PublicKey, error) {
	res, err := s.d.Query(ctx, query.Query{Prefix: didHeadRoot, Orders: []query.Order{query.OrderByKey{}}})
	if err != nil {
		return nil, fmt.Errorf("ledger: listing DIDs: %w", err)
	}
	defer res.Close()
	var out []identity.PublicKey
	for r := range res.Next() {
		if r.Error != nil {
			return nil, fmt.Errorf("ledger: listing DIDs: %w", r.Error)
		}
		rec, err := types.DecodeDIDRecord(r.Value)
		if err != nil {
			return nil, fmt.Errorf("ledger: %s: %w", r.Key, err)
		}
		out = append(out, BarredKeysOf(rec)...)
	}
	return out, nil
}

// BarredKeysOf returns the keys of rec that may not act: its keys rotated
// out, and its current key too if it is revoked or deactivated.
func BarredKeysOf(rec *types.DIDRecord) []identity.PublicKey {
	out := append([]identity.PublicKey(nil), rec.PrevKeys...)
	if !rec.Active() {
		out = append(out, rec.Key)
	}
	return out
}
