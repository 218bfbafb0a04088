package node

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger"
	"github.com/sixdomain/sixdomain/ledger/types"
	sixps "github.com/sixdomain/sixdomain/pubsub"
)

// didGater refuses connections from peers whose DID the finalized registry
// bars: revoked or deactivated DIDs, and keys rotated out of a DID (a
// peer's ID is its did:key); and, for a while, from peers whose gossip
// score fell below the graylist threshold (banned). It is the libp2p
// connection gater of hosts the node builds; on any host, the node also
// closes barred peers' connections when a block bars them, when they are
// banned and when they connect.
type didGater struct {
	mu     sync.RWMutex
	barred map[peer.ID]struct{}
	banned map[peer.ID]time.Time // until when
	now    func() time.Time
}

var _ connmgr.ConnectionGater = (*didGater)(nil)

func newDIDGater(now func() time.Time) *didGater {
	return &didGater{barred: map[peer.ID]struct{}{}, banned: map[peer.ID]time.Time{}, now: now}
}

// Barred reports whether p may not connect.
func (g *didGater) Barred(p peer.ID) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if _, ok := g.barred[p]; ok {
		return true
	}
	until, ok := g.banned[p]
	return ok && g.now().Before(until)
}

// maxBanned bounds the ban list; expired bans are dropped first.
const maxBanned = 4096

// ban refuses p until the given time; it reports whether p was not banned
// already.
func (g *didGater) ban(p peer.ID, until time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	old, was := g.banned[p]
	if len(g.banned) >= maxBanned {
		for q, u := range g.banned {
			if !now.Before(u) {
				delete(g.banned, q)
			}
		}
		if len(g.banned) >= maxBanned {
			return false // a flood of identities: the gossip graylist still ignores them
		}
	}
	g.banned[p] = until
	return !was || !now.Before(old)
}

func (g *didGater) set(k identity.PublicKey, barred bool) (changed bool) {
	id := k.PeerID()
	g.mu.Lock()
	defer g.mu.Unlock()
	_, was := g.barred[id]
	if barred {
		g.barred[id] = struct{}{}
	} else {
		delete(g.barred, id)
	}
	return was != barred
}

func (g *didGater) InterceptPeerDial(p peer.ID) bool                 { return !g.Barred(p) }
func (g *didGater) InterceptAddrDial(p peer.ID, _ ma.Multiaddr) bool { return !g.Barred(p) }
func (g *didGater) InterceptAccept(network.ConnMultiaddrs) bool      { return true }
func (g *didGater) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return !g.Barred(p)
}
func (g *didGater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }

// loadBarred fills the gater from the store at start.
func (n *Node) loadBarred(ctx context.Context) error {
	keys, err := n.store.BarredKeys(ctx)
	if err != nil {
		return err
	}
	for _, k := range keys {
		n.gater.set(k, true)
	}
	return nil
}

// updateBarred applies the registry changes of a finalized block to the
// gater and disconnects every peer the block bars.
func (n *Node) updateBarred(b *types.Block) {
	for _, tx := range b.Txs {
		if tx.Type != types.TxDID {
			continue
		}
		op, err := types.DecodeDIDOp(tx.Payload)
		if err != nil {
			continue // cannot happen in a valid block
		}
		rec, err := n.store.DID(op.Subject)
		if err != nil || rec == nil {
			n.log.Warn("reading a changed DID", "did", op.Subject.DID(), "err", err)
			continue
		}
		if rec.Active() { // reactivated or readmitted
			n.gater.set(rec.Key, false)
		}
		for _, k := range ledger.BarredKeysOf(rec) {
			if n.gater.set(k, true) {
				n.metrics.barred.Inc()
			}
			if p := k.PeerID(); n.host.Network().Connectedness(p) == network.Connected {
				n.log.Info("disconnecting a barred peer", "peer", p, "did", rec.DID(), "revoked", rec.Revoked,
					"deactivated", rec.Deactivated, "rotated", k != rec.Key)
				// Best effort: the gater refuses it from now on anyway.
				_ = n.host.Network().ClosePeer(p)
			}
		}
	}
}

// barredNotifee closes connections that barred peers open to a host the
// node did not build (and so could not gate).
type barredNotifee struct{ n *Node }

func (b barredNotifee) Listen(network.Network, ma.Multiaddr)       {}
func (b barredNotifee) ListenClose(network.Network, ma.Multiaddr)  {}
func (b barredNotifee) Disconnected(network.Network, network.Conn) {}
func (b barredNotifee) Connected(_ network.Network, c network.Conn) {
	if b.n.gater.Barred(c.RemotePeer()) {
		go c.Close()
	}
}

// checkSender is the gossip and API check of a sender against the
// finalized registry (ledger.CheckSender).
func (n *Node) checkSender(tx *types.Tx) error {
	rec, err := n.senderDID(tx.Sender)
	if err != nil {
		return fmt.Errorf("%w: reading the sender's DID: %w", sixps.ErrNotAdmitted, err)
	}
	return ledger.CheckSender(tx, rec, n.isAuthority, n.genesis.Admitted())
}

// graylistBan is how long a peer whose gossip score fell below the graylist
// threshold is disconnected and refused: as long as the router retains
// the score of a peer that left (pubsub's RetainScore).
const graylistBan = 10 * time.Minute

// cutOffGraylisted disconnects the connected peers whose gossip score is
// below the graylist threshold and refuses them for graylistBan. The router
// already ignores what they send; without this, the score of a peer that
// keeps sending garbage decays back above the threshold within a minute
// and its next burst is processed again. An honest peer does not get
// there: it takes several invalid messages (see pubsub.ScoreParams).
func (n *Node) cutOffGraylisted(scores map[peer.ID]float64) {
	for p, s := range scores {
		if s >= n.graylist || p == n.host.ID() {
			continue
		}
		fresh := n.gater.ban(p, n.cfg.Clock().Add(graylistBan))
		if n.host.Network().Connectedness(p) != network.Connected {
			continue
		}
		if fresh {
			n.metrics.graylisted.Inc()
			n.log.Warn("disconnecting a graylisted peer", "peer", p, "score", s, "for", graylistBan)
		}
		_ = n.host.Network().ClosePeer(p)
	}
}
