package contracts

import (
	"crypto/sha256"
	"errors"
	"fmt"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// MaxCodeSize bounds a contract's source, checked before it is parsed.
const MaxCodeSize = 32 << 10

// MaxArgsSize bounds the canonical CBOR arguments of one call.
const MaxArgsSize = 16 << 10

// Caller is what a contract may see of whoever sent the transaction.
type Caller struct {
	DID  string // the sender's DID (or account address on a chain without DIDs)
	Role string // the sender's registry role, "" if none
	Key  []byte // the sender's raw public key
	// Paid lists the assets the transaction attached to the call. The ledger
	// credits them to the contract's account before the call runs, and takes
	// them back with every other change if the call fails.
	Paid []Coin
}

// Coin is an amount of one denomination.
type Coin struct {
	Denom  string
	Amount uint64
}

// BlockInfo is the block the call executes in. Time is the block's
// timestamp in Unix milliseconds, never a local clock.
type BlockInfo struct {
	Height uint64
	TimeMs int64
}

// DIDInfo is what a contract may learn about a registered DID.
type DIDInfo struct {
	Controller string
	Domain     string
	Role       string
	Admitted   bool
}

// Event is one emitted event: a topic and canonical CBOR data.
type Event struct {
	Topic string
	Data  []byte
}

// Host is everything a contract may see of the chain. The ledger implements
// it over its state; the engine charges gas for each call before making it.
// Every method must be a deterministic function of the chain state and the
// transaction.
//
// A Host method fails a call in one of two ways. An error that wraps
// ErrHostRule (insufficient balance, unknown denomination, bad recipient …)
// is a rule of the chain that the contract broke: the call ends with a
// metered failure in Result.Err. Any other error (a storage failure) is not
// the contract's doing: Init and Call return it as their error and the
// caller must not commit the block.
type Host interface {
	Address() string // the contract's own address
	Caller() Caller
	Block() BlockInfo
	// StorageGet reads the contract's own storage.
	StorageGet(key []byte) (value []byte, found bool, err error)
	// StorageSet writes the contract's own storage; a nil value deletes.
	StorageSet(key, value []byte) error
	// Transfer moves amount of denom from the contract's account to to (a DID
	// or an address).
	Transfer(denom, to string, amount uint64) error
	Balance(denom, owner string) (uint64, error)
	LookupDID(did string) (DIDInfo, bool, error)
	// RecordExists reports whether the ledger holds a data record of stream
	// sent by sender in the block at height.
	RecordExists(stream, sender string, height uint64) (bool, error)
	Emit(topic string, data []byte) error
}

// Result is the outcome of Init or Call. When Err is not nil the call failed
// in a metered, deterministic way and the caller must discard every state
// change the Host received during the call (the gas is still consumed).
type Result struct {
	GasUsed uint64
	Return  []byte // canonical CBOR of the return value; nil on failure
	Events  []Event
	Err     error
}

// Deploy-time errors (Check).
var (
	ErrCodeTooLarge = errors.New("contracts: code too large")
	ErrSyntax       = errors.New("contracts: syntax error")
	ErrForbidden    = errors.New("contracts: forbidden construct")
	ErrExports      = errors.New("contracts: bad EXPORTS")
)

// Metered failures (Result.Err). Each wraps exactly one of these.
var (
	ErrOutOfGas   = errors.New("out of gas")
	ErrFail       = errors.New("contract failed")          // fail(msg)
	ErrBadArgs    = errors.New("bad arguments")            // undecodable or wrong arguments
	ErrNoMethod   = errors.New("no such method")           // not in EXPORTS
	ErrRuntime    = errors.New("runtime error")            // a Starlark error: type, index, key …
	ErrLimit      = errors.New("limit exceeded")           // a value too large or nested too deeply
	ErrBadReturn  = errors.New("bad return value")         // not representable in CBOR
	ErrHostRule   = errors.New("host rule")                // wrapped by Host errors the contract caused
	ErrStorageArg = errors.New("bad storage key or value") // key or value out of bounds
)

// ErrInternal is returned (as the error, not in Result) when the engine
// itself broke: a panic in the interpreter. The node should log it and not
// commit; the fuzz target asserts it never happens.
var ErrInternal = errors.New("contracts: internal error")

// Program is a checked, compiled contract. It is immutable and may be used
// by many calls at once.
type Program struct {
	prog    *starlark.Program
	exports map[string]bool
	names   []string
	hasInit bool
	hash    [32]byte
	size    int
}

// Exports lists the methods callers may invoke, in declaration order.
func (p *Program) Exports() []string { return append([]string(nil), p.names...) }

// CodeHash is the SHA-256 of the source the program was checked from.
func (p *Program) CodeHash() [32]byte { return p.hash }

// HasInit reports whether the contract defines init.
func (p *Program) HasInit() bool { return p.hasInit }

// fileOptions are the dialect: no while, no recursion, no top-level control
// flow, no set, no global reassignment.
var fileOptions = syntax.FileOptions{}

// Check parses and checks a contract at deploy time and compiles it.
func Check(code []byte) (p *Program, err error) {
	defer func() {
		if v := recover(); v != nil {
			p, err = nil, fmt.Errorf("%w: panic in Check: %v", ErrInternal, v)
		}
	}()
	if len(code) > MaxCodeSize {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrCodeTooLarge, len(code), MaxCodeSize)
	}
	opts := fileOptions
	f, err := opts.Parse("contract.star", code, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	exports, hasInit, err := checkExports(f)
	if err != nil {
		return nil, err
	}
	rw := &rewriter{}
	rw.file(f)
	if rw.err != nil {
		return nil, rw.err
	}
	prog, err := starlark.FileProgram(f, isPredeclared)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	p = &Program{prog: prog, exports: make(map[string]bool), names: exports, hasInit: hasInit,
		hash: sha256.Sum256(code), size: len(code)}
	for _, n := range exports {
		p.exports[n] = true
	}
	return p, nil
}

// Init runs the contract's top level and then init(*args) if it defines
// one. args is a canonical CBOR array of positional arguments (empty input:
// no arguments).
func Init(p *Program, h Host, args []byte, gasLimit uint64) (Result, error) {
	return execute(p, h, "init", args, gasLimit, true)
}

// Call runs the contract's top level and then the exported method with the
// canonical CBOR array args as its positional arguments.
func Call(p *Program, h Host, method string, args []byte, gasLimit uint64) (Result, error) {
	return execute(p, h, method, args, gasLimit, false)
}
