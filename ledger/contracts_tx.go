package ledger

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/ipfs/go-datastore"

	"github.com/sixdomain/sixdomain/contracts"
	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/assets"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// Contract state keys (module state, in the state tree):
//
//	contract/code/<code hash, 32>   the code (stored once per hash)
//	contract/meta/<address, 32>     CBOR [code hash, creator key]
//	contract/s/<address, 32><key>   the contract's storage
const (
	contractPrefix     = "contract/"
	contractCodePrefix = "contract/code/"
	contractMetaPrefix = "contract/meta/"
	contractStorPrefix = "contract/s/"
)

// ContractCodeKey, ContractMetaKey and ContractStorageKey are the
// state-tree keys of a contract's code, metadata and storage.
func ContractCodeKey(hash types.Hash) []byte { return append([]byte(contractCodePrefix), hash[:]...) }
func ContractMetaKey(addr types.Hash) []byte { return append([]byte(contractMetaPrefix), addr[:]...) }
func ContractStorageKey(addr types.Hash, key []byte) []byte {
	return append(append([]byte(contractStorPrefix), addr[:]...), key...)
}

// contractMeta is a deployed contract's metadata.
type contractMeta struct {
	_        struct{} `cbor:",toarray"`
	CodeHash types.Hash
	Creator  identity.PublicKey
}

// Gas bounds (until the genesis sets them).
const (
	// DefaultMaxTxGas bounds one transaction's gas limit: about 20 ms of
	// CPU at the engine's calibration (docs/CONTRACTS.md).
	DefaultMaxTxGas = 20_000_000
	// DefaultMaxBlockGas bounds the sum of a block's gas limits.
	DefaultMaxBlockGas = 200_000_000
)

// ErrBlockGas: the block's contract transactions' gas limits add up to more
// than the block may use.
var ErrBlockGas = errors.New("ledger: block gas limit exceeded")

// RecordReader tells whether a data record of stream by sender is in the
// block at height (committed state; the contracts' RecordExists).
type RecordReader interface {
	RecordAt(sender identity.PublicKey, stream string, height uint64) (bool, error)
}

// ProgramCache compiles contract code, keeping compiled programs by code
// hash (compiling is deterministic, so a cache cannot change a result). A
// Reader may implement it; without one, every call compiles.
type ProgramCache interface {
	Program(hash types.Hash, code []byte) (*contracts.Program, error)
}

// Programs is a bounded ProgramCache, safe for concurrent use.
type Programs struct {
	mu  sync.Mutex
	max int
	m   map[types.Hash]*contracts.Program
}

// NewPrograms returns a cache of at most max programs (it empties itself
// when full).
func NewPrograms(max int) *Programs {
	return &Programs{max: max, m: map[types.Hash]*contracts.Program{}}
}

// Program implements ProgramCache.
func (p *Programs) Program(hash types.Hash, code []byte) (*contracts.Program, error) {
	p.mu.Lock()
	prog, ok := p.m[hash]
	p.mu.Unlock()
	if ok {
		return prog, nil
	}
	prog, err := contracts.Check(code)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	if len(p.m) >= p.max {
		clear(p.m)
	}
	p.m[hash] = prog
	p.mu.Unlock()
	return prog, nil
}

func (a *applier) program(hash types.Hash, code []byte) (*contracts.Program, error) {
	if c, ok := a.r.(ProgramCache); ok {
		return c.Program(hash, code)
	}
	return contracts.Check(code)
}

// contractOutcome is what a deploy or call did: its module writes (on
// success), and the receipt's fields.
type contractOutcome struct {
	writes  map[string][]byte
	err     error
	gas     uint64
	ret     []byte
	events  []types.ReceiptEvent
	address *types.Hash
}

// gasLimitOf returns the gas limit a contract transaction declares.
func gasLimitOf(tx *types.Tx) uint64 {
	switch tx.Type {
	case types.TxDeploy:
		if d, err := types.DecodeDeploy(tx.Payload); err == nil {
			return d.GasLimit
		}
	case types.TxCall:
		if c, err := types.DecodeCall(tx.Payload); err == nil {
			return c.GasLimit
		}
	}
	return 0
}

// checkGas refuses a gas limit above the transaction or block bound.
func (a *applier) checkGas(limit uint64) error {
	if limit > DefaultMaxTxGas {
		return fmt.Errorf("%w: gas limit %d above %d", types.ErrBadPayload, limit, uint64(DefaultMaxTxGas))
	}
	if a.gas+limit > DefaultMaxBlockGas {
		return fmt.Errorf("%w: %d + %d", ErrBlockGas, a.gas, limit)
	}
	return nil
}

func (a *applier) checkDeploy(tx *types.Tx, hash types.Hash) (*contractOutcome, bool, error) {
	d, err := types.DecodeDeploy(tx.Payload)
	if err != nil {
		return nil, false, err
	}
	if err := a.checkGas(d.GasLimit); err != nil {
		return nil, false, err
	}
	prog, err := a.program(types.Hash(sha256Of(d.Code)), d.Code)
	if err != nil {
		return nil, false, fmt.Errorf("%w: contract code: %w", types.ErrBadPayload, err)
	}
	addr := types.ContractAddress(tx.Sender, tx.Nonce)
	kv := a.newTxKV()
	codeHash := types.Hash(prog.CodeHash())
	if v, err := kv.Get(ContractCodeKey(codeHash)); err != nil {
		return nil, true, err
	} else if v == nil {
		kv.Set(ContractCodeKey(codeHash), d.Code)
	}
	kv.Set(ContractMetaKey(addr), mustMarshal(contractMeta{CodeHash: codeHash, Creator: tx.Sender}))
	out := &contractOutcome{address: &addr}
	if prog.HasInit() {
		h, err := a.newHost(kv, tx, addr, nil)
		if err != nil {
			return nil, true, err
		}
		res, err := contracts.Init(prog, h, d.InitArgs, d.GasLimit)
		if kv.err != nil {
			return nil, true, fmt.Errorf("ledger: reading contract state: %w", kv.err)
		}
		if err != nil {
			return nil, true, fmt.Errorf("ledger: deploy %s: %w", hash, err)
		}
		out.gas, out.ret, out.events = res.GasUsed, res.Return, receiptEvents(res.Events)
		if res.Err != nil {
			out.err = res.Err
			return out, false, nil
		}
	}
	out.writes = kv.w
	return out, false, nil
}

func (a *applier) checkCall(tx *types.Tx, hash types.Hash) (*contractOutcome, bool, error) {
	c, err := types.DecodeCall(tx.Payload)
	if err != nil {
		return nil, false, err
	}
	if err := a.checkGas(c.GasLimit); err != nil {
		return nil, false, err
	}
	kv := a.newTxKV()
	fail := func(err error) (*contractOutcome, bool, error) { return &contractOutcome{err: err}, false, nil }
	rawMeta, err := kv.Get(ContractMetaKey(c.Address))
	if err != nil {
		return nil, true, err
	}
	if rawMeta == nil {
		return fail(fmt.Errorf("%w: no contract at %s", contracts.ErrHostRule, c.Address))
	}
	var meta contractMeta
	if err := decMode.Unmarshal(rawMeta, &meta); err != nil {
		return nil, true, fmt.Errorf("ledger: contract %s metadata: %w", c.Address, err)
	}
	code, err := kv.Get(ContractCodeKey(meta.CodeHash))
	if err != nil || code == nil {
		return nil, true, fmt.Errorf("ledger: contract %s code %s: missing (%v)", c.Address, meta.CodeHash, err)
	}
	prog, err := a.program(meta.CodeHash, code)
	if err != nil {
		return nil, true, fmt.Errorf("ledger: contract %s code does not compile: %w", c.Address, err)
	}
	sender, err := a.accountOf(tx.Sender)
	if err != nil {
		return nil, true, err
	}
	var paid []contracts.Coin
	for _, p := range c.Paid {
		op := &assets.Op{Kind: assets.OpSend, Denom: p.Denom, Amount: p.Amount, To: c.Address[:]}
		if _, err := assets.Apply(kv, registryView{a}, sender, op); err != nil {
			if kv.err != nil {
				return nil, true, kv.err
			}
			if !assets.Refused(err) {
				return nil, true, fmt.Errorf("ledger: asset state: %w", err)
			}
			return fail(fmt.Errorf("%w: paying %d %s: %w", contracts.ErrHostRule, p.Amount, p.Denom, err))
		}
		paid = append(paid, contracts.Coin{Denom: p.Denom, Amount: p.Amount})
	}
	h, err := a.newHost(kv, tx, c.Address, paid)
	if err != nil {
		return nil, true, err
	}
	res, err := contracts.Call(prog, h, c.Method, c.Args, c.GasLimit)
	if kv.err != nil {
		return nil, true, fmt.Errorf("ledger: reading contract state: %w", kv.err)
	}
	if err != nil {
		return nil, true, fmt.Errorf("ledger: call %s: %w", hash, err)
	}
	out := &contractOutcome{gas: res.GasUsed, ret: res.Return, events: receiptEvents(res.Events), err: res.Err}
	if res.Err == nil {
		out.writes = kv.w
	} else {
		out.ret, out.events = nil, nil
	}
	return out, false, nil
}

func receiptEvents(evs []contracts.Event) []types.ReceiptEvent {
	if len(evs) == 0 {
		return nil
	}
	out := make([]types.ReceiptEvent, len(evs))
	for i, e := range evs {
		out[i] = types.ReceiptEvent{Topic: e.Topic, Data: e.Data}
	}
	return out
}

// host is contracts.Host over one transaction's view of the state.
type host struct {
	a      *applier
	kv     *txKV
	addr   types.Hash
	caller contracts.Caller
	events []contracts.Event
}

func (a *applier) newHost(kv *txKV, tx *types.Tx, addr types.Hash, paid []contracts.Coin) (*host, error) {
	c := contracts.Caller{DID: tx.Sender.DID(), Key: tx.Sender.Bytes(), Paid: paid}
	rec, err := a.did(tx.Sender)
	if err != nil {
		return nil, err
	}
	if rec != nil {
		c.DID, c.Role = rec.DID(), rec.Role.String()
	}
	return &host{a: a, kv: kv, addr: addr, caller: c}, nil
}

func (h *host) Address() string          { return "0x" + hex.EncodeToString(h.addr[:]) }
func (h *host) Caller() contracts.Caller { return h.caller }
func (h *host) Block() contracts.BlockInfo {
	return contracts.BlockInfo{Height: h.a.height, TimeMs: h.a.blockTime.UnixMilli()}
}

func (h *host) StorageGet(key []byte) ([]byte, bool, error) {
	v, err := h.kv.Get(ContractStorageKey(h.addr, key))
	return v, v != nil, err
}

func (h *host) StorageSet(key, value []byte) error {
	h.kv.Set(ContractStorageKey(h.addr, key), value)
	return nil
}

// account parses a DID (its DID's ID if registered) or a 0x address.
func (h *host) account(s string) (assets.Account, error) {
	if rest, ok := strings.CutPrefix(s, "0x"); ok {
		b, err := hex.DecodeString(rest)
		if err != nil || len(b) != 32 {
			return assets.Account{}, fmt.Errorf("%w: address %q", contracts.ErrHostRule, s)
		}
		return assets.Account(b), nil
	}
	k, err := identity.ParseDID(s)
	if err != nil {
		return assets.Account{}, fmt.Errorf("%w: %q is neither a DID nor an address", contracts.ErrHostRule, s)
	}
	acct, err := h.a.accountOf(k)
	if err != nil {
		return assets.Account{}, err
	}
	return acct, nil
}

func (h *host) Transfer(denom, to string, amount uint64) error {
	dst, err := h.account(to)
	if err != nil {
		return err
	}
	op := &assets.Op{Kind: assets.OpSend, Denom: denom, Amount: amount, To: dst[:]}
	if err := op.Validate(); err != nil {
		return fmt.Errorf("%w: %w", contracts.ErrHostRule, err)
	}
	if _, err := assets.Apply(h.kv, registryView{h.a}, assets.Account(h.addr), op); err != nil {
		if h.kv.err != nil {
			return h.kv.err
		}
		if !assets.Refused(err) {
			return fmt.Errorf("ledger: asset state: %w", err) // not the contract's doing
		}
		return fmt.Errorf("%w: %w", contracts.ErrHostRule, err)
	}
	return nil
}

func (h *host) Balance(denom, owner string) (uint64, error) {
	acct, err := h.account(owner)
	if err != nil {
		return 0, err
	}
	n, err := assets.Balance(h.kv, denom, acct)
	if err != nil && h.kv.err == nil {
		return 0, fmt.Errorf("%w: %w", contracts.ErrHostRule, err)
	}
	return n, err
}

func (h *host) LookupDID(did string) (contracts.DIDInfo, bool, error) {
	k, err := identity.ParseDID(did)
	if err != nil {
		return contracts.DIDInfo{}, false, fmt.Errorf("%w: %q is not a DID", contracts.ErrHostRule, did)
	}
	rec, err := h.a.did(k)
	if err != nil || rec == nil {
		return contracts.DIDInfo{}, false, err
	}
	info := contracts.DIDInfo{Domain: rec.Domain.String(), Role: rec.Role.String(), Admitted: rec.Admitted}
	if len(rec.Controllers) > 0 {
		info.Controller = rec.Controllers[0].DID()
	}
	return info, true, nil
}

func (h *host) RecordExists(stream, sender string, height uint64) (bool, error) {
	k, err := identity.ParseDID(sender)
	if err != nil {
		return false, fmt.Errorf("%w: %q is not a DID", contracts.ErrHostRule, sender)
	}
	if height == h.a.height {
		for _, r := range h.a.ch.Records {
			if r.Sender == k && r.Stream == stream {
				return true, nil
			}
		}
		return false, nil
	}
	if height > h.a.height {
		return false, nil
	}
	return h.a.r.RecordAt(k, stream, height)
}

func (h *host) Emit(topic string, data []byte) error {
	h.events = append(h.events, contracts.Event{Topic: topic, Data: bytes.Clone(data)})
	return nil
}

// ---- store side ----

// recordHeightKey indexes a sender's records of a stream by height:
// /rh/<sender hex>/<stream hex>/<height, 16 hex>.
func recordHeightKey(sender identity.PublicKey, stream string, height uint64) datastore.Key {
	b := hex.AppendEncode([]byte("/rh/"), sender[:])
	b = hex.AppendEncode(append(b, '/'), []byte(stream))
	return datastore.RawKey(string(appendNonce(append(b, '/'), height)))
}

// RecordAt implements RecordReader over the committed chain.
func (s *Store) RecordAt(sender identity.PublicKey, stream string, height uint64) (bool, error) {
	ok, err := s.d.Has(s.ctx, recordHeightKey(sender, stream, height))
	if err != nil {
		return false, fmt.Errorf("ledger: looking a record up: %w", err)
	}
	return ok, nil
}

// Contract is a deployed contract as the state holds it.
type Contract struct {
	Address  types.Hash
	CodeHash types.Hash
	Creator  identity.PublicKey
	Code     []byte
	Exports  []string
}

// Contract returns the deployed contract at addr (ErrNotFound if none).
func (s *Store) Contract(ctx context.Context, addr types.Hash) (*Contract, error) {
	raw, err := s.StateGet(ContractMetaKey(addr))
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, fmt.Errorf("%w: no contract at %s", ErrNotFound, addr)
	}
	var meta contractMeta
	if err := decMode.Unmarshal(raw, &meta); err != nil {
		return nil, fmt.Errorf("ledger: contract %s metadata: %w", addr, err)
	}
	code, err := s.StateGet(ContractCodeKey(meta.CodeHash))
	if err != nil {
		return nil, err
	}
	c := &Contract{Address: addr, CodeHash: meta.CodeHash, Creator: meta.Creator, Code: code}
	if p, err := contracts.Check(code); err == nil {
		c.Exports = p.Exports()
	}
	return c, nil
}
