package assets

import (
	"fmt"
	"math/bits"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// Registry is what the operations need of the ledger's DID registry, as
// of the start of the operation.
type Registry interface {
	// Lookup returns the latest record of the DID whose ID is id, or nil
	// and no error if none is registered.
	Lookup(id Account) (*types.DIDRecord, error)
	// AdmissionRequired reports whether the chain admits entities (then
	// device DIDs and the new owners of device assets must be admitted).
	AdmissionRequired() bool
}

// Effects is what a successful operation asks the ledger to do beyond the
// asset state, in the same transaction.
type Effects struct {
	// ControllerChange, set by OpTransferDevice: the ledger must make
	// NewController the device DID's only controller (threshold 1) in the
	// same transaction, or discard the transaction's writes.
	ControllerChange *ControllerChange
}

// ControllerChange names a device DID and its new sole controller.
type ControllerChange struct {
	Device        Account
	NewController Account
}

// Apply performs op for sender against kv, looking DIDs up in reg. It
// checks op's shape first (Validate), so an operation built in code (by
// the contracts' host) is held to the same rules as a decoded one. It
// writes to kv only when it succeeds; a refused operation returns an error
// for which Refused is true and leaves kv unchanged. Any other error is a
// failure of the KV or the Registry (or corrupt state): not a verdict on
// the transaction, so the caller must not record it as one.
//
// Rules beyond Op's shape:
//   - Issue: the sender is a registered, active DID (admitted where the
//     chain requires admission); the name is not taken. The sender
//     becomes the issuer; the mint authority is op.Account or the issuer;
//     the supply starts at 0.
//   - Mint: the sender is the mint authority and mint is not renounced;
//     the supply stays at most the maximum supply (ErrOverflow if the sum
//     does not even fit in 64 bits).
//   - Burn, Send, MultiSend: the sender is not frozen in the denomination
//     and holds the amounts. Burn lowers the supply. A frozen account may
//     receive.
//   - Freeze: the issuer, with the freeze power held; the account is not
//     frozen yet. Unfreeze: the issuer, with the freeze power held or
//     renounced (renouncing never leaves an account frozen for good); the
//     account is frozen.
//   - Clawback: the issuer, with the clawback power held, moves the
//     amount from the account (frozen or not; it must hold the amount) to
//     the issuer's own balance.
//   - Renounce: the issuer renounces freeze or clawback; the issuer or the
//     mint authority renounces mint (the authority becomes zero). A power
//     the denomination never had cannot be renounced.
//   - BindDevice: op.Account is a registered, active device DID (admitted
//     where the chain requires admission) with exactly one controller,
//     the sender, and no asset yet. The sender becomes the owner.
//   - TransferDevice: the sender owns the device's asset (and is its sole
//     controller); the device DID is active; op.To is not the owner and,
//     if registered, active (and where admission is required, registered
//     and admitted). op.To becomes the owner, and the effect tells the
//     ledger to make it the controller.
func Apply(kv KV, reg Registry, sender Account, op *Op) (Effects, error) {
	if sender.IsZero() || op == nil {
		return Effects{}, fmt.Errorf("%w: zero sender or no operation", ErrBadOp)
	}
	if err := op.Validate(); err != nil {
		return Effects{}, err
	}
	b := newBatch(kv)
	eff, err := apply(b, reg, sender, op)
	if err != nil {
		return Effects{}, fmt.Errorf("%s: %w", op.Kind, err)
	}
	b.commit()
	return eff, nil
}

func apply(b *batch, reg Registry, sender Account, op *Op) (Effects, error) {
	switch op.Kind {
	case OpIssue:
		return Effects{}, issue(b, reg, sender, op)
	case OpMint:
		return Effects{}, mint(b, sender, op)
	case OpBurn:
		d, err := b.denom(op.Denom)
		if err != nil {
			return Effects{}, err
		}
		if err := b.debit(op.Denom, sender, op.Amount); err != nil {
			return Effects{}, err
		}
		if d.Supply < op.Amount {
			return Effects{}, fmt.Errorf("%w: supply of %q below a balance", ErrCorrupt, op.Denom)
		}
		d.Supply -= op.Amount
		b.putDenom(op.Denom, d)
		return Effects{}, nil
	case OpSend:
		if err := b.denomExists(op.Denom); err != nil {
			return Effects{}, err
		}
		if err := b.debit(op.Denom, sender, op.Amount); err != nil {
			return Effects{}, err
		}
		return Effects{}, b.credit(op.Denom, op.ToValue(), op.Amount)
	case OpMultiSend:
		return Effects{}, multiSend(b, sender, op)
	case OpFreeze, OpUnfreeze:
		return Effects{}, freeze(b, sender, op)
	case OpClawback:
		d, err := issuerOf(b, sender, op.Denom)
		if err != nil {
			return Effects{}, err
		}
		if err := power(d.Clawback, "clawback"); err != nil {
			return Effects{}, err
		}
		if err := b.take(op.Denom, op.AccountValue(), op.Amount); err != nil {
			return Effects{}, err
		}
		return Effects{}, b.credit(op.Denom, sender, op.Amount)
	case OpRenounce:
		return Effects{}, renounce(b, sender, op)
	case OpBindDevice:
		return Effects{}, bindDevice(b, reg, sender, op.AccountValue())
	case OpTransferDevice:
		return transferDevice(b, reg, sender, op.AccountValue(), op.ToValue())
	}
	return Effects{}, fmt.Errorf("%w: unknown operation %d", ErrBadOp, op.Kind)
}

func issue(b *batch, reg Registry, sender Account, op *Op) error {
	if _, err := activeDID(reg, sender, "issuer"); err != nil {
		return err
	}
	if v, err := b.get(DenomKey(op.Denom)); err != nil {
		return err
	} else if v != nil {
		return fmt.Errorf("%w: %q", ErrDenomExists, op.Denom)
	}
	d := &Denom{Issuer: sender, Decimals: op.Decimals, MaxSupply: op.MaxSupply, MintAuthority: sender, Mint: PowerHeld}
	if len(op.Account) != 0 {
		d.MintAuthority = op.AccountValue()
	}
	if op.Powers&PowerFreeze != 0 {
		d.Freeze = PowerHeld
	}
	if op.Powers&PowerClawback != 0 {
		d.Clawback = PowerHeld
	}
	b.putDenom(op.Denom, d)
	return nil
}

func mint(b *batch, sender Account, op *Op) error {
	d, err := b.denom(op.Denom)
	if err != nil {
		return err
	}
	if d.Mint == PowerRenounced {
		return fmt.Errorf("%w: mint of %q", ErrPowerRenounced, op.Denom)
	}
	if sender != d.MintAuthority {
		return fmt.Errorf("%w: %q is minted by %s", ErrNotMintAuthority, op.Denom, d.MintAuthority)
	}
	if err := addSupply(d, op.Denom, op.Amount); err != nil {
		return err
	}
	b.putDenom(op.Denom, d)
	return b.credit(op.Denom, op.ToValue(), op.Amount)
}

// addSupply raises d's supply by n within its maximum.
func addSupply(d *Denom, name string, n uint64) error {
	sum, carry := bits.Add64(d.Supply, n, 0)
	if carry != 0 {
		return fmt.Errorf("%w: supply of %q plus %d", ErrOverflow, name, n)
	}
	if sum > d.MaxSupply {
		return fmt.Errorf("%w: %q: supply %d plus %d passes %d", ErrSupplyExceeded, name, d.Supply, n, d.MaxSupply)
	}
	d.Supply = sum
	return nil
}

func multiSend(b *batch, sender Account, op *Op) error {
	for _, in := range op.Inputs {
		if err := b.denomExists(in.Denom); err != nil {
			return err
		}
		if err := b.debit(in.Denom, sender, in.Amount); err != nil {
			return err
		}
	}
	for _, out := range op.Outputs {
		if err := b.credit(out.Denom, out.To, out.Amount); err != nil {
			return err
		}
	}
	return nil
}

func issuerOf(b *batch, sender Account, name string) (*Denom, error) {
	d, err := b.denom(name)
	if err != nil {
		return nil, err
	}
	if sender != d.Issuer {
		return nil, fmt.Errorf("%w: %q was issued by %s", ErrNotIssuer, name, d.Issuer)
	}
	return d, nil
}

// power checks that a power is held.
func power(s PowerState, what string) error {
	switch s {
	case PowerHeld:
		return nil
	case PowerRenounced:
		return fmt.Errorf("%w: %s", ErrPowerRenounced, what)
	}
	return fmt.Errorf("%w: %s", ErrNoPower, what)
}

func freeze(b *batch, sender Account, op *Op) error {
	d, err := issuerOf(b, sender, op.Denom)
	if err != nil {
		return err
	}
	want := op.Kind == OpFreeze
	if want || d.Freeze == PowerAbsent {
		if err := power(d.Freeze, "freeze"); err != nil {
			return err
		}
	}
	a := op.AccountValue()
	f, err := b.frozen(op.Denom, a)
	if err != nil {
		return err
	}
	if f == want {
		return fmt.Errorf("%w: %s frozen in %q: %t", ErrFreezeState, a, op.Denom, f)
	}
	b.setFrozen(op.Denom, a, want)
	return nil
}

func renounce(b *batch, sender Account, op *Op) error {
	d, err := b.denom(op.Denom)
	if err != nil {
		return err
	}
	st := map[Powers]*PowerState{PowerMint: &d.Mint, PowerFreeze: &d.Freeze, PowerClawback: &d.Clawback}[op.Powers]
	if sender != d.Issuer && !(op.Powers == PowerMint && sender == d.MintAuthority) {
		return fmt.Errorf("%w: %q was issued by %s", ErrNotIssuer, op.Denom, d.Issuer)
	}
	if err := power(*st, op.Powers.String()); err != nil {
		return err
	}
	*st = PowerRenounced
	if op.Powers == PowerMint {
		d.MintAuthority = Account{}
	}
	b.putDenom(op.Denom, d)
	return nil
}

// activeDID returns id's record: registered, active, and admitted where
// the chain requires it.
func activeDID(reg Registry, id Account, what string) (*types.DIDRecord, error) {
	rec, err := reg.Lookup(id)
	if err != nil {
		return nil, fmt.Errorf("assets: looking up %s %s: %w", what, id, err)
	}
	if rec == nil {
		return nil, fmt.Errorf("%w: %s %s", ErrUnknownDID, what, id)
	}
	if !rec.Active() {
		return nil, fmt.Errorf("%w: %s %s", ErrInactive, what, rec.DID())
	}
	if reg.AdmissionRequired() && !rec.Admitted {
		return nil, fmt.Errorf("%w: %s %s", ErrNotAdmitted, what, rec.DID())
	}
	return rec, nil
}

// soleController returns the DID's controller if it has exactly one.
func soleController(rec *types.DIDRecord) (Account, error) {
	if len(rec.Controllers) != 1 || rec.Threshold != 1 {
		return Account{}, fmt.Errorf("%w: %s has %d controllers (threshold %d); a device asset needs exactly one",
			ErrNotController, rec.DID(), len(rec.Controllers), rec.Threshold)
	}
	return Account(rec.Controllers[0]), nil
}

func bindDevice(b *batch, reg Registry, sender, did Account) error {
	rec, err := activeDID(reg, did, "device")
	if err != nil {
		return err
	}
	if rec.Role != types.EntityDevice {
		return fmt.Errorf("%w: %s is a %s", ErrNotDevice, rec.DID(), rec.Role)
	}
	ctl, err := soleController(rec)
	if err != nil {
		return err
	}
	if ctl != sender {
		return fmt.Errorf("%w: %s is controlled by %s", ErrNotController, rec.DID(), ctl)
	}
	if _, ok, err := b.deviceOwner(did); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("%w: %s", ErrDeviceBound, rec.DID())
	}
	b.setDeviceOwner(did, sender)
	return nil
}

func transferDevice(b *batch, reg Registry, sender, did, to Account) (Effects, error) {
	owner, ok, err := b.deviceOwner(did)
	if err != nil {
		return Effects{}, err
	}
	if !ok {
		return Effects{}, fmt.Errorf("%w: %s", ErrNoDeviceAsset, identity.PublicKey(did).DID())
	}
	if owner != sender {
		return Effects{}, fmt.Errorf("%w: %s is owned by %s", ErrNotOwner, identity.PublicKey(did).DID(), owner)
	}
	rec, err := activeDID(reg, did, "device")
	if err != nil {
		return Effects{}, err
	}
	if ctl, err := soleController(rec); err != nil {
		return Effects{}, err
	} else if ctl != owner {
		return Effects{}, fmt.Errorf("%w: %s is controlled by %s, its asset is owned by %s", ErrNotController, rec.DID(), ctl, owner)
	}
	if to == owner {
		return Effects{}, fmt.Errorf("%w: transfer to the owner itself", ErrBadOp)
	}
	if reg.AdmissionRequired() {
		if _, err := activeDID(reg, to, "new owner"); err != nil {
			return Effects{}, err
		}
	} else if toRec, err := reg.Lookup(to); err != nil {
		return Effects{}, fmt.Errorf("assets: looking up new owner %s: %w", to, err)
	} else if toRec != nil && !toRec.Active() {
		return Effects{}, fmt.Errorf("%w: new owner %s", ErrInactive, toRec.DID())
	}
	b.setDeviceOwner(did, to)
	return Effects{ControllerChange: &ControllerChange{Device: did, NewController: to}}, nil
}

// ControllersChanged keeps a device asset's owner equal to its DID's
// controller when the registry changes the controllers by a registry
// operation (set-controllers). The ledger calls it, before it writes the
// record, for every controller change of a DID; for a DID without a device
// asset it does nothing. A bound device must keep exactly one controller
// (threshold 1): otherwise it returns ErrDeviceBound and the ledger must
// refuse the registry operation. On success the owner becomes the new
// controller.
func ControllersChanged(kv KV, did Account, controllers []identity.PublicKey, threshold uint8) error {
	b := newBatch(kv)
	owner, ok, err := b.deviceOwner(did)
	if err != nil || !ok {
		return err
	}
	if len(controllers) != 1 || threshold != 1 {
		return fmt.Errorf("%w: %s has a device asset, so it keeps exactly one controller (got %d, threshold %d)",
			ErrDeviceBound, identity.PublicKey(did).DID(), len(controllers), threshold)
	}
	if c := Account(controllers[0]); c != owner {
		b.setDeviceOwner(did, c)
	}
	b.commit()
	return nil
}

// InitDenom creates a denomination without an Issue operation, for the
// genesis (the chain's fee and reward denomination). d's supply must be 0;
// give balances with Reward.
func InitDenom(kv KV, name string, d Denom) error {
	if err := ValidDenomName(name); err != nil {
		return err
	}
	if d.Supply != 0 {
		return fmt.Errorf("%w: genesis denomination %q with a supply; mint it with Reward", ErrBadOp, name)
	}
	if err := d.validate(); err != nil {
		return fmt.Errorf("genesis denomination %q: %w", name, err)
	}
	b := newBatch(kv)
	if v, err := b.get(DenomKey(name)); err != nil {
		return err
	} else if v != nil {
		return fmt.Errorf("%w: %q", ErrDenomExists, name)
	}
	b.putDenom(name, &d)
	b.commit()
	return nil
}
