package assets_test

import (
	"fmt"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/assets"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// registry is the ledger's DID registry, reduced to a map.
type registry map[assets.Account]*types.DIDRecord

func (r registry) Lookup(id assets.Account) (*types.DIDRecord, error) { return r[id], nil }
func (r registry) AdmissionRequired() bool                            { return false }

func (r registry) register(id assets.Account, role types.EntityRole, controller assets.Account) {
	r[id] = &types.DIDRecord{ID: identity.PublicKey(id), Key: identity.PublicKey(id), Role: role,
		Controllers: []identity.PublicKey{identity.PublicKey(controller)}, Threshold: 1, Version: 1}
}

// An operator issues credits, pays a device owner, binds its sensor's
// asset and sells the sensor; the ledger applies the controller change.
func Example() {
	operator, owner, sensor := assets.Account{1}, assets.Account{2}, assets.Account{3}
	reg := registry{}
	reg.register(operator, types.EntityOperator, operator)
	reg.register(owner, types.EntityUser, owner)
	reg.register(sensor, types.EntityDevice, operator)
	kv := assets.NewMapKV()

	for _, step := range []struct {
		from assets.Account
		op   assets.Op
	}{
		{operator, assets.Op{Kind: assets.OpIssue, Denom: "credit", Decimals: 2, MaxSupply: 1_000_000}},
		{operator, assets.Op{Kind: assets.OpMint, Denom: "credit", Amount: 5_000, To: operator[:]}},
		{operator, assets.Op{Kind: assets.OpSend, Denom: "credit", Amount: 1_250, To: owner[:]}},
		{owner, assets.Op{Kind: assets.OpSend, Denom: "credit", Amount: 2_000, To: operator[:]}},
		{operator, assets.Op{Kind: assets.OpBindDevice, Account: sensor[:]}},
		{operator, assets.Op{Kind: assets.OpTransferDevice, Account: sensor[:], To: owner[:]}},
	} {
		// What travels in a transaction is the canonical encoding.
		op, err := assets.DecodeOp(step.op.Encode())
		if err != nil {
			panic(err)
		}
		eff, err := assets.Apply(kv, reg, step.from, op)
		if err != nil {
			fmt.Printf("%s refused: %t, reason %s\n", op.Kind, assets.Refused(err), assets.Reason(err))
		}
		if c := eff.ControllerChange; c != nil {
			reg[c.Device].Controllers = []identity.PublicKey{identity.PublicKey(c.NewController)}
		}
	}
	b1, _ := assets.Balance(kv, "credit", operator)
	b2, _ := assets.Balance(kv, "credit", owner)
	o, _, _ := assets.DeviceOwner(kv, sensor)
	fmt.Println("operator", b1, "owner", b2, "sensor owned by owner:", o == owner)
	fmt.Println("invariants:", assets.CheckInvariants(kv, reg))
	// Output:
	// send refused: true, reason asset_insufficient_funds
	// operator 3750 owner 1250 sensor owned by owner: true
	// invariants: <nil>
}
