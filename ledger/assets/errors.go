package assets

import "errors"

// Why an operation is refused. Apply, ChargeFee, Reward and the decoders
// wrap exactly one of these (with detail) so that callers can match them
// with errors.Is and put Reason(err) in a receipt.
var (
	// ErrBadOp: the operation is malformed (encoding, limits, a field it
	// does not use is set, a zero amount, ...).
	ErrBadOp = errors.New("malformed asset operation")
	// ErrInputsOutputs: a multi-send's inputs and outputs differ for a
	// denomination.
	ErrInputsOutputs = errors.New("inputs do not equal outputs")
	// ErrUnknownDenom: no denomination of that name was issued.
	ErrUnknownDenom = errors.New("unknown denomination")
	// ErrDenomExists: issue of a name already taken.
	ErrDenomExists = errors.New("denomination already exists")
	// ErrNotIssuer: freeze, unfreeze, clawback or renounce by someone
	// other than the issuer.
	ErrNotIssuer = errors.New("not the issuer")
	// ErrNotMintAuthority: mint by someone other than the mint authority.
	ErrNotMintAuthority = errors.New("not the mint authority")
	// ErrNoPower: the denomination was issued without that power.
	ErrNoPower = errors.New("denomination has no such power")
	// ErrPowerRenounced: the power was renounced for good.
	ErrPowerRenounced = errors.New("power renounced")
	// ErrFrozen: the account is frozen for the denomination; it may not
	// send, burn or pay fees in it.
	ErrFrozen = errors.New("account frozen")
	// ErrFreezeState: freeze of a frozen account, unfreeze of one that is
	// not.
	ErrFreezeState = errors.New("account freeze state does not fit")
	// ErrInsufficientFunds: the balance is below the amount.
	ErrInsufficientFunds = errors.New("insufficient funds")
	// ErrSupplyExceeded: the supply would pass the maximum supply.
	ErrSupplyExceeded = errors.New("maximum supply exceeded")
	// ErrOverflow: a sum does not fit in 64 bits.
	ErrOverflow = errors.New("amount overflow")
	// ErrBadFee: a fee split outside 0..10000 basis points.
	ErrBadFee = errors.New("bad fee parameters")
	// ErrUnknownDID: the DID is not registered.
	ErrUnknownDID = errors.New("DID not registered")
	// ErrInactive: the DID is deactivated or revoked.
	ErrInactive = errors.New("DID deactivated or revoked")
	// ErrNotAdmitted: on a chain that requires admission, the DID is not
	// admitted.
	ErrNotAdmitted = errors.New("DID not admitted")
	// ErrNotDevice: the DID's role is not device.
	ErrNotDevice = errors.New("DID is not a device")
	// ErrNotController: the sender is not the device DID's sole
	// controller, or the DID does not have exactly one controller.
	ErrNotController = errors.New("not the device's sole controller")
	// ErrDeviceBound: the device already has its asset, or a controller
	// change would leave a bound device without a sole controller.
	ErrDeviceBound = errors.New("device asset already bound")
	// ErrNoDeviceAsset: the device has no asset (BindDevice first).
	ErrNoDeviceAsset = errors.New("no device asset")
	// ErrNotOwner: transfer of a device asset by someone other than its
	// owner.
	ErrNotOwner = errors.New("not the device asset's owner")
	// ErrCorrupt: a stored value under asset/ does not decode.
	ErrCorrupt = errors.New("corrupt asset state")
	// ErrInvariant: CheckInvariants found the state inconsistent.
	ErrInvariant = errors.New("asset invariant violated")
)

var reasons = []struct {
	err  error
	code string
}{
	{ErrBadOp, "asset_bad_op"},
	{ErrInputsOutputs, "asset_inputs_outputs"},
	{ErrUnknownDenom, "asset_unknown_denom"},
	{ErrDenomExists, "asset_denom_exists"},
	{ErrNotIssuer, "asset_not_issuer"},
	{ErrNotMintAuthority, "asset_not_mint_authority"},
	{ErrNoPower, "asset_no_power"},
	{ErrPowerRenounced, "asset_power_renounced"},
	{ErrFrozen, "asset_frozen"},
	{ErrFreezeState, "asset_freeze_state"},
	{ErrInsufficientFunds, "asset_insufficient_funds"},
	{ErrSupplyExceeded, "asset_supply_exceeded"},
	{ErrOverflow, "asset_overflow"},
	{ErrBadFee, "asset_bad_fee"},
	{ErrUnknownDID, "asset_unknown_did"},
	{ErrInactive, "asset_inactive_did"},
	{ErrNotAdmitted, "asset_not_admitted"},
	{ErrNotDevice, "asset_not_device"},
	{ErrNotController, "asset_not_controller"},
	{ErrDeviceBound, "asset_device_bound"},
	{ErrNoDeviceAsset, "asset_no_device_asset"},
	{ErrNotOwner, "asset_not_owner"},
	{ErrCorrupt, "asset_corrupt"},
	{ErrInvariant, "asset_invariant"},
}

// Reason returns the stable code of the first sentinel err wraps (for
// receipts and metrics labels), "other" for an error that wraps none, and
// "" for no error.
func Reason(err error) string {
	if err == nil {
		return ""
	}
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.code
		}
	}
	return "other"
}

// Refused reports whether err is a verdict on the operation: it wraps one
// of the package's sentinels other than ErrCorrupt and ErrInvariant. The
// ledger records a refused transaction as failed (it consumes its nonce);
// any other error from this package is a failure of the node (its KV or
// registry, or corrupt state) and must stop the block instead.
func Refused(err error) bool {
	if err == nil || errors.Is(err, ErrCorrupt) || errors.Is(err, ErrInvariant) {
		return false
	}
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return true
		}
	}
	return false
}
