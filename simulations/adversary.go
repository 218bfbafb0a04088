package simulations

import (
	"context"
	"fmt"
	"sync"

	lp2pps "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
	sixps "github.com/sixdomain/sixdomain/pubsub"
)

// adversary is a misbehaving peer: not a node, but a libp2p host running
// GossipSub with sixdomain's router options on the chain's topics.
//
//   - A spammer subscribes to the transaction topic and publishes
//     well-formed transactions whose signatures do not verify.
//   - A silent peer subscribes to every topic (so honest peers graft it
//     into their meshes) and ignores every message in its validators, so
//     it never forwards, never serves gossip, and delivers nothing.
type adversary struct {
	role    string
	ps      *lp2pps.PubSub
	txTopic *lp2pps.Topic
	subs    []*lp2pps.Subscription
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	key     *identity.PrivateKey
	chainID string
	nonce   uint64
}

func startAdversary(role string, h host.Host, key *identity.PrivateKey, chainID string, scale float64) (*adversary, error) {
	ctx, cancel := context.WithCancel(context.Background())
	a := &adversary{role: role, cancel: cancel, key: key, chainID: chainID}
	var err error
	a.ps, err = lp2pps.NewGossipSub(ctx, h, sixps.Options(sixps.Config{ChainID: chainID, TimeScale: scale})...)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("%s: gossipsub: %w", role, err)
	}
	topics := []string{sixps.TxTopic(chainID)}
	if role == RoleSilent {
		topics = append(topics, sixps.BlockTopic(chainID), sixps.VoteTopic(chainID), sixps.CertTopic(chainID))
	}
	for _, name := range topics {
		if role == RoleSilent {
			ignore := func(context.Context, peer.ID, *lp2pps.Message) lp2pps.ValidationResult {
				return lp2pps.ValidationIgnore
			}
			if err := a.ps.RegisterTopicValidator(name, ignore); err != nil {
				a.close()
				return nil, err
			}
		}
		t, err := a.ps.Join(name)
		if err != nil {
			a.close()
			return nil, err
		}
		if name == sixps.TxTopic(chainID) {
			a.txTopic = t
		}
		sub, err := t.Subscribe(lp2pps.WithBufferSize(16))
		if err != nil {
			a.close()
			return nil, err
		}
		a.subs = append(a.subs, sub)
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			for {
				if _, err := sub.Next(ctx); err != nil {
					return
				}
			}
		}()
	}
	return a, nil
}

// spamTx returns the encoding of a data-record transaction whose signature
// is corrupted: well-formed, so it reaches the signature check.
func (a *adversary) spamTx(nowMillis int64) []byte {
	a.nonce++
	tx, err := types.NewDataRecordTx(a.chainID, a.nonce, nowMillis,
		types.DataRecord{Stream: "spam", ContentType: "text/plain", Value: []byte(fmt.Sprintf("junk %d", a.nonce))})
	if err != nil {
		return nil
	}
	tx.Sign(a.key)
	tx.Signature[0] ^= 0xff
	return tx.Encode()
}

func (a *adversary) publish(ctx context.Context, data []byte) error {
	return a.txTopic.Publish(ctx, data)
}

func (a *adversary) close() {
	for _, s := range a.subs {
		s.Cancel()
	}
	a.cancel()
	a.wg.Wait()
}
