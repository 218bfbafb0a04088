// Package assets owns sixdomain's native assets: fungible denominations
// (issue, mint, burn, send, multi-send, freeze, clawback, renounce),
// device-bound assets (one non-fungible asset per registered device DID,
// owned by the DID's controller), and the fee and reward movements of the
// chain's incentives (ChargeFee, Reward). It is a pure state machine over a
// key-value view of the ledger's state: no clock, no I/O but the KV and the
// Registry it is given, no global mutable state.
//
// The ledger owns everything around it: the transaction type that carries
// an Op, signatures, nonces, receipts, the DID registry (read through
// Registry; a device transfer returns the controller change as an Effect
// for the ledger to write in the same transaction), and putting the keys
// below into the state tree, where the state root commits to them.
//
// # Atomicity
//
// Every entry point (Apply, ChargeFee, Reward, ControllersChanged,
// InitDenom) reads through the KV and buffers its writes; only when it has
// succeeded does it hand them to KV.Set, in ascending key order. A refused
// operation calls no Set: the KV is left byte for byte as it was.
//
// # State layout
//
// Keys are the ASCII prefix, then raw bytes. Denomination names are 2 to
// 16 bytes of a-z, 0-9 and '-', starting with a letter; in balance and
// freeze keys the name is preceded by its length (one byte, 2..16), so that
// no (name, account) pair's key is a prefix of another's. Accounts and DID
// IDs are 32 bytes.
//
//	asset/denom/<name>                     the denomination record (Denom.Encode), CBOR
//	                                       [issuer, decimals, max_supply, supply,
//	                                       mint_authority, mint, freeze, clawback]
//	asset/bal/<len><name><account>         the account's balance, 8 bytes big-endian,
//	                                       never 0 (a zero balance is deleted)
//	asset/frozen/<len><name><account>      0x01 while the account is frozen in the
//	                                       denomination (absent otherwise)
//	asset/device/<device DID ID>           the device asset's owner, 32 bytes
//
// For example, the balance of account 0x0101…01 in "six" is under the 46
// bytes "asset/bal/" 0x03 "six" 0x01×32 (hex 61737365742f62616c2f 03
// 736978 0101…01), and holds 00 00 00 00 00 00 01 f4 for a balance of
// 500. Every key starts with "asset/", so the ledger can put them into its
// state tree as they are, beside its own prefixes.
//
// In the denomination record, issuer and mint_authority are 32-byte byte
// strings (the mint authority is all zero once mint is renounced);
// decimals (0..18) is an unsigned integer; max_supply (at least 1) and
// supply (at most max_supply) are unsigned integers; mint, freeze and
// clawback are power states: 0 absent (issued without it), 1 held, 2
// renounced. Mint is never absent.
//
// The device asset's ID is DeviceAssetID(did) = SHA-256("SIXDOMAIN-DEVICE-
// ASSET-V1" || 0x00 || did); the key is by the DID's ID so that the ledger
// finds it from the DID. A per-account list of balances is not indexed: the
// balances of an account are found by looking it up in every
// denomination (there are few).
//
// # Operations
//
// An Op is the payload of an asset transaction. It is the CBOR array, in
// the core deterministic profile (as in ledger/types),
//
//	[kind, denom, amount, account, to, decimals, max_supply, powers, inputs, outputs]
//
// kind: 1 issue, 2 mint, 3 burn, 4 send, 5 multi-send, 6 freeze, 7
// unfreeze, 8 clawback, 9 renounce, 10 bind-device, 11 transfer-device.
// denom is a text string; amount, decimals, max_supply and powers are
// unsigned integers (powers: 1 mint, 2 freeze, 4 clawback); account and to
// are byte strings of 0 or 32 bytes; inputs is an array of [denom, amount]
// and outputs an array of [to (32 bytes), denom, amount]. Fields an
// operation does not use are empty (0, "", empty byte string, empty
// array; never null, which the canonical check refuses); Op documents which fields each operation uses and Apply the
// rules. DecodeOp bounds the payload to MaxOpBytes before decoding,
// forbids indefinite lengths and tags, bounds arrays (MaxOutputs elements)
// and nesting, and re-encodes to insist on the canonical form.
// testdata/ops.json holds a golden encoding of every operation.
//
// # Rules in short
//
// A denomination is issued by a registered, active DID (admitted where the
// chain requires admission) under a new name, with its decimals, maximum
// supply, mint authority (default: the issuer) and, if asked, the freeze
// and clawback powers. Only the mint authority mints, within the maximum
// supply. The issuer freezes and unfreezes accounts and claws balances
// back to itself while it holds those powers; any power can be renounced
// for good (unfreezing stays possible after freeze is renounced). A frozen
// account cannot send, burn or pay fees in that denomination; it can
// receive, and be clawed back. A multi-send takes its inputs from the
// sender, and its outputs sum to its inputs per denomination. Amounts are
// uint64 and every sum is checked (ErrOverflow); nothing is ever negative.
//
// A device asset is bound by the device DID's sole controller (a device
// DID with several controllers must first set one) and transferred by its
// owner; a transfer returns Effects.ControllerChange, which the ledger
// writes into the DID record (the new owner becomes the sole controller,
// threshold 1), so that selling a device hands over control of its
// identity. When the registry changes a bound device's controllers, the
// ledger calls ControllersChanged, which refuses anything but a single
// controller and moves the asset to it. So a device asset's owner is
// always its DID's controller: CheckInvariants checks it, with the sums of
// balances against the supplies. The DID's role must be device to bind;
// a later change of its profile does not unbind the asset.
//
// Fees: ChargeFee moves a fee from its payer (sender or sponsor) to the
// sealing authority, less a share in basis points to the relaying gateway;
// Reward mints a block reward (and genesis balances) up to the maximum
// supply; InitDenom creates the genesis denomination.
//
// Errors wrap one sentinel each (ErrInsufficientFunds, ErrNotIssuer, ...);
// Reason gives their stable codes for receipts. Refused tells a verdict on
// the operation (the ledger includes the transaction as failed) from a
// failure of the node: an error of the KV or the Registry, or ErrCorrupt
// state, which must stop the block rather than fail the transaction.
//
// # Imports
//
// The standard library, fxamacker/cbor, identity and ledger/types. Never
// package ledger or anything above it: the ledger imports this package.
package assets
