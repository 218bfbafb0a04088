package types

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/sixdomain/sixdomain/identity"
)

// Genesis fixes a chain's identity and the parameters every node must agree
// on. It is read from a TOML file (configs/genesis.toml documents each key).
type Genesis struct {
	ChainID     string    `toml:"chain_id"`
	GenesisTime time.Time `toml:"genesis_time"`
	// SlotMillis is the block interval in milliseconds.
	SlotMillis int64 `toml:"slot_ms"`
	// Authorities are the did:keys of the nodes that seal blocks.
	Authorities []string `toml:"authorities"`
	// TxFutureMillis and TxPastMillis bound a transaction's timestamp
	// against the block's time (and a node's clock at gossip).
	TxFutureMillis int64 `toml:"tx_future_window_ms"`
	TxPastMillis   int64 `toml:"tx_past_window_ms"`
	// MaxBlockTxs caps the transactions a proposer puts in one block.
	MaxBlockTxs int `toml:"max_block_txs"`
	// Epoch is the checkpoint interval of authority voting (EIP-225): a
	// block whose height is a multiple of it lists the authority set and
	// clears pending votes.
	Epoch uint64 `toml:"epoch"`
	// Admission is "open" (the default: any key may send transactions) or
	// "admitted": only authorities and entities whose DID an authority, or
	// a gateway an authority empowered, admitted on the registry.
	Admission string `toml:"admission,omitempty"`
	// MaxForwardAgeMillis, if not 0, is how far a data record's timestamp
	// may lie behind its block's time (and a node's clock at gossip): a
	// device offline for up to this long forwards the readings it signed
	// meanwhile. It must be 0 or at least TxPastMillis; other transaction
	// types keep TxPastMillis, and the future bound is TxFutureMillis for
	// all. 0 (a genesis file without the key) keeps TxPastMillis for data
	// records too, and the genesis hash that file always had.
	MaxForwardAgeMillis int64 `toml:"max_forward_age_ms,omitempty"`
}

// Admission modes.
const (
	AdmissionOpen     = "open"
	AdmissionAdmitted = "admitted"
)

// Admitted reports whether the chain runs in admitted mode.
func (g *Genesis) Admitted() bool { return g.Admission == AdmissionAdmitted }

// Default genesis parameters.
const (
	DefaultSlotMillis     = 1000
	DefaultTxFutureMillis = 30_000
	DefaultTxPastMillis   = 600_000
	DefaultMaxBlockTxs    = 10_000
	DefaultEpoch          = 30_000
	// DefaultMaxForwardAgeMillis (24 h) is the forwarding window of a new
	// genesis: a device offline for a day forwards its readings.
	DefaultMaxForwardAgeMillis = 24 * 3600 * 1000
	// MaxMaxForwardAgeMillis (366 days) bounds max_forward_age_ms.
	MaxMaxForwardAgeMillis = 366 * 24 * 3600 * 1000
	maxGenesisBytes        = 1 << 20
	maxAuthorities         = 1024
)

// NewGenesis returns a genesis with default parameters.
func NewGenesis(chainID string, at time.Time, authorities ...identity.PublicKey) *Genesis {
	g := &Genesis{ChainID: chainID, GenesisTime: at.UTC().Truncate(time.Millisecond), SlotMillis: DefaultSlotMillis,
		TxFutureMillis: DefaultTxFutureMillis, TxPastMillis: DefaultTxPastMillis, MaxBlockTxs: DefaultMaxBlockTxs,
		Epoch: DefaultEpoch, MaxForwardAgeMillis: DefaultMaxForwardAgeMillis}
	for _, a := range authorities {
		g.Authorities = append(g.Authorities, a.DID())
	}
	return g
}

// Validate checks every field.
func (g *Genesis) Validate() error {
	var errs []error
	if err := ValidateChainID(g.ChainID); err != nil {
		errs = append(errs, err)
	}
	if g.GenesisTime.IsZero() {
		errs = append(errs, errors.New("genesis_time is missing"))
	}
	if g.SlotMillis < 50 || g.SlotMillis > 600_000 {
		errs = append(errs, fmt.Errorf("slot_ms %d is outside [50, 600000]", g.SlotMillis))
	}
	if g.TxFutureMillis < 0 || g.TxPastMillis <= 0 {
		errs = append(errs, fmt.Errorf("tx windows must be non-negative (future %d ms) and positive (past %d ms)", g.TxFutureMillis, g.TxPastMillis))
	}
	if g.MaxForwardAgeMillis < 0 || g.MaxForwardAgeMillis > MaxMaxForwardAgeMillis ||
		(g.MaxForwardAgeMillis > 0 && g.MaxForwardAgeMillis < g.TxPastMillis) {
		errs = append(errs, fmt.Errorf("max_forward_age_ms %d: want 0 (off) or from tx_past_window_ms (%d) to %d",
			g.MaxForwardAgeMillis, g.TxPastMillis, int64(MaxMaxForwardAgeMillis)))
	}
	if g.MaxBlockTxs < 1 || g.MaxBlockTxs > MaxBlockTxs {
		errs = append(errs, fmt.Errorf("max_block_txs %d is outside [1, %d]", g.MaxBlockTxs, MaxBlockTxs))
	}
	if g.Epoch < 2 || g.Epoch > 1_000_000 {
		errs = append(errs, fmt.Errorf("epoch %d is outside [2, 1000000]", g.Epoch))
	}
	if g.Admission != "" && g.Admission != AdmissionOpen && g.Admission != AdmissionAdmitted {
		errs = append(errs, fmt.Errorf("admission %q: want %q or %q", g.Admission, AdmissionOpen, AdmissionAdmitted))
	}
	if len(g.Authorities) == 0 || len(g.Authorities) > maxAuthorities {
		errs = append(errs, fmt.Errorf("authorities must list 1 to %d did:keys, got %d", maxAuthorities, len(g.Authorities)))
	}
	seen := map[identity.PublicKey]bool{}
	for i, a := range g.Authorities {
		k, err := identity.ParseDID(a)
		if err != nil {
			errs = append(errs, fmt.Errorf("authorities[%d]: %w", i, err))
			continue
		}
		if seen[k] {
			errs = append(errs, fmt.Errorf("authorities[%d]: %s is listed twice", i, a))
		}
		seen[k] = true
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrBadGenesis, errors.Join(errs...))
	}
	return nil
}

// ValidateChainID checks a chain ID: 1 to 64 bytes of [a-z0-9-._].
func ValidateChainID(id string) error {
	if len(id) == 0 || len(id) > MaxChainIDLen {
		return fmt.Errorf("chain_id must be 1 to %d characters", MaxChainIDLen)
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return fmt.Errorf("chain_id %q: only a-z, 0-9, '-', '.' and '_' are allowed", id)
		}
	}
	return nil
}

// AuthorityKeys returns the authorities' keys sorted by their bytes: the
// order in which they take turns. Call Validate first.
func (g *Genesis) AuthorityKeys() []identity.PublicKey {
	keys := make([]identity.PublicKey, 0, len(g.Authorities))
	for _, a := range g.Authorities {
		if k, err := identity.ParseDID(a); err == nil {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b identity.PublicKey) int { return bytes.Compare(a[:], b[:]) })
	return keys
}

// Slot returns the block interval.
func (g *Genesis) Slot() time.Duration { return time.Duration(g.SlotMillis) * time.Millisecond }

// TimeWindow returns the transaction timestamp window; its RecordPast is
// max_forward_age_ms.
func (g *Genesis) TimeWindow() TimeWindow {
	return TimeWindow{Future: time.Duration(g.TxFutureMillis) * time.Millisecond, Past: time.Duration(g.TxPastMillis) * time.Millisecond,
		RecordPast: time.Duration(g.MaxForwardAgeMillis) * time.Millisecond}
}

// genesisWire is what the genesis hash covers:
// [chain_id, genesis_time_ms, slot_ms, [authority keys, sorted], future_ms, past_ms, max_block_txs, epoch].
type genesisWire struct {
	_              struct{} `cbor:",toarray"`
	ChainID        string
	GenesisTime    int64
	SlotMillis     int64
	Authorities    []identity.PublicKey
	TxFutureMillis int64
	TxPastMillis   int64
	MaxBlockTxs    int
	Epoch          uint64
}

// genesisWireAdmitted is the same array with a ninth element, the admission
// mode, for chains in admitted mode (open chains keep the eight-element
// form and its hash). The embedded array's elements come first.
type genesisWireAdmitted struct {
	_ struct{} `cbor:",toarray"`
	genesisWire
	Admission string
}

// genesisWireForward is the array with a tenth element, max_forward_age_ms,
// for chains that set it (the ninth, the admission mode, is then "open" or
// "admitted"). A genesis without it keeps the eight- or nine-element form
// and its hash.
type genesisWireForward struct {
	_ struct{} `cbor:",toarray"`
	genesisWire
	Admission           string
	MaxForwardAgeMillis int64
}

// Hash returns SHA-256 of the genesis parameters' canonical encoding. It is
// the parent hash of block 1, so nodes with different genesis files never
// accept each other's blocks.
func (g *Genesis) Hash() Hash {
	w := genesisWire{ChainID: g.ChainID, GenesisTime: g.GenesisTime.UnixMilli(),
		SlotMillis: g.SlotMillis, Authorities: g.AuthorityKeys(), TxFutureMillis: g.TxFutureMillis,
		TxPastMillis: g.TxPastMillis, MaxBlockTxs: g.MaxBlockTxs, Epoch: g.Epoch}
	if g.MaxForwardAgeMillis != 0 {
		admission := AdmissionOpen
		if g.Admitted() {
			admission = AdmissionAdmitted
		}
		return sha256.Sum256(marshal(genesisWireForward{genesisWire: w, Admission: admission, MaxForwardAgeMillis: g.MaxForwardAgeMillis}))
	}
	if g.Admitted() {
		return sha256.Sum256(marshal(genesisWireAdmitted{genesisWire: w, Admission: AdmissionAdmitted}))
	}
	return sha256.Sum256(marshal(w))
}

// ParseGenesis decodes and validates a genesis document. Unknown keys are
// an error.
func ParseGenesis(data []byte) (*Genesis, error) {
	if len(data) > maxGenesisBytes {
		return nil, fmt.Errorf("%w: %d bytes exceeds %d", ErrBadGenesis, len(data), maxGenesisBytes)
	}
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var g Genesis
	if err := dec.Decode(&g); err != nil {
		var strict *toml.StrictMissingError
		if errors.As(err, &strict) {
			return nil, fmt.Errorf("%w: %s", ErrBadGenesis, strings.TrimSpace(strict.String()))
		}
		return nil, fmt.Errorf("%w: %v", ErrBadGenesis, err)
	}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	return &g, nil
}

// LoadGenesis reads and validates a genesis file.
func LoadGenesis(path string) (*Genesis, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxGenesisBytes+1))
	if err != nil {
		return nil, fmt.Errorf("genesis %s: %w", path, err)
	}
	g, err := ParseGenesis(data)
	if err != nil {
		return nil, fmt.Errorf("genesis %s: %w", path, err)
	}
	return g, nil
}

// MarshalTOML returns the genesis as a commented TOML document.
func (g *Genesis) MarshalTOML() []byte {
	var b strings.Builder
	b.WriteString("# sixdomain genesis: every node of a chain must use this exact file.\n")
	b.WriteString("# Its hash (the parent of block 1) is " + g.Hash().String() + "\n\n")
	b.WriteString("# Chain identifier; part of every transaction and block, and of the gossip topic names.\n")
	fmt.Fprintf(&b, "chain_id = %q\n", g.ChainID)
	b.WriteString("# Time the chain starts (RFC 3339). Block 1 is not sealed before it.\n")
	fmt.Fprintf(&b, "genesis_time = %s\n", g.GenesisTime.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	b.WriteString("# Block interval in milliseconds.\n")
	fmt.Fprintf(&b, "slot_ms = %d\n", g.SlotMillis)
	b.WriteString("# How far a transaction's timestamp may be ahead of / behind the block time, in milliseconds.\n")
	fmt.Fprintf(&b, "tx_future_window_ms = %d\n", g.TxFutureMillis)
	fmt.Fprintf(&b, "tx_past_window_ms = %d\n", g.TxPastMillis)
	if g.MaxForwardAgeMillis != 0 {
		b.WriteString("# How far a data record's timestamp may be behind the block time, in milliseconds: a device\n")
		b.WriteString("# offline for up to this long forwards the readings it signed (docs/PROTOCOL.md, window rules).\n")
		fmt.Fprintf(&b, "max_forward_age_ms = %d\n", g.MaxForwardAgeMillis)
	}
	b.WriteString("# Most transactions a proposer puts in one block.\n")
	fmt.Fprintf(&b, "max_block_txs = %d\n", g.MaxBlockTxs)
	b.WriteString("# Authority-voting checkpoint interval in blocks (EIP-225 epoch): votes reset, the set is listed.\n")
	fmt.Fprintf(&b, "epoch = %d\n", g.Epoch)
	b.WriteString("# Who may send transactions: \"open\" (any key) or \"admitted\" (authorities, and entities\n")
	b.WriteString("# admitted on the DID registry by an authority or by a gateway an authority empowered).\n")
	admission := g.Admission
	if admission == "" {
		admission = AdmissionOpen
	}
	fmt.Fprintf(&b, "admission = %q\n", admission)
	b.WriteString("# did:keys of the initial authorities; they take turns in the order of their key bytes,\n")
	b.WriteString("# and change only by votes in block headers.\n")
	b.WriteString("authorities = [\n")
	for _, a := range g.Authorities {
		fmt.Fprintf(&b, "  %q,\n", a)
	}
	b.WriteString("]\n")
	return []byte(b.String())
}
