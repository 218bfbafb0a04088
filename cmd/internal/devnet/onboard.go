package devnet

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/node"
)

// signer signs a node's own transactions with consecutive nonces.
type signer struct {
	n     *node.Node
	key   *identity.PrivateKey
	nonce uint64
}

func newSigner(n *node.Node, key *identity.PrivateKey) (*signer, error) {
	last, err := n.Store().Nonce(key.Public())
	if err != nil {
		return nil, err
	}
	return &signer{n: n, key: key, nonce: last}, nil
}

// submit signs op (approved by approvers) and submits it to the node.
func (s *signer) submit(ctx context.Context, op types.DIDOp, approvers ...*identity.PrivateKey) error {
	chainID := s.n.Genesis().ChainID
	for _, a := range approvers {
		op.Approve(chainID, a)
	}
	tx, err := types.NewDIDTx(chainID, s.nonce+1, time.Now().UnixMilli(), &op)
	if err != nil {
		return err
	}
	tx.Sign(s.key)
	if accepted, err := s.n.Submit(ctx, tx.Encode()); accepted == nil {
		return fmt.Errorf("%s of %s: %w", op.Op, op.Subject.DID(), err)
	}
	s.nonce++
	return nil
}

// onboard runs the onboarding flow of an admitted chain before the load:
// the first authority registers the first device node as a gateway and
// admits it with the right to onboard sensing devices; the gateway then
// registers (with each device's proof of possession) and admits every
// device and sensor key. It waits until every admission is final on the
// gateway.
func onboard(ctx context.Context, c *node.Cluster, o Options, sensors [][]*identity.PrivateKey, out io.Writer) error {
	start := time.Now()
	authority, gwIdx := c.Nodes[0], o.Authorities
	gw, gwKey := c.Nodes[gwIdx], c.Keys[gwIdx]
	as, err := newSigner(authority, c.Keys[0])
	if err != nil {
		return err
	}
	if err := as.submit(ctx, types.DIDOp{Op: types.OpRegister, Subject: gwKey.Public(), Domain: types.DomainResourceAccess,
		Role: types.EntityGateway}, gwKey); err != nil {
		return err
	}
	if err := as.submit(ctx, types.DIDOp{Op: types.OpAdmit, Subject: gwKey.Public(), Version: 1,
		Onboard: []types.Domain{types.DomainSensing}}); err != nil {
		return err
	}
	if err := waitAdmitted(ctx, gw, []identity.PublicKey{gwKey.Public()}, 30*time.Second); err != nil {
		return err
	}
	fmt.Fprintf(out, "onboarding: authority %s admitted gateway %s (node %d), which may admit sensing devices, after %d ms\n",
		shortDID(c.Keys[0].Public()), shortDID(gwKey.Public()), gwIdx, time.Since(start).Milliseconds())

	gs, err := newSigner(gw, gwKey)
	if err != nil {
		return err
	}
	var devices []identity.PublicKey
	for _, keys := range sensors {
		for _, k := range keys {
			if k.Public() == gwKey.Public() {
				// The gateway's own node key also publishes readings; it is
				// admitted already.
				continue
			}
			if err := gs.submit(ctx, types.DIDOp{Op: types.OpRegister, Subject: k.Public(), Domain: types.DomainSensing,
				Role: types.EntityDevice}, k); err != nil {
				return err
			}
			if err := gs.submit(ctx, types.DIDOp{Op: types.OpAdmit, Subject: k.Public(), Version: 1}); err != nil {
				return err
			}
			devices = append(devices, k.Public())
		}
	}
	if err := waitAdmitted(ctx, gw, devices, 60*time.Second); err != nil {
		return err
	}
	fmt.Fprintf(out, "onboarding: gateway %s registered and admitted %d device keys; all final after %d ms\n",
		shortDID(gwKey.Public()), len(devices), time.Since(start).Milliseconds())
	return nil
}

// waitAdmitted polls n's finalized registry until every key is admitted.
func waitAdmitted(ctx context.Context, n *node.Node, keys []identity.PublicKey, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, k := range keys {
		for {
			rec, err := n.Store().DID(k)
			if err != nil {
				return err
			}
			if rec != nil && rec.Admitted {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("onboarding: %s not admitted after %s", k.DID(), timeout)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return nil
}
