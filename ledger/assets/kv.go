package assets

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Account is who holds balances and device assets: 32 bytes, opaque to
// this package. The ledger passes a DID's ID (its registration key) for a
// sender that has a DID, so that a key rotation keeps the balances, and a
// bare key otherwise; contract accounts are 32-byte addresses too. The
// zero account is never a holder.
type Account [32]byte

// String returns the account in lower-case hex.
func (a Account) String() string { return hex.EncodeToString(a[:]) }

// IsZero reports whether a is the zero account.
func (a Account) IsZero() bool { return a == Account{} }

// KV is the state this package reads and writes: the ledger's state tree
// behind a per-transaction overlay. Get returns nil and no error for an
// absent key; Set with a nil value deletes. The package never keeps or
// modifies a slice Get returned, nor a slice it passed to Set.
//
// Every operation (Apply, ChargeFee, Reward, ControllersChanged) reads
// first and writes last: it buffers its writes and hands them to Set, in
// key order, only once it has succeeded. A refused operation calls no Set
// at all, so it leaves the KV exactly as it was.
type KV interface {
	Get(key []byte) ([]byte, error)
	Set(key, value []byte)
}

// Iterable is a KV that can list its keys. Iterate calls fn for every key
// with the prefix, in ascending byte order, and stops at fn's first error.
// CheckInvariants needs it; the operations do not.
type Iterable interface {
	KV
	Iterate(prefix []byte, fn func(key, value []byte) error) error
}

// MapKV is an in-memory Iterable for tests, tools and benchmarks. The zero
// value is not usable; call NewMapKV.
type MapKV struct {
	m map[string][]byte
}

// NewMapKV returns an empty MapKV.
func NewMapKV() *MapKV { return &MapKV{m: map[string][]byte{}} }

// Get returns the value of key, or nil.
func (m *MapKV) Get(key []byte) ([]byte, error) { return m.m[string(key)], nil }

// Set stores a copy of value under key; nil deletes.
func (m *MapKV) Set(key, value []byte) {
	if value == nil {
		delete(m.m, string(key))
		return
	}
	m.m[string(key)] = bytes.Clone(value)
}

// Iterate lists the keys with prefix in ascending order.
func (m *MapKV) Iterate(prefix []byte, fn func(key, value []byte) error) error {
	var keys []string
	for k := range m.m {
		if len(k) >= len(prefix) && k[:len(prefix)] == string(prefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := fn([]byte(k), m.m[k]); err != nil {
			return err
		}
	}
	return nil
}

// Len returns the number of keys.
func (m *MapKV) Len() int { return len(m.m) }

// Clone returns an independent copy.
func (m *MapKV) Clone() *MapKV {
	c := NewMapKV()
	for k, v := range m.m {
		c.m[k] = bytes.Clone(v)
	}
	return c
}

// Equal reports whether m and o hold exactly the same keys and values.
func (m *MapKV) Equal(o *MapKV) bool {
	return maps.EqualFunc(m.m, o.m, bytes.Equal)
}

// batch buffers one operation's writes over a KV: reads see the buffered
// writes, commit hands them to the KV in key order. An operation touches
// a handful of keys (a multi-send at most MaxInputs+MaxOutputs balances
// and the denominations), so a slice searched linearly beats a map.
type batch struct {
	kv KV
	w  []write
}

type write struct {
	key   string
	value []byte
}

func newBatch(kv KV) *batch { return &batch{kv: kv, w: make([]write, 0, 4)} }

func (b *batch) get(key []byte) ([]byte, error) {
	for i := range b.w {
		if b.w[i].key == string(key) {
			return b.w[i].value, nil
		}
	}
	v, err := b.kv.Get(key)
	if err != nil {
		return nil, fmt.Errorf("assets: reading %q: %w", key, err)
	}
	return v, nil
}

func (b *batch) set(key, value []byte) {
	for i := range b.w {
		if b.w[i].key == string(key) {
			b.w[i].value = value
			return
		}
	}
	b.w = append(b.w, write{string(key), value})
}

func (b *batch) commit() {
	slices.SortFunc(b.w, func(x, y write) int { return strings.Compare(x.key, y.key) })
	for _, w := range b.w {
		b.kv.Set([]byte(w.key), w.value)
	}
}
