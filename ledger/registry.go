package ledger

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/smt"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// DIDReader gives the latest registry record of a DID.
type DIDReader interface {
	// DID returns the latest record of the DID that k names or named: its
	// registration key, its current key or a key rotated out of it. It
	// returns nil and no error if no DID has had k.
	DID(k identity.PublicKey) (*types.DIDRecord, error)
}

// Reader is the state a block applies to: committed nonces, the DID
// registry, and the authority set the block is sealed under.
type Reader interface {
	NonceReader
	DIDReader
	// Node gives the nodes of the state tree whose root is the state's
	// (smt.NodeReader).
	smt.NodeReader
	// IsAuthority reports whether k is an authority for the block.
	IsAuthority(k identity.PublicKey) bool
	// AuthoritiesAfter returns the authority set in force after the block
	// whose (prepared) header is h: the set the consensus engine derives
	// from the headers (EIP-225 votes), which the state tree records.
	AuthoritiesAfter(h *types.Header) ([]identity.PublicKey, error)
}

// StateReader is a Reader without the authority set: what a Store reads.
type StateReader interface {
	NonceReader
	DIDReader
	smt.NodeReader
}

// View returns the Reader of r under a fixed authority set: the set for
// the block, and the set after it.
func View(r StateReader, authorities []identity.PublicKey) Reader {
	set := make(map[identity.PublicKey]struct{}, len(authorities))
	for _, a := range authorities {
		set[a] = struct{}{}
	}
	return view{r, set, sortedAuthorities(authorities)}
}

type view struct {
	StateReader
	auth   map[identity.PublicKey]struct{}
	sorted []identity.PublicKey
}

func (v view) IsAuthority(k identity.PublicKey) bool { _, ok := v.auth[k]; return ok }

func (v view) AuthoritiesAfter(*types.Header) ([]identity.PublicKey, error) {
	if len(v.sorted) == 0 {
		return nil, errors.New("ledger: View without authorities")
	}
	return v.sorted, nil
}

// CheckSender decides whether tx's sender may send transactions given its
// DID record rec (nil if it has none), the authority set (asked only in
// admitted mode, about senders not admitted), and the chain's admission
// mode:
//   - a key rotated out of its DID may not (types.ErrKeyRotated);
//   - a revoked DID may not, nor a deactivated one, except to reactivate
//     itself (types.ErrSenderRevoked);
//   - in admitted mode, only authorities and admitted DIDs may
//     (types.ErrSenderNotAdmitted).
//
// Apply runs it on every transaction; gossip validation runs it against
// the finalized state so that refused senders' messages go no further.
func CheckSender(tx *types.Tx, rec *types.DIDRecord, isAuthority func(identity.PublicKey) bool, admittedMode bool) error {
	if rec != nil {
		if rec.Key != tx.Sender {
			return fmt.Errorf("%w: %s was rotated out of %s", types.ErrKeyRotated, tx.Sender.DID(), rec.DID())
		}
		if rec.Revoked {
			return fmt.Errorf("%w: %s is revoked", types.ErrSenderRevoked, rec.DID())
		}
		if rec.Deactivated && !reactivatesSelf(tx, rec) {
			return fmt.Errorf("%w: %s is deactivated", types.ErrSenderRevoked, rec.DID())
		}
	}
	if admittedMode && (rec == nil || !rec.Admitted) && !isAuthority(tx.Sender) {
		return fmt.Errorf("%w: %s is neither an authority nor admitted", types.ErrSenderNotAdmitted, tx.Sender.DID())
	}
	return nil
}

func reactivatesSelf(tx *types.Tx, rec *types.DIDRecord) bool {
	if tx.Type != types.TxDID {
		return false
	}
	op, err := types.DecodeDIDOp(tx.Payload)
	return err == nil && op.Op == types.OpReactivate && rec.HasKey(op.Subject)
}

// DIDChange is one new version of a DID record, made by a transaction of
// the block.
type DIDChange struct {
	Record *types.DIDRecord
	// NewKeys are the keys this change links to the DID for the first time
	// (the registration key, or a key rotated in).
	NewKeys []identity.PublicKey
}

// did returns the latest record of the DID k names, as of the
// transactions accepted so far in the block.
func (a *applier) did(k identity.PublicKey) (*types.DIDRecord, error) {
	if id, ok := a.alias[k]; ok {
		return a.dids[id], nil
	}
	rec, cached := a.read[k]
	if !cached {
		var err error
		if rec, err = a.r.DID(k); err != nil {
			return nil, fmt.Errorf("ledger: reading the DID of %s: %w", k.DID(), err)
		}
		a.read[k] = rec
	}
	if rec != nil {
		if cur, ok := a.dids[rec.ID]; ok { // changed earlier in the block
			rec = cur
		}
	}
	return rec, nil
}

// checkSender runs CheckSender with the block's state.
func (a *applier) checkSender(tx *types.Tx) (ioErr bool, err error) {
	rec, err := a.did(tx.Sender)
	if err != nil {
		return true, err
	}
	return false, CheckSender(tx, rec, a.r.IsAuthority, a.p.Admitted)
}

// checkDIDOp returns the record that the registry transaction tx makes,
// without changing a.
func (a *applier) checkDIDOp(tx *types.Tx, hash types.Hash) (*DIDChange, bool, error) {
	op, err := types.DecodeDIDOp(tx.Payload)
	if err != nil {
		return nil, false, err
	}
	signers := map[identity.PublicKey]bool{tx.Sender: true}
	for _, ap := range op.Approvals {
		signers[ap.Signer] = true
	}
	unauthorized := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", types.ErrDIDUnauthorized, op.Op, fmt.Sprintf(format, args...))
	}
	state := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", types.ErrDIDState, op.Op, fmt.Sprintf(format, args...))
	}
	finish := func(rec *types.DIDRecord, newKeys ...identity.PublicKey) (*DIDChange, bool, error) {
		rec.Version++
		rec.Updated = a.blockTime.UnixMilli()
		rec.Height = a.height
		rec.TxHash = hash
		return &DIDChange{Record: rec, NewKeys: newKeys}, false, nil
	}

	if op.Op == types.OpRegister {
		existing, err := a.did(op.Subject)
		if err != nil {
			return nil, true, err
		}
		if existing != nil {
			return nil, false, fmt.Errorf("%w: %s belongs to %s", types.ErrDIDExists, op.Subject.DID(), existing.DID())
		}
		if !signers[op.Subject] {
			return nil, false, unauthorized("the subject %s must sign (as sender or approval) to prove it holds the key", op.Subject.DID())
		}
		rec := &types.DIDRecord{ID: op.Subject, Key: op.Subject, Controllers: op.Controllers, Threshold: op.Threshold,
			Domain: op.Domain, Role: op.Role, Services: op.Services, Created: a.blockTime.UnixMilli()}
		if len(rec.Controllers) == 0 {
			rec.Controllers, rec.Threshold = []identity.PublicKey{op.Subject}, 1
		}
		return finish(rec, op.Subject)
	}

	cur, err := a.did(op.Subject)
	if err != nil {
		return nil, true, err
	}
	if cur == nil {
		return nil, false, fmt.Errorf("%w: %s", types.ErrDIDNotFound, op.Subject.DID())
	}
	if op.Version != cur.Version {
		return nil, false, fmt.Errorf("%w: %s applies to version %d, %s is at version %d", types.ErrDIDVersion, op.Op, op.Version, cur.DID(), cur.Version)
	}
	rec := cur.Clone()

	if op.Op.ControllerOp() {
		if rec.Deactivated && op.Op != types.OpReactivate {
			return nil, false, state("%s is deactivated; only reactivate applies", rec.DID())
		}
		got, err := a.controllerSignatures(rec, signers)
		if err != nil {
			return nil, true, err
		}
		if got < int(rec.Threshold) {
			return nil, false, unauthorized("%d of the %d controllers of %s signed, threshold is %d", got, len(rec.Controllers), rec.DID(), rec.Threshold)
		}
	}

	switch op.Op {
	case types.OpSetControllers:
		rec.Controllers, rec.Threshold = slices.Clone(op.Controllers), op.Threshold
	case types.OpRotateKey:
		nk := op.NewKeyValue()
		if !signers[nk] {
			return nil, false, unauthorized("the new key %s must sign to prove it is held", nk.DID())
		}
		other, err := a.did(nk)
		if err != nil {
			return nil, true, err
		}
		if other != nil {
			return nil, false, fmt.Errorf("%w: the new key %s belongs to %s", types.ErrDIDExists, nk.DID(), other.DID())
		}
		if len(rec.PrevKeys) >= types.MaxKeyRotations {
			return nil, false, state("%s has rotated its key %d times, the limit", rec.DID(), types.MaxKeyRotations)
		}
		rec.PrevKeys = append(rec.PrevKeys, rec.Key)
		rec.Key = nk
		return finish(rec, nk)
	case types.OpAddService:
		s := op.Services[0]
		if slices.ContainsFunc(rec.Services, func(x types.Service) bool { return x.ID == s.ID }) {
			return nil, false, state("%s already has a service %q", rec.DID(), s.ID)
		}
		if len(rec.Services) >= types.MaxServices {
			return nil, false, state("%s has %d services, the limit", rec.DID(), types.MaxServices)
		}
		rec.Services = append(rec.Services, s)
	case types.OpRemoveService:
		i := slices.IndexFunc(rec.Services, func(x types.Service) bool { return x.ID == op.ServiceID })
		if i < 0 {
			return nil, false, state("%s has no service %q", rec.DID(), op.ServiceID)
		}
		rec.Services = slices.Delete(rec.Services, i, i+1)
	case types.OpDeactivate:
		rec.Deactivated = true
	case types.OpReactivate:
		if !rec.Deactivated {
			return nil, false, state("%s is active", rec.DID())
		}
		rec.Deactivated = false
	case types.OpSetProfile:
		if op.Domain != rec.Domain {
			// An admission was for the old domain.
			rec.Admitted, rec.AdmittedBy, rec.Onboard = false, identity.PublicKey{}, nil
		}
		rec.Domain, rec.Role = op.Domain, op.Role
	case types.OpAdmit:
		if rec.Deactivated {
			return nil, false, state("%s is deactivated", rec.DID())
		}
		by := tx.Sender
		if !a.r.IsAuthority(tx.Sender) {
			admitter, err := a.did(tx.Sender)
			if err != nil {
				return nil, true, err
			}
			switch {
			case admitter == nil || admitter.Key != tx.Sender:
				return nil, false, unauthorized("%s is neither an authority nor a registered entity", tx.Sender.DID())
			case admitter.ID == rec.ID:
				return nil, false, unauthorized("%s may not admit itself", rec.DID())
			case !admitter.MayOnboard(rec.Domain):
				return nil, false, unauthorized("%s may not admit entities of the %s domain", admitter.DID(), rec.Domain)
			case len(op.Onboard) > 0:
				return nil, false, unauthorized("only an authority grants the right to admit entities")
			}
			by = admitter.ID
		}
		rec.Admitted, rec.Revoked, rec.AdmittedBy, rec.Onboard = true, false, by, slices.Clone(op.Onboard)
	case types.OpRevoke:
		if rec.Revoked {
			return nil, false, state("%s is revoked already", rec.DID())
		}
		if !a.r.IsAuthority(tx.Sender) {
			revoker, err := a.did(tx.Sender)
			if err != nil {
				return nil, true, err
			}
			if revoker == nil || revoker.Key != tx.Sender || !revoker.Active() || revoker.ID != rec.AdmittedBy {
				return nil, false, unauthorized("%s is neither an authority nor the admitter of %s", tx.Sender.DID(), rec.DID())
			}
		}
		rec.Revoked, rec.Admitted, rec.Onboard = true, false, nil
	}
	return finish(rec)
}

// controllerSignatures counts rec's controllers whose current key is among
// the signers. A controller that is a registered DID signs with its
// current key and must be active; any other controller is a bare key.
func (a *applier) controllerSignatures(rec *types.DIDRecord, signers map[identity.PublicKey]bool) (int, error) {
	n := 0
	for _, c := range rec.Controllers {
		key := c
		if c == rec.ID {
			key = rec.Key
		} else {
			crec, err := a.did(c)
			if err != nil {
				return 0, err
			}
			if crec != nil {
				if !crec.Active() {
					continue
				}
				key = crec.Key
			}
		}
		if signers[key] {
			n++
		}
	}
	return n, nil
}

// acceptDID records a checked registry change.
func (a *applier) acceptDID(ch *DIDChange) {
	rec := ch.Record
	a.dids[rec.ID] = rec
	for _, k := range ch.NewKeys {
		a.alias[k] = rec.ID
	}
	a.alias[rec.ID] = rec.ID
	a.ch.DIDs = append(a.ch.DIDs, *ch)
}

// CheckTx runs the checks Apply makes of tx as the first transaction of a
// block at height with time at, over the state r reads: a node asks it of
// a transaction submitted to it, to refuse at once what no block could
// take now.
func CheckTx(r Reader, p Params, height uint64, at time.Time, tx *types.Tx) error {
	a := newApplier(r, p, height, at.UnixMilli(), 1)
	_, err := a.check(tx)
	return err
}
