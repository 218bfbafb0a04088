package byzantine

import (
	"context"
	"encoding/binary"
	"io"
	"math"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
	sixps "github.com/sixdomain/sixdomain/pubsub"
)

// syncProtocol is the honest nodes' sync protocol ID (node/sync.go).
func syncProtocol(chainID string) protocol.ID {
	return protocol.ID("/sixdomain/" + chainID + "/sync/1")
}

// badSig gossips a well-formed, current data record whose signature is
// random. Its sender alternates between the chain's authorities (which
// pass admission in admitted mode, so the signature is what fails) and
// fresh keys.
func (a *Attacker) badSig(ctx context.Context, n int) {
	g := a.cfg.Genesis
	tx, err := types.NewDataRecordTx(g.ChainID, uint64(1_000_000+n), time.Now().UnixMilli(),
		types.DataRecord{Stream: "byzantine", Value: randBytes(32)})
	if err != nil {
		return
	}
	if auths := g.AuthorityKeys(); n%2 == 0 && len(auths) > 0 {
		tx.Sender = auths[n%len(auths)]
	} else {
		copy(tx.Sender[:], randBytes(len(tx.Sender)))
	}
	tx.Signature = randBytes(64)
	a.publish(ctx, sixps.TxTopic(g.ChainID), tx.Encode(), BadSigs)
}

// replayOne gossips again a transaction seen committed (in a gossiped
// block or an API block) or gossiped earlier.
func (a *Attacker) replayOne(ctx context.Context, n int) {
	raw, k := a.obs.txAt(n)
	if k == 0 {
		return
	}
	a.publish(ctx, sixps.TxTopic(a.cfg.Genesis.ChainID), raw, Replay)
}

// malformed sends, in turn, garbage and oversized messages on every topic
// and malformed requests on the sync protocol. Messages above the routers'
// limit (pubsub.MaxMessageSize) are sent rarely: the receiving router
// drops the stream they come on, which costs the attacker its other
// messages in flight.
func (a *Attacker) malformed(ctx context.Context) error {
	g := a.cfg.Genesis
	tx, blk, vote, cert := sixps.TxTopic(g.ChainID), sixps.BlockTopic(g.ChainID), sixps.VoteTopic(g.ChainID), sixps.CertTopic(g.ChainID)
	// Serve the sync protocol while the attack runs, with malformed
	// responses: honest nodes that sync from the attacker get them.
	a.host.SetStreamHandler(syncProtocol(g.ChainID), a.serveSyncGarbage)
	defer a.host.RemoveStreamHandler(syncProtocol(g.ChainID))
	var lastBig, lastHuge time.Time
	return a.every(ctx, a.cfg.Rate, func(ctx context.Context, n int) {
		switch n % 12 {
		case 0:
			a.publish(ctx, tx, randBytes(64), Malformed)
		case 1:
			a.publish(ctx, tx, randBytes(types.MaxTxBytes+1024), Malformed) // above a transaction's bound
		case 2:
			a.publish(ctx, vote, randBytes(96), Malformed)
		case 3:
			a.publish(ctx, vote, randBytes(types.MaxVoteBytes+1), Malformed)
		case 4:
			a.publish(ctx, cert, randBytes(256), Malformed)
		case 5:
			a.publish(ctx, blk, randBytes(512), Malformed)
		case 6:
			// A CBOR array header claiming 2^62 elements: an absurd length prefix.
			a.publish(ctx, []string{tx, blk, vote, cert}[n/12%4], append([]byte{0x9b}, be64(1<<62)...), Malformed)
		case 7:
			// A valid vote's encoding cut short.
			a.publish(ctx, vote, truncatedVote(g.ChainID), Malformed)
		case 8, 9, 10:
			a.syncAbuse(ctx, n)
		case 11:
			switch now := time.Now(); {
			case now.Sub(lastHuge) >= 5*time.Second:
				lastHuge = now
				a.publish(ctx, blk, randBytes(sixps.MaxMessageSize+1), Malformed) // above the router's bound
			case now.Sub(lastBig) >= time.Second:
				lastBig = now
				a.publish(ctx, blk, randBytes(types.MaxBlockBytes+1), Malformed) // above a block's bound, within the router's
			default:
				a.publish(ctx, cert, randBytes(64<<10), Malformed)
			}
		}
	})
}

func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func truncatedVote(chainID string) []byte {
	k, err := identity.Generate(nil)
	if err != nil {
		return randBytes(8)
	}
	v := &types.FinalityVote{ChainID: chainID, Source: types.Checkpoint{Height: 1}, Target: types.Checkpoint{Height: 2}}
	v.Sign(k)
	enc := v.Encode()
	return enc[:len(enc)/2]
}

// syncAbuse opens a sync stream to a connected peer and sends it one of:
// garbage, an oversized request, a request with an absurd length prefix,
// or requests for absurd ranges.
func (a *Attacker) syncAbuse(ctx context.Context, n int) {
	peers := a.host.Network().Peers()
	if len(peers) == 0 {
		return
	}
	p := peers[n%len(peers)]
	var req []byte
	switch n / 12 % 5 {
	case 0:
		req = randBytes(24)
	case 1:
		req = randBytes(1 << 20)
	case 2:
		req = append([]byte{0x5b}, be64(math.MaxUint64)...) // a byte string of 2^64-1 bytes
	case 3:
		req, _ = cbor.Marshal([]uint64{math.MaxUint64, math.MaxUint32})
	case 4:
		req, _ = cbor.Marshal([]uint64{1, math.MaxUint32})
	}
	go func() { // bounded by the stream deadline; the run does not wait for answers
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		s, err := a.host.NewStream(network.WithNoDial(sctx, "sync abuse"), p, syncProtocol(a.cfg.Genesis.ChainID))
		if err != nil {
			return
		}
		defer s.Close()
		_ = s.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := s.Write(req); err != nil {
			_ = s.Reset()
			return
		}
		_ = s.CloseWrite()
		_, _ = io.Copy(io.Discard, io.LimitReader(s, 32<<20))
		a.count(Malformed, 1)
	}()
}

// serveSyncGarbage answers honest nodes' sync requests with malformed
// responses while malformed runs.
func (a *Attacker) serveSyncGarbage(s network.Stream) {
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.Copy(io.Discard, io.LimitReader(s, 64))
	var resp []byte
	switch a.servedB.Add(1) % 3 {
	case 0:
		resp = randBytes(256)
	case 1:
		resp = append([]byte{0x83, 0x1b}, be64(math.MaxUint64)...) // [head, ...] with an absurd array that never comes
		resp = append(resp, 0x9b)
		resp = append(resp, be64(1<<40)...)
	case 2:
		// A well-formed response whose block is garbage.
		resp, _ = cbor.Marshal([]any{uint64(math.MaxUint32), [][]byte{randBytes(128)}, []byte{}})
	}
	_, _ = s.Write(resp)
}

// fakeBlock gossips an empty block on top of the newest head the attacker
// knows, sealed by its own key, which is no authority's.
func (a *Attacker) fakeBlock(ctx context.Context, n int) {
	g := a.cfg.Genesis
	parent := a.obs.headHeader()
	h := types.Header{Version: types.BlockVersion, ChainID: g.ChainID, Height: 1, Parent: g.Hash(),
		Time: time.Now().UnixMilli(), Proposer: a.key.Public(), Difficulty: types.DiffInTurn,
		TxRoot: types.TxRoot(nil), StateRoot: types.Hash(randBytes(32))}
	if parent != nil {
		h.Height, h.Parent = parent.Height+1, parent.Hash()
		h.Time = max(h.Time, parent.Time+g.SlotMillis)
	}
	if g.Epoch > 0 && h.Height%g.Epoch == 0 {
		h.Checkpoint = []identity.PublicKey{a.key.Public()}
	}
	b := &types.Block{Header: h}
	b.Seal = a.key.Sign(b.Header.SealBytes())
	a.publish(ctx, sixps.BlockTopic(g.ChainID), b.Compact().Encode(), FakeBlocks)
}

// equivocate signs, with the authority key, pairs of finality votes that
// break Casper FFG's first slashing condition: for the link of a vote seen
// on the topic, two different targets at its target height. Each pair
// (every two seconds, a new height each time, Equivocations pairs in all)
// is evidence against the authority.
func (a *Attacker) equivocate(ctx context.Context) error {
	if a.cfg.AuthorityKey == nil {
		a.log.Warn("equivocate needs an authority key; skipped")
		return nil
	}
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	var last uint64
	for done := 0; done < a.cfg.Equivocations; {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		v := a.obs.lastVote(last)
		if v == nil {
			continue
		}
		last = v.Target.Height
		for range 2 {
			w := &types.FinalityVote{ChainID: v.ChainID, Source: v.Source,
				Target: types.Checkpoint{Height: v.Target.Height, Hash: types.Hash(randBytes(32))}}
			w.Sign(a.cfg.AuthorityKey)
			a.publish(ctx, sixps.VoteTopic(v.ChainID), w.Encode(), Equivocate)
		}
		done++
		a.log.Info("equivocated", "authority", a.cfg.AuthorityKey.Public().DID(), "source", v.Source.Height, "target", v.Target.Height)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(2 * time.Second):
		}
	}
	<-ctx.Done()
	return nil
}
