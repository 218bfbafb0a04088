package node

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/sixdomain/sixdomain/contracts"
	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger"
	"github.com/sixdomain/sixdomain/ledger/assets"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// Receipts, contracts and native assets (docs/API.md): GET
// /v1/receipts/{hash}, /v1/contracts/{address}[/storage],
// /v1/assets/{denom}[/balances/{account}], and the readable form of asset,
// deploy and call transactions in TxJSON. Everything is read from the
// finalized state.

// ReceiptJSON is a receipt as the API shows it: types.Receipt with the
// status as a word and the return value and event data also decoded from
// their canonical CBOR.
type ReceiptJSON struct {
	TxHash      types.Hash         `json:"tx_hash"`
	Height      uint64             `json:"height"`
	Index       uint32             `json:"index"`
	Status      string             `json:"status"` // "ok" or "failed"
	Reason      string             `json:"reason,omitempty"`
	Error       string             `json:"error,omitempty"`
	GasUsed     uint64             `json:"gas_used"`
	Return      types.HexBytes     `json:"return,omitempty"`       // canonical CBOR
	ReturnValue any                `json:"return_value,omitempty"` // Return decoded (absent for None)
	Events      []ReceiptEventJSON `json:"events,omitempty"`
	Address     *types.Hash        `json:"address,omitempty"` // a deploy's contract
	Fee         uint64             `json:"fee,omitempty"`     // what it paid, on a chain with fees
}

// ReceiptEventJSON is an event a contract emitted.
type ReceiptEventJSON struct {
	Topic string         `json:"topic"`
	Data  types.HexBytes `json:"data"`            // canonical CBOR
	Value any            `json:"value,omitempty"` // Data decoded
}

// Receipt statuses of ReceiptJSON.
const (
	ReceiptStatusOK     = "ok"
	ReceiptStatusFailed = "failed"
)

// ReceiptToJSON converts a receipt to its API form.
func ReceiptToJSON(r *types.Receipt) *ReceiptJSON {
	j := &ReceiptJSON{TxHash: r.TxHash, Height: r.Height, Index: r.Index, Status: ReceiptStatusOK, Fee: r.Fee,
		Reason: r.Reason, Error: r.Error, GasUsed: r.GasUsed, Return: r.Return, Address: r.Address}
	if r.Status != types.ReceiptOK {
		j.Status = ReceiptStatusFailed
	}
	if len(r.Return) > 0 {
		j.ReturnValue = cborJSON(r.Return)
	}
	for _, e := range r.Events {
		j.Events = append(j.Events, ReceiptEventJSON{Topic: e.Topic, Data: e.Data, Value: cborJSON(e.Data)})
	}
	return j
}

// cborJSON decodes a contract value (canonical CBOR) into a value that
// encodes as JSON: byte strings become {"bytes": "<hex>"}. Undecodable
// input gives nil.
func cborJSON(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	v, err := contracts.DecodeValue(b)
	if err != nil {
		return nil
	}
	return jsonValue(v, 0)
}

// maxValueDepth bounds the nesting jsonValue walks (contract values nest
// at most contracts.MaxDepth; CBOR arguments at most 16).
const maxValueDepth = 80

func jsonValue(v any, depth int) any {
	if depth > maxValueDepth {
		return nil
	}
	switch x := v.(type) {
	case []byte:
		return map[string]any{"bytes": hex.EncodeToString(x)}
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonValue(e, depth+1)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonValue(e, depth+1)
		}
		return out
	case float64: // not a contract value, but CBOR has floats: JSON has no NaN or infinities
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
		return x
	case float32:
		return jsonValue(float64(x), depth)
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = jsonValue(e, depth+1)
		}
		return out
	}
	return v
}

// receiptOf returns the receipt of a committed transaction, nil if it has
// none (only asset, deploy and call transactions have one today; one store
// read tells).
func (n *Node) receiptOf(r *http.Request, tx *types.Tx) *ReceiptJSON {
	rc, err := n.store.Receipt(r.Context(), tx.Hash())
	if err != nil {
		return nil
	}
	return ReceiptToJSON(rc)
}

// hasReceipt reports whether transactions of type t get a receipt.
func hasReceipt(t types.TxType) bool {
	return t == types.TxAsset || t == types.TxDeploy || t == types.TxCall
}

func (n *Node) handleReceipt(w http.ResponseWriter, r *http.Request) {
	h, err := types.ParseHash(r.PathValue("hash"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err, "bad_hash")
		return
	}
	rc, err := n.store.Receipt(r.Context(), h)
	if errors.Is(err, ledger.ErrNotFound) {
		status := "not committed, or has no receipt (only asset, deploy and call transactions have one)"
		if n.pool.Has(h) {
			status = "still pending"
		}
		writeError(w, http.StatusNotFound, fmt.Errorf("transaction %s is %s", h, status), "not_found")
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err, "")
		return
	}
	writeJSON(w, http.StatusOK, ReceiptToJSON(rc))
}

// ParseContractAddress accepts a contract address as 64 hex digits, with
// or without 0x.
func ParseContractAddress(s string) (types.Hash, error) {
	h, err := types.ParseHash(strings.TrimPrefix(s, "0x"))
	if err != nil {
		return h, fmt.Errorf("contract address %q: want 0x and 64 hex digits", truncateString(s, 80))
	}
	return h, nil
}

// ContractJSON answers GET /v1/contracts/{address}.
type ContractJSON struct {
	Address  types.Hash `json:"address"`
	CodeHash types.Hash `json:"code_hash"`
	Creator  string     `json:"creator"` // the deployer's DID
	Exports  []string   `json:"exports"`
	CodeSize int        `json:"code_size"`
	Code     string     `json:"code"`
}

func (n *Node) handleContract(w http.ResponseWriter, r *http.Request) {
	addr, err := ParseContractAddress(r.PathValue("address"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err, "bad_address")
		return
	}
	c, err := n.store.Contract(r.Context(), addr)
	if errors.Is(err, ledger.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Errorf("no contract at 0x%s", addr), "not_found")
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err, "")
		return
	}
	j := ContractJSON{Address: c.Address, CodeHash: c.CodeHash, Creator: c.Creator.DID(), Exports: c.Exports,
		CodeSize: len(c.Code), Code: strings.ToValidUTF8(string(c.Code), "\uFFFD")}
	if j.Exports == nil {
		j.Exports = []string{}
	}
	writeJSON(w, http.StatusOK, j)
}

// StorageJSON answers GET /v1/contracts/{address}/storage.
type StorageJSON struct {
	Address  types.Hash     `json:"address"`
	Key      string         `json:"key,omitempty"` // the key as text, when it is UTF-8
	KeyHex   types.HexBytes `json:"key_hex"`
	Present  bool           `json:"present"`
	ValueHex types.HexBytes `json:"value_hex,omitempty"` // canonical CBOR
	Value    any            `json:"value,omitempty"`     // ValueHex decoded
}

// maxStorageKey bounds a contract storage key (contracts: 256 bytes).
const maxStorageKey = 256

func (n *Node) handleContractStorage(w http.ResponseWriter, r *http.Request) {
	addr, err := ParseContractAddress(r.PathValue("address"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err, "bad_address")
		return
	}
	q := r.URL.Query()
	var key []byte
	switch text, kh := q.Get("key"), q.Get("key_hex"); {
	case text != "" && kh != "":
		err = errors.New("give key or key_hex, not both")
	case text != "":
		key = []byte(text)
	case len(kh) > 2+2*maxStorageKey:
		err = fmt.Errorf("key_hex of %d characters: a storage key has at most %d bytes", len(kh), maxStorageKey)
	case kh != "":
		if key, err = hex.DecodeString(strings.TrimPrefix(kh, "0x")); err != nil {
			err = fmt.Errorf("key_hex is not hex: %v", err)
		}
	default:
		err = errors.New("key (text) or key_hex is required")
	}
	if err == nil && (len(key) == 0 || len(key) > maxStorageKey) {
		err = fmt.Errorf("a storage key has 1 to %d bytes, got %d", maxStorageKey, len(key))
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err, "bad_key")
		return
	}
	meta, err := n.store.StateGet(ledger.ContractMetaKey(addr))
	if err != nil {
		writeError(w, http.StatusInternalServerError, err, "")
		return
	}
	if meta == nil {
		writeError(w, http.StatusNotFound, fmt.Errorf("no contract at 0x%s", addr), "not_found")
		return
	}
	v, err := n.store.StateGet(ledger.ContractStorageKey(addr, key))
	if err != nil {
		writeError(w, http.StatusInternalServerError, err, "")
		return
	}
	j := StorageJSON{Address: addr, KeyHex: key, Present: v != nil, ValueHex: v}
	if utf8.Valid(key) {
		j.Key = string(key)
	}
	if v != nil {
		j.Value = cborJSON(v)
	}
	writeJSON(w, http.StatusOK, j)
}

// DenomJSON answers GET /v1/assets/{denom}.
type DenomJSON struct {
	Denom     string `json:"denom"`
	Issuer    string `json:"issuer"` // a DID (or a contract's 0x address)
	Decimals  uint8  `json:"decimals"`
	MaxSupply uint64 `json:"max_supply"`
	Supply    uint64 `json:"supply"`
	// MintAuthority is absent once mint is renounced.
	MintAuthority string   `json:"mint_authority,omitempty"`
	Powers        []string `json:"powers"`    // held: mint, freeze, clawback
	Renounced     []string `json:"renounced"` // renounced for good
}

// BalanceJSON answers GET /v1/assets/{denom}/balances/{account}.
type BalanceJSON struct {
	Denom     string     `json:"denom"`
	Account   string     `json:"account"`    // the account as asked, normalised (a DID or 0x address)
	AccountID types.Hash `json:"account_id"` // the 32 bytes that hold the balance
	Balance   uint64     `json:"balance"`
	Decimals  uint8      `json:"decimals"`
	Frozen    bool       `json:"frozen"`
}

// accountName shows an asset account: a contract's 0x address if a
// contract lives there, else the did:key of the 32 bytes.
func (n *Node) accountName(a assets.Account) string {
	if v, err := n.store.StateGet(ledger.ContractMetaKey(types.Hash(a))); err == nil && v != nil {
		return "0x" + a.String()
	}
	return identity.PublicKey(a).DID()
}

// ResolveAccount maps a DID, peer ID or 0x address to the asset account
// that holds its balances, as the ledger does: a registered DID's ID (its
// registration key, so that a rotation keeps the balances), else the key;
// a 0x address as it is.
func ResolveAccount(s string, did func(identity.PublicKey) (*types.DIDRecord, error)) (assets.Account, string, error) {
	if rest, ok := strings.CutPrefix(s, "0x"); ok {
		if len(rest) != 64 {
			return assets.Account{}, "", fmt.Errorf("account %q: an address is 0x and 64 hex digits", truncateString(s, 80))
		}
		b, err := hex.DecodeString(rest)
		if err != nil {
			return assets.Account{}, "", fmt.Errorf("account %q: an address is 0x and 64 hex digits", truncateString(s, 80))
		}
		return assets.Account(b), "0x" + strings.ToLower(rest), nil
	}
	k, err := ParseSender(s)
	if err != nil {
		return assets.Account{}, "", fmt.Errorf("account %q is neither a did:key, a peer ID nor a 0x address", truncateString(s, 80))
	}
	rec, err := did(k)
	if err != nil {
		return assets.Account{}, "", err
	}
	if rec != nil {
		return assets.Account(rec.ID), k.DID(), nil
	}
	return assets.Account(k), k.DID(), nil
}

func powerNames(d *assets.Denom, state assets.PowerState) []string {
	out := []string{}
	for _, p := range []struct {
		name string
		s    assets.PowerState
	}{{"mint", d.Mint}, {"freeze", d.Freeze}, {"clawback", d.Clawback}} {
		if p.s == state {
			out = append(out, p.name)
		}
	}
	return out
}

// denom reads a denomination, answering the error itself (false) if it
// cannot.
func (n *Node) denom(w http.ResponseWriter, name string) (*assets.Denom, bool) {
	if err := assets.ValidDenomName(name); err != nil {
		writeError(w, http.StatusBadRequest, err, "bad_denom")
		return nil, false
	}
	d, err := assets.GetDenom(storeKV{n.store}, name)
	if errors.Is(err, assets.ErrUnknownDenom) {
		writeError(w, http.StatusNotFound, fmt.Errorf("no denomination %q", name), "not_found")
		return nil, false
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err, "")
		return nil, false
	}
	return d, true
}

func (n *Node) handleDenom(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("denom")
	d, ok := n.denom(w, name)
	if !ok {
		return
	}
	j := DenomJSON{Denom: name, Issuer: n.accountName(d.Issuer), Decimals: d.Decimals, MaxSupply: d.MaxSupply,
		Supply: d.Supply, Powers: powerNames(d, assets.PowerHeld), Renounced: powerNames(d, assets.PowerRenounced)}
	if d.Mint == assets.PowerHeld {
		j.MintAuthority = n.accountName(d.MintAuthority)
	}
	writeJSON(w, http.StatusOK, j)
}

func (n *Node) handleBalance(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("denom")
	acct, shown, err := ResolveAccount(r.PathValue("account"), n.store.DID)
	if err != nil {
		writeError(w, http.StatusBadRequest, err, "bad_account")
		return
	}
	d, ok := n.denom(w, name)
	if !ok {
		return
	}
	kv := storeKV{n.store}
	bal, err := assets.Balance(kv, name, acct)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err, "")
		return
	}
	frozen, err := assets.Frozen(kv, name, acct)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err, "")
		return
	}
	writeJSON(w, http.StatusOK, BalanceJSON{Denom: name, Account: shown, AccountID: types.Hash(acct), Balance: bal,
		Decimals: d.Decimals, Frozen: frozen})
}

// storeKV reads the committed module state (assets.KV; never written).
type storeKV struct{ s *ledger.Store }

func (k storeKV) Get(key []byte) ([]byte, error) { return k.s.StateGet(key) }
func (k storeKV) Set([]byte, []byte)             {} // read-only: the assets readers never write

// ---- transactions ----

// AssetOpJSON is an asset operation as TxJSON shows it. Accounts show as
// the did:key of their 32 bytes (a contract's account as the did:key of
// its address).
type AssetOpJSON struct {
	Op        string       `json:"op"`
	Denom     string       `json:"denom,omitempty"`
	Amount    uint64       `json:"amount,omitempty"`
	Account   string       `json:"account,omitempty"`
	To        string       `json:"to,omitempty"`
	Decimals  uint8        `json:"decimals,omitempty"`
	MaxSupply uint64       `json:"max_supply,omitempty"`
	Powers    []string     `json:"powers,omitempty"`
	Inputs    []types.Coin `json:"inputs,omitempty"`
	Outputs   []OutputJSON `json:"outputs,omitempty"`
}

// OutputJSON is one output of a multi-send.
type OutputJSON struct {
	To     string `json:"to"`
	Denom  string `json:"denom"`
	Amount uint64 `json:"amount"`
}

// DeployJSON is a contract deployment as TxJSON shows it.
type DeployJSON struct {
	Address  types.Hash `json:"address"` // where the contract lives (from sender and nonce)
	CodeHash types.Hash `json:"code_hash"`
	CodeSize int        `json:"code_size"`
	InitArgs any        `json:"init_args,omitempty"` // decoded
	GasLimit uint64     `json:"gas_limit"`
}

// CallJSON is a contract call as TxJSON shows it.
type CallJSON struct {
	Address  types.Hash   `json:"address"`
	Method   string       `json:"method"`
	Args     any          `json:"args,omitempty"` // decoded
	GasLimit uint64       `json:"gas_limit"`
	Paid     []types.Coin `json:"paid,omitempty"`
}

func accountDID(b []byte) string {
	if len(b) != 32 {
		return ""
	}
	return identity.PublicKey(b).DID()
}

func assetOpJSON(op *assets.Op) *AssetOpJSON {
	j := &AssetOpJSON{Op: op.Kind.String(), Denom: op.Denom, Amount: op.Amount, Account: accountDID(op.Account),
		To: accountDID(op.To), Decimals: op.Decimals, MaxSupply: op.MaxSupply}
	for _, p := range []assets.Powers{assets.PowerMint, assets.PowerFreeze, assets.PowerClawback} {
		if op.Powers&p != 0 {
			j.Powers = append(j.Powers, p.String())
		}
	}
	for _, in := range op.Inputs {
		j.Inputs = append(j.Inputs, types.Coin{Denom: in.Denom, Amount: in.Amount})
	}
	for _, o := range op.Outputs {
		j.Outputs = append(j.Outputs, OutputJSON{To: identity.PublicKey(o.To).DID(), Denom: o.Denom, Amount: o.Amount})
	}
	return j
}

// describePayload fills the asset, deploy and call parts of a TxJSON.
func describePayload(j *TxJSON, tx *types.Tx) {
	switch tx.Type {
	case types.TxAsset:
		if op, err := assets.DecodeOp(tx.Payload); err == nil {
			j.Asset = assetOpJSON(op)
		}
	case types.TxDeploy:
		if d, err := types.DecodeDeploy(tx.Payload); err == nil {
			j.Deploy = &DeployJSON{Address: types.ContractAddress(tx.Sender, tx.Nonce), CodeHash: types.Hash(sha256.Sum256(d.Code)),
				CodeSize: len(d.Code), InitArgs: cborJSON(d.InitArgs), GasLimit: d.GasLimit}
		}
	case types.TxCall:
		if c, err := types.DecodeCall(tx.Payload); err == nil {
			j.Call = &CallJSON{Address: c.Address, Method: c.Method, Args: cborJSON(c.Args), GasLimit: c.GasLimit, Paid: c.Paid}
		}
	}
}
