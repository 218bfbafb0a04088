package ledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/smt"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// The keys of the state tree (see the package doc). Each is an ASCII
// prefix followed by raw bytes; the tree hashes keys, so their length does
// not matter to its shape.
const (
	stateNoncePrefix  = "nonce/"  // + sender's 32 key bytes -> last nonce, 8 bytes big-endian
	stateDIDPrefix    = "did/"    // + DID ID's 32 bytes -> the DID's latest record (types.DIDRecord.Encode)
	stateDIDKeyPrefix = "didkey/" // + 32 key bytes -> the ID of the DID the key belongs or belonged to
	stateAuthorities  = "authorities"
)

// NonceStateKey is the state-tree key of sender's last nonce.
func NonceStateKey(sender identity.PublicKey) []byte {
	return append([]byte(stateNoncePrefix), sender[:]...)
}

// DIDStateKey is the state-tree key of the latest record of the DID whose
// ID is id.
func DIDStateKey(id identity.PublicKey) []byte { return append([]byte(stateDIDPrefix), id[:]...) }

// DIDKeyStateKey is the state-tree key that links key k to its DID.
func DIDKeyStateKey(k identity.PublicKey) []byte { return append([]byte(stateDIDKeyPrefix), k[:]...) }

// AuthoritiesStateKey is the state-tree key of the authority set in force
// after the block: the voters of finality links whose source is the block.
func AuthoritiesStateKey() []byte { return []byte(stateAuthorities) }

// EncodeNonce is the state-tree value of a nonce.
func EncodeNonce(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// EncodeAuthorities is the state-tree value of an authority set: the CBOR
// array of the 32-byte keys, sorted by key bytes, without duplicates.
func EncodeAuthorities(keys []identity.PublicKey) []byte {
	s := sortedAuthorities(keys)
	out := make([][]byte, len(s))
	for i, k := range s {
		out[i] = k[:]
	}
	return mustMarshal(out)
}

// DecodeAuthorities decodes the value of the authorities key, checking that
// it is canonical (sorted, distinct, at most maxCheckpointAuthorities).
func DecodeAuthorities(b []byte) ([]identity.PublicKey, error) {
	if len(b) > 3+maxCheckpointAuthorities*(2+pkSize) {
		return nil, fmt.Errorf("%w: authority set of %d bytes", types.ErrOversize, len(b))
	}
	var raw [][]byte
	if err := decMode.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%w: authority set: %v", types.ErrUndecodable, err)
	}
	if len(raw) == 0 || len(raw) > maxCheckpointAuthorities {
		return nil, fmt.Errorf("%w: authority set of %d keys", types.ErrUndecodable, len(raw))
	}
	out := make([]identity.PublicKey, len(raw))
	for i, r := range raw {
		if len(r) != pkSize {
			return nil, fmt.Errorf("%w: authority key of %d bytes", types.ErrUndecodable, len(r))
		}
		copy(out[i][:], r)
		if i > 0 && bytes.Compare(out[i-1][:], out[i][:]) >= 0 {
			return nil, fmt.Errorf("%w: authority set not sorted or with duplicates", types.ErrUndecodable)
		}
	}
	if !bytes.Equal(EncodeAuthorities(out), b) {
		return nil, fmt.Errorf("%w: authority set not canonically encoded", types.ErrUndecodable)
	}
	return out, nil
}

func sortedAuthorities(keys []identity.PublicKey) []identity.PublicKey {
	s := slices.Clone(keys)
	slices.SortFunc(s, func(a, b identity.PublicKey) int { return bytes.Compare(a[:], b[:]) })
	return slices.CompactFunc(s, func(a, b identity.PublicKey) bool { return a == b })
}

// DescribeStateKey names a state-tree key for people: "nonce/<did>",
// "did/<did>", "didkey/<did>", "authorities", or "0x<hex>" for any other.
func DescribeStateKey(key []byte) string {
	for _, p := range []string{stateNoncePrefix, stateDIDPrefix, stateDIDKeyPrefix} {
		if rest, ok := bytes.CutPrefix(key, []byte(p)); ok && len(rest) == pkSize {
			var k identity.PublicKey
			copy(k[:], rest)
			return p + k.DID()
		}
	}
	if string(key) == stateAuthorities {
		return stateAuthorities
	}
	return "0x" + hex.EncodeToString(key)
}

// ParseStateKey is DescribeStateKey's inverse. The key part after
// "nonce/", "did/" or "didkey/" may be a did:key, or 64 hex digits;
// "0x<hex>" is a raw key.
func ParseStateKey(s string, parseKey func(string) (identity.PublicKey, error)) ([]byte, error) {
	if s == stateAuthorities {
		return AuthoritiesStateKey(), nil
	}
	if h, ok := strings.CutPrefix(s, "0x"); ok {
		b, err := hex.DecodeString(h)
		if err != nil {
			return nil, fmt.Errorf("state key %q: %w", s, err)
		}
		if len(b) == 0 || len(b) > smt.MaxKeyLen {
			return nil, fmt.Errorf("state key %q: %d bytes, want 1 to %d", s, len(b), smt.MaxKeyLen)
		}
		return b, nil
	}
	for _, p := range []string{stateNoncePrefix, stateDIDPrefix, stateDIDKeyPrefix} {
		if rest, ok := strings.CutPrefix(s, p); ok {
			k, err := parseKey(rest)
			if err != nil {
				return nil, fmt.Errorf("state key %q: %w", s, err)
			}
			return append([]byte(p), k[:]...), nil
		}
	}
	return nil, fmt.Errorf("state key %q: want nonce/<did>, did/<did>, didkey/<did>, authorities or 0x<hex>", s)
}

// TreeChanges are a block's writes to the state tree: its new nodes, and
// the nodes of the previous tree it no longer references (kept: pruning is
// not done; they serve proofs at earlier heights).
type TreeChanges struct {
	Nodes map[smt.Hash][]byte
	Stale []smt.Hash
}

// stateOps returns the state-tree updates of a block's changes: nonces, DID
// records and key links, and the authority set after the block if it
// differs from the one in the tree.
func (a *applier) stateOps(root types.Hash, h *types.Header) ([]smt.Op, []identity.PublicKey, error) {
	ops := make([]smt.Op, 0, len(a.ch.Nonces)+2*len(a.ch.DIDs)+1)
	for s, n := range a.ch.Nonces {
		ops = append(ops, smt.Op{Key: NonceStateKey(s), Value: EncodeNonce(n)})
	}
	latest := map[identity.PublicKey]*types.DIDRecord{}
	var order []identity.PublicKey
	for _, d := range a.ch.DIDs {
		if _, ok := latest[d.Record.ID]; !ok {
			order = append(order, d.Record.ID)
		}
		latest[d.Record.ID] = d.Record
		for _, k := range d.NewKeys {
			ops = append(ops, smt.Op{Key: DIDKeyStateKey(k), Value: bytes.Clone(d.Record.ID[:])})
		}
	}
	for _, id := range order {
		ops = append(ops, smt.Op{Key: DIDStateKey(id), Value: latest[id].Encode()})
	}
	auths, err := a.r.AuthoritiesAfter(h)
	if err != nil {
		return nil, nil, fmt.Errorf("ledger: the authority set after block %d: %w", h.Height, err)
	}
	if len(auths) == 0 {
		return nil, nil, fmt.Errorf("ledger: empty authority set after block %d", h.Height)
	}
	enc := EncodeAuthorities(auths)
	cur, found, err := smt.Get(a.r, smt.Hash(root), AuthoritiesStateKey())
	if err != nil {
		return nil, nil, fmt.Errorf("ledger: reading the authority set: %w", err)
	}
	var changed []identity.PublicKey
	if !found || cur != smt.Hash(sha256.Sum256(enc)) {
		ops = append(ops, smt.Op{Key: AuthoritiesStateKey(), Value: enc})
		changed = sortedAuthorities(auths)
	}
	return ops, changed, nil
}

// applyState updates the state tree with the block's changes, records
// them in a.ch and returns the new root. Errors come from the Reader.
func (a *applier) applyState(root types.Hash, h *types.Header) (types.Hash, error) {
	ops, auths, err := a.stateOps(root, h)
	if err != nil {
		return types.Hash{}, err
	}
	next, nodes, stale, err := smt.Update(a.r, smt.Hash(root), ops)
	if err != nil {
		return types.Hash{}, fmt.Errorf("ledger: updating the state tree: %w", err)
	}
	a.ch.Tree = TreeChanges{Nodes: nodes, Stale: stale}
	a.ch.Authorities = auths
	return types.Hash(next), nil
}

// ---- store side ----

// The store's keys for the state tree (see the package doc).
const (
	stateNodeRoot  = "/st/"   // + node hash hex -> node encoding
	authorityRoot  = "/auth/" // + height (16 hex) -> the authority set, EncodeAuthorities, at each change
	keyStateTreeV1 = "/meta/state-tree"
)

func stateNodeKey(h smt.Hash) datastore.Key {
	return datastore.RawKey(string(hex.AppendEncode([]byte(stateNodeRoot), h[:])))
}

func authorityKey(height uint64) datastore.Key {
	return datastore.RawKey(string(appendNonce([]byte(authorityRoot), height)))
}

// ErrPreStateTree: the datastore holds a chain written before the state
// tree, whose state roots were a hash chain of changes; this version cannot
// continue it.
var ErrPreStateTree = errors.New("ledger: the datastore holds a chain from before the state tree (state roots of format 1); start it with an empty data directory")

// Node implements smt.NodeReader over the committed tree nodes, with the
// store's context.
func (s *Store) Node(h smt.Hash) ([]byte, error) {
	v, err := s.d.Get(s.ctx, stateNodeKey(h))
	if errors.Is(err, datastore.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", smt.ErrMissingNode, h)
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: reading state node %s: %w", h, err)
	}
	return bytes.Clone(v), nil
}

// AuthoritiesAt returns the authority set in force after the block at
// height (the state tree's authorities value at that height) and the
// height of the block that set it. Height 0 is refused: the genesis set is
// in the genesis.
func (s *Store) AuthoritiesAt(ctx context.Context, height uint64) ([]identity.PublicKey, uint64, error) {
	if height == 0 || height > s.State().Height {
		return nil, 0, fmt.Errorf("%w: authority set at height %d (head %d)", ErrNotFound, height, s.State().Height)
	}
	// The latest change at or below height: /auth/<16 hex> keys sort by
	// height; find it by walking down the change list.
	changes, err := s.AuthorityChanges(ctx, 0)
	if err != nil {
		return nil, 0, err
	}
	for i := len(changes) - 1; i >= 0; i-- {
		if changes[i].Height <= height {
			return changes[i].Authorities, changes[i].Height, nil
		}
	}
	return nil, 0, fmt.Errorf("%w: no authority set recorded at or below height %d", ErrNotFound, height)
}

// AuthorityChange is a block after which the authority set differs from
// the one before it (block 1 always is one: the tree starts empty).
type AuthorityChange struct {
	Height      uint64
	Authorities []identity.PublicKey
}

// AuthorityChanges lists the authority-set changes above height after, in
// chain order.
func (s *Store) AuthorityChanges(ctx context.Context, after uint64) ([]AuthorityChange, error) {
	keys, vals, err := s.listPrefix(ctx, authorityRoot)
	if err != nil {
		return nil, err
	}
	var out []AuthorityChange
	for i, k := range keys {
		h, err := parseHex16(strings.TrimPrefix(k, authorityRoot))
		if err != nil {
			return nil, fmt.Errorf("ledger: authority change key %q: %w", k, err)
		}
		if h <= after {
			continue
		}
		auths, err := DecodeAuthorities(vals[i])
		if err != nil {
			return nil, fmt.Errorf("ledger: authority change at %d: %w", h, err)
		}
		out = append(out, AuthorityChange{Height: h, Authorities: auths})
	}
	return out, nil
}

// StateValue returns the committed value of a state-tree key as of the
// head (nil and no error if absent).
func (s *Store) StateValue(ctx context.Context, key []byte) ([]byte, error) {
	switch {
	case bytes.HasPrefix(key, []byte(stateNoncePrefix)) && len(key) == len(stateNoncePrefix)+pkSize:
		var k identity.PublicKey
		copy(k[:], key[len(stateNoncePrefix):])
		n, err := s.Nonce(k)
		if err != nil || n == 0 {
			return nil, err
		}
		return EncodeNonce(n), nil
	case bytes.HasPrefix(key, []byte(stateDIDPrefix)) && len(key) == len(stateDIDPrefix)+pkSize:
		var id identity.PublicKey
		copy(id[:], key[len(stateDIDPrefix):])
		v, err := s.d.Get(ctx, didHeadKey(id))
		if errors.Is(err, datastore.ErrNotFound) {
			return nil, nil
		}
		return bytes.Clone(v), err
	case bytes.HasPrefix(key, []byte(stateDIDKeyPrefix)) && len(key) == len(stateDIDKeyPrefix)+pkSize:
		var k identity.PublicKey
		copy(k[:], key[len(stateDIDKeyPrefix):])
		v, err := s.d.Get(ctx, didAliasKey(k))
		if errors.Is(err, datastore.ErrNotFound) {
			return nil, nil
		}
		return bytes.Clone(v), err
	case string(key) == stateAuthorities:
		h := s.State().Height
		if h == 0 {
			return nil, nil
		}
		auths, _, err := s.AuthoritiesAt(ctx, h)
		if err != nil {
			return nil, err
		}
		return EncodeAuthorities(auths), nil
	}
	return nil, nil
}

// StateProof proves the value of key in the state after the block at
// height (the head if height is 0): the value (nil if the key is absent),
// the tree proof and the block's header. Values are known for the head
// only, except the authority set's, which is known at every height; a
// proof of another key at an earlier height is refused.
func (s *Store) StateProof(ctx context.Context, key []byte, height uint64) (*types.StateProof, error) {
	if len(key) == 0 || len(key) > smt.MaxKeyLen {
		return nil, fmt.Errorf("ledger: state key of %d bytes, want 1 to %d", len(key), smt.MaxKeyLen)
	}
	head := s.State()
	if height == 0 {
		height = head.Height
	}
	if height == 0 {
		return nil, fmt.Errorf("%w: the chain has no block yet", ErrNotFound)
	}
	hdr, err := s.Header(ctx, height)
	if err != nil {
		return nil, err
	}
	var value []byte
	switch {
	case string(key) == stateAuthorities:
		auths, _, err := s.AuthoritiesAt(ctx, height)
		if err != nil {
			return nil, err
		}
		value = EncodeAuthorities(auths)
	case height == head.Height:
		if value, err = s.StateValue(ctx, key); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: values of %s are kept for the head (%d) only, not height %d", ErrNotFound, DescribeStateKey(key), head.Height, height)
	}
	p, err := smt.Prove(s, smt.Hash(hdr.StateRoot), key)
	if err != nil {
		return nil, fmt.Errorf("ledger: proving %s at %d: %w", DescribeStateKey(key), height, err)
	}
	// The value and the tree must agree: a value the tree does not hold is
	// a store fault, not a proof to hand out.
	if err := p.Verify(smt.Hash(hdr.StateRoot), key, value); err != nil {
		return nil, fmt.Errorf("ledger: state of %s at %d disagrees with the tree: %w", DescribeStateKey(key), height, err)
	}
	sp := &types.StateProof{ChainID: hdr.ChainID, Height: height, Key: key, Name: DescribeStateKey(key), Proof: p.Encode(), Header: hdr.Encode()}
	if value != nil {
		sp.Value = value
		sp.Present = true
	}
	return sp, nil
}

func parseHex16(s string) (uint64, error) {
	if len(s) != 16 {
		return 0, fmt.Errorf("want 16 hex digits, got %q", s)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint64(b), nil
}

// pkSize is the length of an Ed25519 public key.
const pkSize = len(identity.PublicKey{})

// listPrefix returns the keys and values under prefix, in key order.
func (s *Store) listPrefix(ctx context.Context, prefix string) ([]string, [][]byte, error) {
	res, err := s.d.Query(ctx, query.Query{Prefix: prefix, Orders: []query.Order{query.OrderByKey{}}})
	if err != nil {
		return nil, nil, fmt.Errorf("ledger: listing %s: %w", prefix, err)
	}
	defer res.Close()
	var keys []string
	var vals [][]byte
	for r := range res.Next() {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		if r.Error != nil {
			return nil, nil, fmt.Errorf("ledger: listing %s: %w", prefix, r.Error)
		}
		keys = append(keys, r.Key)
		vals = append(vals, bytes.Clone(r.Value))
	}
	return keys, vals, nil
}
