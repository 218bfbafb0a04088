package ledger

import (
	"errors"
	"fmt"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// State is the small value-type summary of the chain after a block (like
// CometBFT's State). Copy it freely.
type State struct {
	ChainID       string
	Height        uint64     // 0 = genesis
	LastBlockHash types.Hash // genesis hash at height 0
	LastBlockTime int64      // ms since the Unix epoch; genesis time at height 0
	StateRoot     types.Hash // zero at genesis
	TotalTxs      uint64
}

// GenesisState returns the state before block 1.
func GenesisState(g *types.Genesis) State {
	return State{ChainID: g.ChainID, LastBlockHash: g.Hash(), LastBlockTime: g.GenesisTime.UnixMilli()}
}

// NonceReader gives a sender's last committed nonce (0 if none).
type NonceReader interface {
	Nonce(sender identity.PublicKey) (uint64, error)
}

// Changes are the writes one block makes to the state.
type Changes struct {
	Nonces   map[identity.PublicKey]uint64 // sender -> new last nonce
	Records  []RecordEntry                 // data records in block order
	Evidence []EvidenceEntry               // evidence transactions in block order; nil if none
	DIDs     []DIDChange                   // registry changes in block order; nil if none
	// Tree holds the state tree's new nodes (and the replaced ones).
	Tree TreeChanges
	// Authorities is the authority set after the block when the block
	// changed it (always at block 1), sorted; nil otherwise.
	Authorities []identity.PublicKey
}

// RecordEntry locates one data record: who sent it, on which stream, with
// which nonce and timestamp, and where it sits in the chain.
type RecordEntry struct {
	Sender    identity.PublicKey
	Stream    string
	Nonce     uint64
	Timestamp int64 // ms, the transaction's timestamp
	TxHash    types.Hash
	Height    uint64 // block height
	Index     uint32 // transaction index in the block
}

// EvidenceEntry locates one evidence transaction: whose conflicting
// finality votes it carries and where it sits in the chain. The same
// offender may have several; the first is the one that matters.
type EvidenceEntry struct {
	Offender identity.PublicKey // the voter of both votes
	TxHash   types.Hash
	Height   uint64 // block height
	Index    uint32 // transaction index in the block
}

// Errors of this package. Block errors also wrap types.ErrBadBlock, and
// per-transaction ones the sentinel of package types that names the reason
// (types.ErrReplayedNonce, types.ErrTimeInPast, ...); match with errors.Is.
var (
	// ErrNotFound: no such block, transaction or record.
	ErrNotFound = errors.New("ledger: not found")
	// ErrGenesisMismatch: the datastore holds the chain of another genesis.
	ErrGenesisMismatch = errors.New("ledger: datastore belongs to a different genesis")
	// ErrNotNext: the block does not extend the current head (wrong height
	// or parent). ErrWrongHeight and ErrWrongParent wrap it.
	ErrNotNext = errors.New("ledger: block does not extend the head")
	// ErrWrongHeight: the block's height is not the head's plus one.
	ErrWrongHeight = fmt.Errorf("%w: wrong height", ErrNotNext)
	// ErrWrongParent: the block's parent is not the head's hash.
	ErrWrongParent = fmt.Errorf("%w: wrong parent", ErrNotNext)
	// ErrBlockTime: the block's time is not after its parent's.
	ErrBlockTime = errors.New("ledger: block time not after the parent's")
	// ErrTooManyTxs: the block holds more transactions than the genesis
	// allows, or its header miscounts them.
	ErrTooManyTxs = errors.New("ledger: too many transactions")
	// ErrDuplicateTx: the same transaction twice in one block.
	ErrDuplicateTx = errors.New("ledger: duplicate transaction")
	// ErrTxRoot: the header's transaction root does not match the
	// transactions.
	ErrTxRoot = errors.New("ledger: transaction root mismatch")
	// ErrStateRoot: the header's state root is not the one the block's
	// changes produce.
	ErrStateRoot = errors.New("ledger: state root mismatch")
)
