package ledger

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// regChain is a chain on a real (memory) store for registry scenarios:
// every transaction goes through Propose, Apply and Commit.
type regChain struct {
	t     *testing.T
	f     *fixture
	s     *Store
	auths []identity.PublicKey
}

func newRegChain(t *testing.T, admitted bool) *regChain {
	t.Helper()
	f := newFixture(t, 0)
	if admitted {
		f.g.Admission = types.AdmissionAdmitted
		f.p = ParamsFromGenesis(f.g)
	}
	s, err := Open(context.Background(), NewMemory(), f.g)
	if err != nil {
		t.Fatal(err)
	}
	return &regChain{t: t, f: f, s: s, auths: []identity.PublicKey{f.auth.Public()}}
}

// now is the time of the next block.
func (c *regChain) now() int64 { return c.s.State().LastBlockTime + 1000 }

// didTx builds sender's next registry transaction carrying op, approved
// by approvers.
func (c *regChain) didTx(sender *identity.PrivateKey, op types.DIDOp, approvers ...*identity.PrivateKey) *types.Tx {
	c.t.Helper()
	for _, a := range approvers {
		op.Approve(c.f.p.ChainID, a)
	}
	n, err := c.s.Nonce(sender.Public())
	if err != nil {
		c.t.Fatal(err)
	}
	tx, err := types.NewDIDTx(c.f.p.ChainID, n+1, c.now(), &op)
	if err != nil {
		c.t.Fatalf("NewDIDTx: %v", err)
	}
	tx.Sign(sender)
	return tx
}

// recordTx builds sender's next data-record transaction.
func (c *regChain) recordTx(sender *identity.PrivateKey) *types.Tx {
	c.t.Helper()
	n, err := c.s.Nonce(sender.Public())
	if err != nil {
		c.t.Fatal(err)
	}
	return c.f.tx(c.t, sender, n+1, c.now(), "temp")
}

// run proposes a block of txs and commits it. It returns the error of the
// first transaction Propose left out; then nothing is committed. Apply
// must agree with Propose, and a block carrying the refused transaction
// must be refused by Apply with the same reason.
func (c *regChain) run(txs ...*types.Tx) error {
	c.t.Helper()
	r := View(c.s, c.auths)
	st := c.s.State()
	at := c.now()
	b, next, ch, skipped := propose(st, r, c.f.p, txs, at, c.f.auth.Public())
	if len(skipped) > 0 {
		// The block with the refused transaction in must not apply either.
		bad := &types.Block{Header: b.Header, Txs: txs}
		if _, _, err := Apply(st, r, c.f.p, bad); err == nil || !errors.Is(err, types.ErrBadBlock) {
			c.t.Fatalf("Apply accepted a block that Propose refused (%v): %v", skipped[0].Err, err)
		}
		return skipped[0].Err
	}
	c.f.seal(b)
	next2, ch2, err := Apply(st, r, c.f.p, b)
	if err != nil {
		c.t.Fatalf("Apply refused the proposed block: %v", err)
	}
	if next2 != next || !reflect.DeepEqual(ch2, ch) {
		c.t.Fatal("Apply disagrees with Propose")
	}
	if err := c.s.Commit(context.Background(), b, next, ch); err != nil {
		c.t.Fatal(err)
	}
	return nil
}

func (c *regChain) must(txs ...*types.Tx) {
	c.t.Helper()
	if err := c.run(txs...); err != nil {
		c.t.Fatalf("refused: %v", err)
	}
}

func (c *regChain) refuse(want error, txs ...*types.Tx) {
	c.t.Helper()
	err := c.run(txs...)
	if !errors.Is(err, want) {
		c.t.Fatalf("got %v, want %v", err, want)
	}
}

func (c *regChain) rec(k identity.PublicKey) *types.DIDRecord {
	c.t.Helper()
	r, err := c.s.DID(k)
	if err != nil || r == nil {
		c.t.Fatalf("DID(%s) = %v, %v", k.DID(), r, err)
	}
	return r
}

func register(subject identity.PublicKey, d types.Domain, r types.EntityRole) types.DIDOp {
	return types.DIDOp{Op: types.OpRegister, Subject: subject, Domain: d, Role: r}
}

func sortedKeys(ks ...identity.PublicKey) []identity.PublicKey {
	ks = slices.Clone(ks)
	slices.SortFunc(ks, func(a, b identity.PublicKey) int { return slices.Compare(a[:], b[:]) })
	return ks
}

func TestRegistryOperations(t *testing.T) {
	mqtt := types.Service{ID: "mqtt", Type: "MQTTBridge", Endpoint: "mqtts://gw.example:8883"}
	coap := types.Service{ID: "coap", Type: "CoAP", Endpoint: "coaps://gw.example:5684"}
	type keys struct{ dev, owner, gw, other, next *identity.PrivateKey }
	cases := []struct {
		name string
		// setup runs on a fresh open chain and must succeed; then try is
		// proposed and must fail with want (nil: succeed), and check runs.
		setup func(c *regChain, k keys)
		try   func(c *regChain, k keys) *types.Tx
		want  error
		check func(t *testing.T, c *regChain, k keys)
	}{
		{name: "register by the subject itself",
			try: func(c *regChain, k keys) *types.Tx {
				return c.didTx(k.dev, register(k.dev.Public(), types.DomainSensing, types.EntityDevice))
			},
			check: func(t *testing.T, c *regChain, k keys) {
				r := c.rec(k.dev.Public())
				if r.Version != 1 || r.Key != k.dev.Public() || r.Threshold != 1 || !slices.Equal(r.Controllers, []identity.PublicKey{k.dev.Public()}) ||
					r.Domain != types.DomainSensing || r.Role != types.EntityDevice || r.Created != r.Updated || r.Admitted {
					t.Fatalf("record %+v", r)
				}
			}},
		{name: "register by a gateway with the subject's proof",
			try: func(c *regChain, k keys) *types.Tx {
				op := register(k.dev.Public(), types.DomainSensing, types.EntityDevice)
				op.Controllers, op.Threshold = sortedKeys(k.owner.Public(), k.gw.Public()), 1
				op.Services = []types.Service{mqtt}
				return c.didTx(k.gw, op, k.dev)
			},
			check: func(t *testing.T, c *regChain, k keys) {
				if r := c.rec(k.dev.Public()); len(r.Controllers) != 2 || len(r.Services) != 1 {
					t.Fatalf("record %+v", r)
				}
			}},
		{name: "register without proof of possession", want: types.ErrDIDUnauthorized,
			try: func(c *regChain, k keys) *types.Tx {
				return c.didTx(k.gw, register(k.dev.Public(), types.DomainSensing, types.EntityDevice))
			}},
		{name: "register with a forged proof", want: types.ErrBadSignature,
			try: func(c *regChain, k keys) *types.Tx {
				tx := c.didTx(k.gw, register(k.dev.Public(), types.DomainSensing, types.EntityDevice), k.other)
				op, _ := types.DecodeDIDOp(tx.Payload)
				op.Approvals[0].Signer = k.dev.Public() // claims to be the device
				tx.Payload = op.Encode()
				tx.Sign(k.gw)
				if err := tx.VerifySignature(); err == nil {
					t.Fatal("forged approval verified")
				}
				return nil
			}},
		{name: "register twice", want: types.ErrDIDExists,
			setup: func(c *regChain, k keys) {
				c.must(c.didTx(k.dev, register(k.dev.Public(), types.DomainSensing, types.EntityDevice)))
			},
			try: func(c *regChain, k keys) *types.Tx {
				return c.didTx(k.dev, register(k.dev.Public(), types.DomainUser, types.EntityUser))
			}},
		{name: "threshold met by sender and approval",
			setup: func(c *regChain, k keys) {
				op := register(k.dev.Public(), types.DomainSensing, types.EntityDevice)
				op.Controllers, op.Threshold = sortedKeys(k.owner.Public(), k.gw.Public()), 2
				c.must(c.didTx(k.dev, op))
			},
			try: func(c *regChain, k keys) *types.Tx {
				return c.didTx(k.owner, types.DIDOp{Op: types.OpAddService, Subject: k.dev.Public(), Version: 1, Services: []types.Service{coap}}, k.gw)
			},
			check: func(t *testing.T, c *regChain, k keys) {
				if r := c.rec(k.dev.Public()); r.Version != 2 || len(r.Services) != 1 || r.Services[0] != coap {
					t.Fatalf("record %+v", r)
				}
			}},
		{name: "too few controllers", want: types.ErrDIDUnauthorized,
			setup: func(c *regChain, k keys) {
				op := register(k.dev.Public(), types.DomainSensing, types.EntityDevice)
				op.Controllers, op.Threshold = sortedKeys(k.owner.Public(), k.gw.Public()), 2
				c.must(c.didTx(k.dev, op))
			},
			try: func(c *regChain, k keys) *types.Tx {
				return c.didTx(k.owner, types.DIDOp{Op: types.OpAddService, Subject: k.dev.Public(), Version: 1, Services: []types.Service{coap}})
			}},
		{name: "the subject is not its controller any more", want: types.ErrDIDUnauthorized,
			setup: func(c *regChain, k keys) {
				op := register(k.dev.Public(), types.DomainSensing, types.EntityDevice)
				op.Controllers, op.Threshold = []identity.PublicKey{k.owner.Public()}, 1
				c.must(c.didTx(k.dev, op))
			},
			try: func(c *regChain, k keys) *types.Tx {
				return c.didTx(k.dev, types.DIDOp{Op: types.OpDeactivate, Subject: k.dev.Public(), Version: 1})
			}},
		{name: "a non-controller's approval does not count", want: types.ErrDIDUnauthorized,
			setup: func(c *regChain, k keys) {
				c.must(c.didTx(k.dev, register(k.dev.Public(), types.DomainSensing, types.EntityDevice)))
			},
			try: func(c *regChain, k keys) *types.Tx {
				return c.didTx(k.gw, types.DIDOp{Op: types.OpDeactivate, Subject: k.dev.Public(), Version: 1}, k.other)
			}},
		{name: "stale version", want: types.ErrDIDVersion,
			setup: func(c *regChain, k keys) {
				c.must(c.didTx(k.dev, register(k.dev.Public(), types.DomainSensing, types.EntityDevice)))
				c.must(c.didTx(k.dev, types.DIDOp{Op: types.OpAddService, Subject: k.dev.Public(), Version: 1, Services: []types.Service{mqtt}}))
			},
			try: func(c *regChain, k keys) *types.Tx {
				return c.didTx(k.dev, types.DIDOp{Op: types.OpRemoveService, Subject: k.dev.Public(), Version: 1, ServiceID: "mqtt"})
			}},
		{name: "unknown subject", want: types.ErrDIDNotFound,
			try: func(c *regChain, k keys) *types.Tx {
				return c.didTx(k.dev, types.DIDOp{Op: types.OpDeactivate, Subject: k.dev.Public(), Version: 1})
			}},
		{name: "set controllers",
			setup: func(c *regChain, k keys) {
				c.must(c.didTx(k.dev, register(k.dev.Public(), types.DomainSensing, types.EntityDevice)))
			},
			try: func(c *regChain, k keys) *types.Tx {
				return c.didTx(k.dev, types.DIDOp{Op: types.OpSetControllers, Subject: k.dev.Public(), Version: 1,
					Controllers: sortedKeys(k.owner.Public(), k.gw.Public()), Threshold: 2})
			},
			check: func(t *testing.T, c *regChain, k keys) {
				if r := c.rec(k.dev.Public()); r.Threshold != 2 || len(r.Controllers) != 2 || slices.Contains(r.Controllers, k.dev.Public()) {
					t.Fatalf("record %+v", r)
				}
			}},
		{name: "rotate key",
			setup: func(c *regChain, k keys) {
				c.must(c.didTx(k.dev, register(k.dev.Public(), types.DomainSensing, types.EntityDevice)))
			},
			try: func(c *regChain, k keys) *types.Tx {
				return c.didTx(k.dev, types.DIDOp{Op: types.OpRotateKey, Subject: k.dev.Public(), Version: 1, NewKey: k.next.Public().Bytes()}, k.next)
			},
			check: func(t *testing.T, c *regChain, k keys) {
				byOld, byNew := c.rec(k.dev.Public()), c.rec(k.next.Public())
				if !reflect.DeepEqual(byOld, byNew) || byNew.Key != k.next.Public() || byNew.ID != k.dev.Public() ||
					!slices.Equal(byNew.PrevKeys, []identity.PublicKey{k.dev.Public()}) {
					t.Fatalf("by old key %+v, by new %+v", byOld, byNew)
				}
				// The old key may not send; the new one may, and still
				// controls the DID (the DID is its own controller).
				c.refuse(types.ErrKeyRotated, c.recordTx(k.dev))
				c.must(c.recordTx(k.next))
				c.must(c.didTx(k.next, types.DIDOp{Op: types.OpAddService, Subject: k.dev.Public(), Version: 2, Services: []types.Service{mqtt}}))
			}},
		{name: "rotate without the new key's proof", want: types.ErrDIDUnauthorized,
			setup: func(c *regChain, k keys) {
				c.must(c.didTx(k.dev, register(k.dev.Public(), types.DomainSensing, types.EntityDevice)))
			},
			try: func(c *regChain, k keys) *types.Tx {
				return c.didTx(k.dev, types.DIDOp{Op: types.OpRotateKey, Subject: k.dev.Public(), Version: 1, NewKey: k.next.Public().Bytes()})
			}},
		{name: "rotate to another DID's key", want: types.ErrDIDExists,
			setup: func(c *regChain, k keys) {
				c.must(c.didTx(k.dev, register(k.dev.Public(), types.DomainSensing, types.EntityDevice)),
					c.didTx(k.next, register(k.next.Public(), types.DomainSensing, types.EntityDevice)))
			},
			try: func(c *regChain, k keys) *types.Tx {
				return c.didTx(k.dev, types.DIDOp{Op: types.OpRotateKey, Subject: k.dev.Public(), Version: 1, NewKey: k.next.Public().Bytes()}, k.next)
			}},
		{name: "remove an unknown service", want: types.ErrDIDState,
			setup: func(c *regChain, k keys) {
				c.must(c.didTx(k.dev, register(k.dev.Public(), types.DomainSensing, types.EntityDevice)))
			},
			try: func(c *regChain, k keys) *types.Tx {
				return c.didTx(k.dev, types.DIDOp{Op: types.OpRemoveService, Subject: k.dev.Public(), Version: 1, ServiceID: "mqtt"})
			}},
		{name: "deactivate, then reactivate by itself",
			setup: func(c *regChain, k keys) {
				c.must(c.didTx(k.dev, register(k.dev.Public(), types.DomainSensing, types.EntityDevice)))
				c.must(c.didTx(k.dev, types.DIDOp{Op: types.OpDeactivate, Subject: k.dev.Public(), Version: 1}))
				c.refuse(types.ErrSenderRevoked, c.recordTx(k.dev))
				c.refuse(types.ErrSenderRevoked, c.didTx(k.dev, types.DIDOp{Op: types.OpAddService, Subject: k.dev.Public(), Version: 2, Services: []types.Service{mqtt}}))
				c.refuse(types.ErrDIDState, c.didTx(k.gw, types.DIDOp{Op: types.OpAddService, Subject: k.dev.Public(), Version: 2, Services: []types.Service{mqtt}}, k.dev))
			},
			try: func(c *regChain, k keys) *types.Tx {
				return c.didTx(k.dev, types.DIDOp{Op: types.OpReactivate, Subject: k.dev.Public(), Version: 2})
			},
			check: func(t *testing.T, c *regChain, k keys) {
				c.must(c.recordTx(k.dev))
			}},
		{name: "reactivate an active DID", want: types.ErrDIDState,
			setup: func(c *regChain, k keys) {
				c.must(c.didTx(k.dev, register(k.dev.Public(), types.DomainSensing, types.EntityDevice)))
			},
			try: func(c *regChain, k keys) *types.Tx {
				return c.didTx(k.dev, types.DIDOp{Op: types.OpReactivate, Subject: k.dev.Public(), Version: 1})
			}},
		{name: "a registered controller signs with its current key",
			setup: func(c *regChain, k keys) {
				c.must(c.didTx(k.owner, register(k.owner.Public(), types.DomainUser, types.EntityUser)))
				op := register(k.dev.Public(), types.DomainSensing, types.EntityDevice)
				op.Controllers, op.Threshold = []identity.PublicKey{k.owner.Public()}, 1
				c.must(c.didTx(k.dev, op))
				c.must(c.didTx(k.owner, types.DIDOp{Op: types.OpRotateKey, Subject: k.owner.Public(), Version: 1, NewKey: k.next.Public().Bytes()}, k.next))
				// The owner's old key no longer controls the device.
				c.refuse(types.ErrKeyRotated, c.didTx(k.owner, types.DIDOp{Op: types.OpDeactivate, Subject: k.dev.Public(), Version: 1}))
				c.refuse(types.ErrDIDUnauthorized, c.didTx(k.gw, types.DIDOp{Op: types.OpDeactivate, Subject: k.dev.Public(), Version: 1}, k.owner))
			},
			try: func(c *regChain, k keys) *types.Tx {
				return c.didTx(k.next, types.DIDOp{Op: types.OpDeactivate, Subject: k.dev.Public(), Version: 1})
			}},
		{name: "set profile",
			setup: func(c *regChain, k keys) {
				c.must(c.didTx(k.dev, register(k.dev.Public(), types.DomainSensing, types.EntityDevice)))
			},
			try: func(c *regChain, k keys) *types.Tx {
				return c.didTx(k.dev, types.DIDOp{Op: types.OpSetProfile, Subject: k.dev.Public(), Version: 1, Domain: types.DomainPhysicalEntities, Role: types.EntityBridge})
			},
			check: func(t *testing.T, c *regChain, k keys) {
				if r := c.rec(k.dev.Public()); r.Domain != types.DomainPhysicalEntities || r.Role != types.EntityBridge {
					t.Fatalf("record %+v", r)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newRegChain(t, false)
			k := keys{newKey(t), newKey(t), newKey(t), newKey(t), newKey(t)}
			if tc.setup != nil {
				tc.setup(c, k)
			}
			tx := tc.try(c, k)
			if tx == nil { // the case checked a signature itself
				return
			}
			if tc.want != nil {
				c.refuse(tc.want, tx)
				return
			}
			c.must(tx)
			if tc.check != nil {
				tc.check(t, c, k)
			}
		})
	}
}

func TestAdmission(t *testing.T) {
	c := newRegChain(t, true)
	auth := c.f.auth
	gw, dev, app, other := newKey(t), newKey(t), newKey(t), newKey(t)

	// Nobody but the authority may send, not even to register.
	c.refuse(types.ErrSenderNotAdmitted, c.recordTx(dev))
	c.refuse(types.ErrSenderNotAdmitted, c.didTx(gw, register(gw.Public(), types.DomainResourceAccess, types.EntityGateway)))

	// The authority registers and admits the gateway with the right to
	// onboard sensing devices.
	c.must(c.didTx(auth, register(gw.Public(), types.DomainResourceAccess, types.EntityGateway), gw))
	c.refuse(types.ErrSenderNotAdmitted, c.recordTx(gw))
	c.must(c.didTx(auth, types.DIDOp{Op: types.OpAdmit, Subject: gw.Public(), Version: 1, Onboard: []types.Domain{types.DomainSensing}}))
	if r := c.rec(gw.Public()); !r.Admitted || r.AdmittedBy != auth.Public() || !slices.Equal(r.Onboard, []types.Domain{types.DomainSensing}) {
		t.Fatalf("gateway record %+v", r)
	}

	// The gateway onboards a device: register and admit in one block.
	c.must(c.didTx(gw, register(dev.Public(), types.DomainSensing, types.EntityDevice), dev),
		func() *types.Tx {
			n, _ := c.s.Nonce(gw.Public())
			op := types.DIDOp{Op: types.OpAdmit, Subject: dev.Public(), Version: 1}
			tx, err := types.NewDIDTx(c.f.p.ChainID, n+2, c.now(), &op)
			if err != nil {
				t.Fatal(err)
			}
			tx.Sign(gw)
			return tx
		}())
	c.must(c.recordTx(dev))
	if r := c.rec(dev.Public()); !r.Admitted || r.AdmittedBy != gw.Public() || len(r.Onboard) != 0 {
		t.Fatalf("device record %+v", r)
	}

	// The gateway may not admit outside its domains, nor grant rights.
	c.must(c.didTx(gw, register(app.Public(), types.DomainApplication, types.EntityApplication), app))
	c.refuse(types.ErrDIDUnauthorized, c.didTx(gw, types.DIDOp{Op: types.OpAdmit, Subject: app.Public(), Version: 1}))
	c.must(c.didTx(gw, register(other.Public(), types.DomainSensing, types.EntityDevice), other))
	c.refuse(types.ErrDIDUnauthorized, c.didTx(gw, types.DIDOp{Op: types.OpAdmit, Subject: other.Public(), Version: 1, Onboard: []types.Domain{types.DomainSensing}}))
	// An admitted device without rights may not admit either.
	c.refuse(types.ErrDIDUnauthorized, c.didTx(dev, types.DIDOp{Op: types.OpAdmit, Subject: other.Public(), Version: 1}))

	// Only the admitter or an authority revokes.
	c.must(c.didTx(gw, types.DIDOp{Op: types.OpAdmit, Subject: other.Public(), Version: 1}))
	c.refuse(types.ErrDIDUnauthorized, c.didTx(other, types.DIDOp{Op: types.OpRevoke, Subject: dev.Public(), Version: 2}))
	c.must(c.didTx(gw, types.DIDOp{Op: types.OpRevoke, Subject: dev.Public(), Version: 2}))
	c.refuse(types.ErrSenderRevoked, c.recordTx(dev))
	c.refuse(types.ErrDIDState, c.didTx(auth, types.DIDOp{Op: types.OpRevoke, Subject: dev.Public(), Version: 3}))

	// Revocation within a block: the device's later transaction in the
	// same block is refused.
	c.must(c.recordTx(other))
	revoke := c.didTx(auth, types.DIDOp{Op: types.OpRevoke, Subject: other.Public(), Version: 2})
	c.refuse(types.ErrSenderRevoked, revoke, c.recordTx(other))

	// An authority readmits; a domain change drops the admission.
	c.must(c.didTx(auth, types.DIDOp{Op: types.OpAdmit, Subject: dev.Public(), Version: 3}))
	c.must(c.recordTx(dev))
	c.must(c.didTx(dev, types.DIDOp{Op: types.OpSetProfile, Subject: dev.Public(), Version: 4, Domain: types.DomainPhysicalEntities, Role: types.EntityDevice}))
	c.refuse(types.ErrSenderNotAdmitted, c.recordTx(dev))

	barred, err := c.s.BarredKeys(context.Background())
	if err != nil || len(barred) != 0 {
		t.Fatalf("barred %v, %v", barred, err)
	}
	c.must(c.didTx(auth, types.DIDOp{Op: types.OpRevoke, Subject: gw.Public(), Version: 2}))
	if barred, _ := c.s.BarredKeys(context.Background()); !slices.Equal(barred, []identity.PublicKey{gw.Public()}) {
		t.Fatalf("barred %v, want the gateway", barred)
	}
}

// TestResolutionAtPastTimes rotates a key twice and changes endpoints, then
// resolves the DID as of each block's time.
func TestResolutionAtPastTimes(t *testing.T) {
	c := newRegChain(t, false)
	k0, k1, k2 := newKey(t), newKey(t), newKey(t)
	ctx := context.Background()
	svc := func(id, ep string) []types.Service {
		return []types.Service{{ID: id, Type: "LibP2P", Endpoint: ep}}
	}
	type version struct {
		at      int64
		key     identity.PublicKey
		version uint64
		svcs    int
	}
	var want []version
	step := func(tx *types.Tx, key identity.PublicKey, v uint64, svcs int) {
		c.must(tx)
		want = append(want, version{c.s.State().LastBlockTime, key, v, svcs})
	}
	before := c.s.State().LastBlockTime
	step(c.didTx(k0, register(k0.Public(), types.DomainSensing, types.EntityDevice)), k0.Public(), 1, 0)
	step(c.didTx(k0, types.DIDOp{Op: types.OpAddService, Subject: k0.Public(), Version: 1, Services: svc("p2p", "/ip4/192.0.2.1/tcp/4001")}), k0.Public(), 2, 1)
	step(c.didTx(k0, types.DIDOp{Op: types.OpRotateKey, Subject: k0.Public(), Version: 2, NewKey: k1.Public().Bytes()}, k1), k1.Public(), 3, 1)
	step(c.didTx(k1, types.DIDOp{Op: types.OpAddService, Subject: k0.Public(), Version: 3, Services: svc("coap", "coap://192.0.2.1")}), k1.Public(), 4, 2)
	step(c.didTx(k1, types.DIDOp{Op: types.OpRemoveService, Subject: k1.Public(), Version: 4, ServiceID: "p2p"}), k1.Public(), 5, 1)
	step(c.didTx(k1, types.DIDOp{Op: types.OpRotateKey, Subject: k1.Public(), Version: 5, NewKey: k2.Public().Bytes()}, k2), k2.Public(), 6, 1)

	if _, err := c.s.DIDAt(ctx, k2.Public(), time.UnixMilli(before)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("before registration: %v", err)
	}
	for i, w := range want {
		for _, at := range []int64{w.at, w.at + 500} { // at the block, and between blocks
			for _, by := range []identity.PublicKey{k0.Public(), k1.Public(), k2.Public()} {
				r, err := c.s.DIDAt(ctx, by, time.UnixMilli(at))
				if err != nil {
					t.Fatal(err)
				}
				if r.Version != w.version || r.Key != w.key || len(r.Services) != w.svcs || r.ID != k0.Public() {
					t.Fatalf("version %d at %d by %s: got version %d key %s, %d services", i+1, at, by.DID(), r.Version, r.Key.DID(), len(r.Services))
				}
			}
		}
	}
	hist, err := c.s.DIDHistory(ctx, k2.Public())
	if err != nil || len(hist) != len(want) {
		t.Fatalf("history of %d versions, %v", len(hist), err)
	}
	barred, _ := c.s.BarredKeys(ctx)
	if !slices.Equal(barred, []identity.PublicKey{k0.Public(), k1.Public()}) {
		t.Fatalf("barred %v, want the two rotated-out keys", barred)
	}
}

func TestDIDOpValidate(t *testing.T) {
	k := newKey(t).Public()
	cases := []struct {
		name string
		op   types.DIDOp
	}{
		{"unknown op", types.DIDOp{Op: 99, Subject: k}},
		{"no subject", types.DIDOp{Op: types.OpDeactivate}},
		{"register without domain", types.DIDOp{Op: types.OpRegister, Subject: k, Role: types.EntityDevice}},
		{"register with domain 7", types.DIDOp{Op: types.OpRegister, Subject: k, Domain: 7, Role: types.EntityDevice}},
		{"register with version", types.DIDOp{Op: types.OpRegister, Subject: k, Version: 1, Domain: 1, Role: 1}},
		{"threshold above controllers", types.DIDOp{Op: types.OpRegister, Subject: k, Domain: 1, Role: 1, Controllers: []identity.PublicKey{k}, Threshold: 2}},
		{"threshold without controllers", types.DIDOp{Op: types.OpRegister, Subject: k, Domain: 1, Role: 1, Threshold: 1}},
		{"unsorted controllers", types.DIDOp{Op: types.OpSetControllers, Subject: k, Controllers: []identity.PublicKey{{2}, {1}}, Threshold: 1}},
		{"rotate with a short key", types.DIDOp{Op: types.OpRotateKey, Subject: k, NewKey: []byte{1, 2}}},
		{"rotate to itself", types.DIDOp{Op: types.OpRotateKey, Subject: k, NewKey: k.Bytes()}},
		{"two services added", types.DIDOp{Op: types.OpAddService, Subject: k, Services: []types.Service{{ID: "a", Type: "t", Endpoint: "e"}, {ID: "b", Type: "t", Endpoint: "e"}}}},
		{"service id with a space", types.DIDOp{Op: types.OpAddService, Subject: k, Services: []types.Service{{ID: "a b", Type: "t", Endpoint: "e"}}}},
		{"endpoint too long", types.DIDOp{Op: types.OpAddService, Subject: k, Services: []types.Service{{ID: "a", Type: "t", Endpoint: string(make([]byte, 300))}}}},
		{"unused field", types.DIDOp{Op: types.OpDeactivate, Subject: k, ServiceID: "x"}},
		{"unsorted onboard", types.DIDOp{Op: types.OpAdmit, Subject: k, Onboard: []types.Domain{5, 1}}},
		{"short approval", types.DIDOp{Op: types.OpDeactivate, Subject: k, Approvals: []types.Approval{{Signer: k, Signature: []byte{1}}}}},
		{"approval twice", types.DIDOp{Op: types.OpDeactivate, Subject: k, Approvals: []types.Approval{{Signer: k, Signature: make([]byte, 64)}, {Signer: k, Signature: make([]byte, 64)}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.op.Validate()
			if !errors.Is(err, types.ErrBadDIDOp) {
				t.Fatalf("Validate = %v, want ErrBadDIDOp", err)
			}
			if _, err := types.DecodeDIDOp(tc.op.Encode()); !errors.Is(err, types.ErrBadDIDOp) {
				t.Fatalf("DecodeDIDOp = %v", err)
			}
		})
	}
}
