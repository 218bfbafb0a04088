// Package contractstest provides an in-memory contracts.Host: a test double
// of the ledger (storage, balances, DIDs, records, events), used by the
// engine's tests, benchmarks and the determinism driver. It is not a ledger:
// it neither signs nor commits anything.
//
// Imports: the standard library and sixdomain/contracts.
package contractstest

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/sixdomain/sixdomain/contracts"
)

// Record names one data record: a stream, a sender and a block height.
type Record struct {
	Stream, Sender string
	Height         uint64
}

// Host is an in-memory contracts.Host. Its fields may be set directly
// between calls; Snapshot and Restore give the all-or-nothing semantics a
// ledger applies to a failed call.
type Host struct {
	Self     string
	Who      contracts.Caller
	At       contracts.BlockInfo
	Storage  map[string][]byte
	Balances map[string]uint64 // key: denom + "/" + owner
	DIDs     map[string]contracts.DIDInfo
	Records  map[Record]bool
	Events   []contracts.Event
}

// New returns an empty host for the contract at address self.
func New(self string) *Host {
	return &Host{
		Self:     self,
		Storage:  map[string][]byte{},
		Balances: map[string]uint64{},
		DIDs:     map[string]contracts.DIDInfo{},
		Records:  map[Record]bool{},
	}
}

func balKey(denom, owner string) string { return denom + "/" + owner }

func (h *Host) Address() string                          { return h.Self }
func (h *Host) Caller() contracts.Caller                 { return h.Who }
func (h *Host) Block() contracts.BlockInfo               { return h.At }
func (h *Host) SetBalance(denom, owner string, v uint64) { h.Balances[balKey(denom, owner)] = v }

func (h *Host) StorageGet(key []byte) ([]byte, bool, error) {
	v, ok := h.Storage[string(key)]
	return v, ok, nil
}

func (h *Host) StorageSet(key, value []byte) error {
	if value == nil {
		delete(h.Storage, string(key))
		return nil
	}
	h.Storage[string(key)] = append([]byte(nil), value...)
	return nil
}

func (h *Host) Transfer(denom, to string, amount uint64) error {
	from := balKey(denom, h.Self)
	if h.Balances[from] < amount {
		return fmt.Errorf("%w: %s holds %d %s, transfer of %d", contracts.ErrHostRule, h.Self, h.Balances[from], denom, amount)
	}
	if to == "" {
		return fmt.Errorf("%w: empty recipient", contracts.ErrHostRule)
	}
	h.Balances[from] -= amount
	h.Balances[balKey(denom, to)] += amount
	return nil
}

func (h *Host) Balance(denom, owner string) (uint64, error) {
	return h.Balances[balKey(denom, owner)], nil
}

func (h *Host) LookupDID(did string) (contracts.DIDInfo, bool, error) {
	info, ok := h.DIDs[did]
	return info, ok, nil
}

func (h *Host) RecordExists(stream, sender string, height uint64) (bool, error) {
	return h.Records[Record{stream, sender, height}], nil
}

func (h *Host) Emit(topic string, data []byte) error {
	h.Events = append(h.Events, contracts.Event{Topic: topic, Data: append([]byte(nil), data...)})
	return nil
}

// State is a copy of a host's mutable state.
type State struct {
	storage  map[string][]byte
	balances map[string]uint64
	events   int
}

// Snapshot copies the mutable state (storage, balances, events).
func (h *Host) Snapshot() State {
	s := State{storage: map[string][]byte{}, balances: map[string]uint64{}, events: len(h.Events)}
	for k, v := range h.Storage {
		s.storage[k] = v
	}
	for k, v := range h.Balances {
		s.balances[k] = v
	}
	return s
}

// Restore puts back a snapshot: what a ledger does with a failed call.
func (h *Host) Restore(s State) {
	h.Storage, h.Balances, h.Events = s.storage, s.balances, h.Events[:s.events]
}

// Digest is a SHA-256 over the sorted storage and balances: equal on two
// machines exactly when their states are.
func (h *Host) Digest() [32]byte {
	d := sha256.New()
	put := func(b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		d.Write(n[:])
		d.Write(b)
	}
	keys := make([]string, 0, len(h.Storage))
	for k := range h.Storage {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		put([]byte(k))
		put(h.Storage[k])
	}
	keys = keys[:0]
	for k := range h.Balances {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		put([]byte(k))
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], h.Balances[k])
		put(n[:])
	}
	var out [32]byte
	copy(out[:], d.Sum(nil))
	return out
}
