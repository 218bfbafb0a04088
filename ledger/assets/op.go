package assets

import (
	"fmt"
	"math/bits"
	"slices"

	"github.com/sixdomain/sixdomain/ledger/types"
)

// OpKind names an asset operation.
type OpKind uint8

// Asset operations. The fields each one uses are documented on Op.
const (
	OpIssue          OpKind = 1
	OpMint           OpKind = 2
	OpBurn           OpKind = 3
	OpSend           OpKind = 4
	OpMultiSend      OpKind = 5
	OpFreeze         OpKind = 6
	OpUnfreeze       OpKind = 7
	OpClawback       OpKind = 8
	OpRenounce       OpKind = 9
	OpBindDevice     OpKind = 10
	OpTransferDevice OpKind = 11
)

var opNames = map[OpKind]string{
	OpIssue: "issue", OpMint: "mint", OpBurn: "burn", OpSend: "send", OpMultiSend: "multi-send",
	OpFreeze: "freeze", OpUnfreeze: "unfreeze", OpClawback: "clawback", OpRenounce: "renounce",
	OpBindDevice: "bind-device", OpTransferDevice: "transfer-device",
}

func (k OpKind) String() string {
	if s, ok := opNames[k]; ok {
		return s
	}
	return fmt.Sprintf("asset-op(%d)", uint8(k))
}

// Powers is a set of denomination powers, one bit each.
type Powers uint8

// The powers. Every denomination has PowerMint when issued; PowerFreeze
// and PowerClawback only if its Issue asks for them.
const (
	PowerMint     Powers = 1
	PowerFreeze   Powers = 2
	PowerClawback Powers = 4
)

func (p Powers) String() string {
	switch p {
	case PowerMint:
		return "mint"
	case PowerFreeze:
		return "freeze"
	case PowerClawback:
		return "clawback"
	}
	return fmt.Sprintf("powers(%#x)", uint8(p))
}

// Input is what a multi-send takes from its sender: [denom, amount].
type Input struct {
	_      struct{} `cbor:",toarray"`
	Denom  string
	Amount uint64
}

// Output is what a multi-send pays to one account: [to, denom, amount].
type Output struct {
	_      struct{} `cbor:",toarray"`
	To     Account
	Denom  string
	Amount uint64
}

// Op is an asset operation: the payload of an asset transaction, or what
// a contract asks the host to do. It encodes as the CBOR array
//
//	[kind, denom, amount, account, to, decimals, max_supply, powers, inputs, outputs]
//
// Account and To are byte strings of 0 or 32 bytes. Fields an operation
// does not use must be empty (zero); amounts must be at least 1. What
// each operation uses:
//   - OpIssue: Denom (a new name), Decimals, MaxSupply, Powers (a subset
//     of PowerFreeze|PowerClawback), Account (the mint authority; empty:
//     the issuer).
//   - OpMint: Denom, Amount, To.
//   - OpBurn: Denom, Amount.
//   - OpSend: Denom, Amount, To.
//   - OpMultiSend: Inputs (1..MaxInputs, sorted by denom, distinct) and
//     Outputs (1..MaxOutputs); for every denom the outputs sum to its
//     input.
//   - OpFreeze, OpUnfreeze: Denom, Account (the account).
//   - OpClawback: Denom, Amount, Account (whose balance is taken).
//   - OpRenounce: Denom, Powers (exactly one power).
//   - OpBindDevice: Account (the device DID's ID).
//   - OpTransferDevice: Account (the device DID's ID), To (the new owner).
type Op struct {
	_         struct{} `cbor:",toarray"`
	Kind      OpKind
	Denom     string
	Amount    uint64
	Account   []byte
	To        []byte
	Decimals  uint8
	MaxSupply uint64
	Powers    Powers
	Inputs    []Input
	Outputs   []Output
}

// Encode returns the operation's canonical encoding.
func (op *Op) Encode() []byte { return marshal(op) }

// AccountValue returns Account as an Account (zero if empty).
func (op *Op) AccountValue() Account { return toAccount(op.Account) }

// ToValue returns To as an Account (zero if empty).
func (op *Op) ToValue() Account { return toAccount(op.To) }

func toAccount(b []byte) Account {
	var a Account
	copy(a[:], b)
	return a
}

// DecodeOp decodes and validates an operation payload: size first, then
// the CBOR structure and its canonical form, then Validate.
func DecodeOp(data []byte) (*Op, error) {
	if len(data) > MaxOpBytes {
		return nil, fmt.Errorf("%w: %w: operation of %d bytes, limit %d", ErrBadOp, types.ErrOversize, len(data), MaxOpBytes)
	}
	var op Op
	if err := unmarshalCanonical(data, &op); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadOp, err)
	}
	if err := op.Validate(); err != nil {
		return nil, err
	}
	return &op, nil
}

// Validate checks the operation's shape: a known kind, the fields it uses
// within limits, the others empty, and a multi-send's balance of inputs
// and outputs. It needs no state.
func (op *Op) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrBadOp, op.Kind, fmt.Sprintf(format, args...))
	}
	if _, ok := opNames[op.Kind]; !ok {
		return fmt.Errorf("%w: unknown operation %d", ErrBadOp, op.Kind)
	}
	account := func(what string, b []byte) error {
		if len(b) != 32 {
			return bad("%s of %d bytes, want 32", what, len(b))
		}
		if toAccount(b).IsZero() {
			return bad("%s is the zero account", what)
		}
		return nil
	}
	var uses []string
	switch op.Kind {
	case OpIssue:
		uses = []string{"denom", "decimals", "maxsupply", "powers", "account"}
		if op.Decimals > MaxDecimals {
			return bad("%d decimals, at most %d", op.Decimals, MaxDecimals)
		}
		if op.MaxSupply == 0 {
			return bad("maximum supply must be at least 1")
		}
		if op.Powers&^(PowerFreeze|PowerClawback) != 0 {
			return bad("powers %#x: only freeze (2) and clawback (4) may be asked for", uint8(op.Powers))
		}
		if len(op.Account) != 0 {
			if err := account("mint authority", op.Account); err != nil {
				return err
			}
		}
	case OpMint, OpSend:
		uses = []string{"denom", "amount", "to"}
		if err := account("recipient", op.To); err != nil {
			return err
		}
	case OpBurn:
		uses = []string{"denom", "amount"}
	case OpFreeze, OpUnfreeze:
		uses = []string{"denom", "account"}
		if err := account("account", op.Account); err != nil {
			return err
		}
	case OpClawback:
		uses = []string{"denom", "amount", "account"}
		if err := account("account", op.Account); err != nil {
			return err
		}
	case OpRenounce:
		uses = []string{"denom", "powers"}
		if op.Powers != PowerMint && op.Powers != PowerFreeze && op.Powers != PowerClawback {
			return bad("powers %#x: name exactly one of mint (1), freeze (2), clawback (4)", uint8(op.Powers))
		}
	case OpBindDevice:
		uses = []string{"account"}
		if err := account("device", op.Account); err != nil {
			return err
		}
	case OpTransferDevice:
		uses = []string{"account", "to"}
		if err := account("device", op.Account); err != nil {
			return err
		}
		if err := account("new owner", op.To); err != nil {
			return err
		}
	case OpMultiSend:
		uses = []string{"inputs", "outputs"}
		if err := op.validateMultiSend(); err != nil {
			return err
		}
	}
	has := func(f string) bool { return slices.Contains(uses, f) }
	if has("denom") {
		if err := ValidDenomName(op.Denom); err != nil {
			return bad("%v", err)
		}
	}
	if has("amount") && op.Amount == 0 {
		return bad("amount must be at least 1")
	}
	fields := []struct {
		name  string
		empty bool
	}{
		{"denom", op.Denom == ""}, {"amount", op.Amount == 0}, {"account", len(op.Account) == 0},
		{"to", len(op.To) == 0}, {"decimals", op.Decimals == 0}, {"maxsupply", op.MaxSupply == 0},
		{"powers", op.Powers == 0}, {"inputs", len(op.Inputs) == 0}, {"outputs", len(op.Outputs) == 0},
	}
	for _, f := range fields {
		if !has(f.name) && !f.empty {
			return bad("field %s is not used by this operation and must be empty", f.name)
		}
	}
	return nil
}

func (op *Op) validateMultiSend() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: multi-send: %s", ErrBadOp, fmt.Sprintf(format, args...))
	}
	if len(op.Inputs) == 0 || len(op.Inputs) > MaxInputs {
		return bad("1 to %d inputs, got %d", MaxInputs, len(op.Inputs))
	}
	if len(op.Outputs) == 0 || len(op.Outputs) > MaxOutputs {
		return bad("1 to %d outputs, got %d", MaxOutputs, len(op.Outputs))
	}
	for i, in := range op.Inputs {
		if err := ValidDenomName(in.Denom); err != nil {
			return bad("input %d: %v", i, err)
		}
		if in.Amount == 0 {
			return bad("input %d: amount must be at least 1", i)
		}
		if i > 0 && op.Inputs[i-1].Denom >= in.Denom {
			return bad("inputs must be sorted by denomination and distinct")
		}
	}
	sums := make([]uint64, len(op.Inputs))
	for i, out := range op.Outputs {
		if out.To.IsZero() {
			return bad("output %d: zero account", i)
		}
		if out.Amount == 0 {
			return bad("output %d: amount must be at least 1", i)
		}
		j, found := slices.BinarySearchFunc(op.Inputs, out.Denom, func(in Input, d string) int {
			switch {
			case in.Denom < d:
				return -1
			case in.Denom > d:
				return 1
			}
			return 0
		})
		if !found {
			return fmt.Errorf("%w: output %d in %q, which no input has", ErrInputsOutputs, i, out.Denom)
		}
		var carry uint64
		sums[j], carry = bits.Add64(sums[j], out.Amount, 0)
		if carry != 0 {
			return fmt.Errorf("%w: outputs in %q", ErrOverflow, out.Denom)
		}
	}
	for i, in := range op.Inputs {
		if sums[i] != in.Amount {
			return fmt.Errorf("%w: %q: input %d, outputs %d", ErrInputsOutputs, in.Denom, in.Amount, sums[i])
		}
	}
	return nil
}
