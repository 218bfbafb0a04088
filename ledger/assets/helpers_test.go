package assets

import (
	"bytes"
	"errors"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// tb is what the helpers need of *testing.T and *rapid.T.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// acct returns a test account whose bytes are all b.
func acct(b byte) Account {
	var a Account
	for i := range a {
		a[i] = b
	}
	return a
}

// fakeReg is a DID registry in a map. It is a test double for the ledger's
// registry, which this package only reads; the records are real
// types.DIDRecord values.
type fakeReg struct {
	recs      map[Account]*types.DIDRecord
	admission bool
}

func newFakeReg() *fakeReg { return &fakeReg{recs: map[Account]*types.DIDRecord{}} }

func (r *fakeReg) Lookup(id Account) (*types.DIDRecord, error) {
	rec := r.recs[id]
	if rec == nil {
		return nil, nil
	}
	return rec.Clone(), nil
}

func (r *fakeReg) AdmissionRequired() bool { return r.admission }

// add registers id with a role and controllers (none: itself).
func (r *fakeReg) add(id Account, role types.EntityRole, controllers ...Account) *types.DIDRecord {
	if len(controllers) == 0 {
		controllers = []Account{id}
	}
	rec := &types.DIDRecord{ID: identity.PublicKey(id), Key: identity.PublicKey(id), Threshold: 1,
		Domain: types.DomainSensing, Role: role, Admitted: true, Version: 1}
	for _, c := range controllers {
		rec.Controllers = append(rec.Controllers, identity.PublicKey(c))
	}
	r.recs[id] = rec
	return rec
}

// effect does what the ledger does with an operation's effects.
func (r *fakeReg) effect(eff Effects) {
	if c := eff.ControllerChange; c != nil {
		rec := r.recs[c.Device]
		rec.Controllers, rec.Threshold = []identity.PublicKey{identity.PublicKey(c.NewController)}, 1
		rec.Version++
	}
}

// setControllers is a registry set-controllers operation, with the hook
// the ledger calls.
func (r *fakeReg) setControllers(kv KV, did Account, threshold uint8, cs ...Account) error {
	var keys []identity.PublicKey
	for _, c := range cs {
		keys = append(keys, identity.PublicKey(c))
	}
	if err := ControllersChanged(kv, did, keys, threshold); err != nil {
		return err
	}
	rec := r.recs[did]
	rec.Controllers, rec.Threshold = keys, threshold
	rec.Version++
	return nil
}

// applyChecked applies op and checks what every operation must satisfy:
// a failure leaves the KV unchanged, a success keeps the invariants (after
// the ledger applied the effects).
func applyChecked(t tb, kv *MapKV, reg *fakeReg, sender Account, op *Op) (Effects, error) {
	t.Helper()
	before := kv.Clone()
	if err := op.Validate(); err != nil {
		return Effects{}, err
	}
	// The encoding round-trips through the strict decoder.
	dec, err := DecodeOp(op.Encode())
	if err != nil {
		t.Fatalf("valid %s does not decode: %v", op.Kind, err)
	}
	if !bytes.Equal(dec.Encode(), op.Encode()) {
		t.Fatalf("%s re-encodes differently", op.Kind)
	}
	eff, err := Apply(kv, reg, sender, dec)
	if err != nil {
		if !kv.Equal(before) {
			t.Fatalf("failed %s (%v) changed the state", op.Kind, err)
		}
		if eff != (Effects{}) {
			t.Fatalf("failed %s returned effects", op.Kind)
		}
		return eff, err
	}
	reg.effect(eff)
	if err := CheckInvariants(kv, reg); err != nil {
		t.Fatalf("after %s: %v", op.Kind, err)
	}
	return eff, nil
}

// mustErr checks that err wraps want (nil: no error).
func mustErr(t tb, what string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("%s: unexpected error %v", what, err)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func bal(t tb, kv KV, name string, a Account) uint64 {
	t.Helper()
	n, err := Balance(kv, name, a)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func supply(t tb, kv KV, name string) uint64 {
	t.Helper()
	d, err := GetDenom(kv, name)
	if err != nil {
		t.Fatal(err)
	}
	return d.Supply
}
