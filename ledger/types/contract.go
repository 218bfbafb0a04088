package types

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/sixdomain/sixdomain/identity"
)

// Contract transaction types (package contracts runs them; package ledger
// applies them). Like TxAsset, a deploy or call that fails on state — out
// of gas, fail(), a host rule — is included, consumes its nonce and has a
// failure receipt; it changes nothing else.
const (
	// TxDeploy carries a Deploy: contract code and its init call.
	TxDeploy TxType = 5
	// TxCall carries a Call: a method call on a deployed contract.
	TxCall TxType = 6
)

// Limits of contract transactions.
const (
	// MaxCodeBytes bounds a contract's code (contracts.MaxCodeSize).
	MaxCodeBytes = 32 << 10
	// MaxArgsBytes bounds a call's canonical CBOR arguments.
	MaxArgsBytes = 16 << 10
	// MaxDeployPayloadBytes bounds a deploy transaction's payload.
	MaxDeployPayloadBytes = MaxCodeBytes + MaxArgsBytes/4 + 64
	// MaxMethodLen bounds a method name.
	MaxMethodLen = 64
	// MaxPaid bounds the coins a call attaches.
	MaxPaid = 8
)

// Coin is an amount of one asset denomination: [denom, amount].
type Coin struct {
	_      struct{} `cbor:",toarray"`
	Denom  string   `json:"denom"`
	Amount uint64   `json:"amount"`
}

// Deploy is the payload of a TxDeploy: [code, init_args, gas_limit]. The
// contract's address derives from the sender and the transaction's nonce
// (ContractAddress); its code is stored once per code hash.
type Deploy struct {
	_        struct{} `cbor:",toarray"`
	Code     []byte
	InitArgs []byte // canonical CBOR (an array of arguments), may be empty
	GasLimit uint64
}

// Call is the payload of a TxCall: [address, method, args, gas_limit,
// paid]. Paid coins move from the sender to the contract's account before
// the method runs (and back if the call fails).
type Call struct {
	_        struct{} `cbor:",toarray"`
	Address  Hash
	Method   string
	Args     []byte // canonical CBOR (an array of arguments), may be empty
	GasLimit uint64
	Paid     []Coin
}

// ContractAddress is the address of the contract sender deploys with
// nonce: SHA-256("SIXDOMAIN-CONTRACT-V1" || sender key || nonce as 8 bytes
// big-endian).
func ContractAddress(sender identity.PublicKey, nonce uint64) Hash {
	h := sha256.New()
	h.Write([]byte("SIXDOMAIN-CONTRACT-V1"))
	h.Write(sender[:])
	h.Write(binary.BigEndian.AppendUint64(nil, nonce))
	var out Hash
	h.Sum(out[:0])
	return out
}

// DecodeDeploy strictly decodes a deploy payload.
func DecodeDeploy(b []byte) (*Deploy, error) {
	if len(b) > MaxDeployPayloadBytes {
		return nil, fmt.Errorf("%w: deploy payload of %d bytes", ErrOversize, len(b))
	}
	var d Deploy
	if err := unmarshalCanonical(b, &d); err != nil {
		return nil, fmt.Errorf("%w: deploy: %w", ErrBadPayload, err)
	}
	switch {
	case len(d.Code) == 0 || len(d.Code) > MaxCodeBytes:
		return nil, fmt.Errorf("%w: deploy: code of %d bytes, want 1 to %d", ErrBadPayload, len(d.Code), MaxCodeBytes)
	case len(d.InitArgs) > MaxArgsBytes:
		return nil, fmt.Errorf("%w: deploy: init arguments of %d bytes", ErrBadPayload, len(d.InitArgs))
	case d.GasLimit == 0:
		return nil, fmt.Errorf("%w: deploy: zero gas limit", ErrBadPayload)
	}
	return &d, nil
}

// DecodeCall strictly decodes a call payload.
func DecodeCall(b []byte) (*Call, error) {
	if len(b) > MaxPayloadBytes {
		return nil, fmt.Errorf("%w: call payload of %d bytes", ErrOversize, len(b))
	}
	var c Call
	if err := unmarshalCanonical(b, &c); err != nil {
		return nil, fmt.Errorf("%w: call: %w", ErrBadPayload, err)
	}
	switch {
	case c.Method == "" || len(c.Method) > MaxMethodLen:
		return nil, fmt.Errorf("%w: call: method name of %d bytes", ErrBadPayload, len(c.Method))
	case len(c.Args) > MaxArgsBytes:
		return nil, fmt.Errorf("%w: call: arguments of %d bytes", ErrBadPayload, len(c.Args))
	case c.GasLimit == 0:
		return nil, fmt.Errorf("%w: call: zero gas limit", ErrBadPayload)
	case len(c.Paid) > MaxPaid:
		return nil, fmt.Errorf("%w: call: %d paid coins, at most %d", ErrBadPayload, len(c.Paid), MaxPaid)
	}
	for i, p := range c.Paid {
		if p.Amount == 0 || p.Denom == "" {
			return nil, fmt.Errorf("%w: call: paid coin %d is empty", ErrBadPayload, i)
		}
	}
	return &c, nil
}

// Encode returns the payload's canonical encoding.
func (d *Deploy) Encode() []byte { return marshal(d) }

// Encode returns the payload's canonical encoding.
func (c *Call) Encode() []byte { return marshal(c) }
