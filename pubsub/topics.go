package pubsub

import (
	"crypto/sha256"
	"time"

	lp2pps "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/sixdomain/sixdomain/ledger/types"
)

// TxTopic is the topic on which a chain's transactions are gossiped.
func TxTopic(chainID string) string { return "/sixdomain/" + chainID + "/tx/1" }

// BlockTopic is the topic on which a chain's sealed blocks are gossiped.
func BlockTopic(chainID string) string { return "/sixdomain/" + chainID + "/blocks/2" }

// VoteTopic is the topic on which a chain's finality votes are gossiped.
func VoteTopic(chainID string) string { return "/sixdomain/" + chainID + "/votes/1" }

// CertTopic is the topic on which finality certificates are gossiped.
func CertTopic(chainID string) string { return "/sixdomain/" + chainID + "/certs/1" }

// MessageID is the SHA-256 of the message data.
func MessageID(m *pb.Message) string {
	h := sha256.Sum256(m.Data)
	return string(h[:])
}

// SeenTTL is how long a router remembers a message ID and drops repeats.
// It is shorter than go-libp2p-pubsub's default (120 s) so that a node can
// gossip again, soon, a transaction of its own that peers never received
// (a dropped message leaves a nonce gap that stalls the sender's later
// transactions). Repeats that do arrive are cheap: validators ignore
// transactions already pending or committed.
const SeenTTL = 30 * time.Second

// MaxMessageSize bounds any gossiped message: the largest block plus room
// for framing.
const MaxMessageSize = types.MaxBlockBytes + 64<<10

// Config tunes the router.
type Config struct {
	// ChainID names the topics to score.
	ChainID string
	// PeerExchange turns on PX in prunes; bootstrap nodes want it.
	PeerExchange bool
	// Bootstrapper keeps no mesh of its own (D = Dlo = Dhi = Dout =
	// Dscore = 0, as Lotus's bootstrappers and the GossipSub v1.1
	// recommendations for network operators): every GRAFT is answered
	// with a PRUNE, which carries peer exchange when PeerExchange is on.
	Bootstrapper bool
	// TrustedPX, if set, names the peers whose peer exchange this node
	// accepts (its configured bootstrap nodes): they get an application
	// score of PXScore, above the AcceptPXThreshold of 10 that nobody else
	// reaches without a long record of first deliveries.
	TrustedPX func(peer.ID) bool
	// ScoreInspect, if set, receives every peer's score each
	// ScoreInspectPeriod.
	ScoreInspect       func(map[peer.ID]float64)
	ScoreInspectPeriod time.Duration
	// TimeScale stretches every duration of the router (heartbeat,
	// backoffs, TTLs, score decay and the inspect period) by this factor:
	// the wall seconds that one protocol second takes on a dilated clock
	// (package clock). 0 or 1 is real time.
	TimeScale float64
}

// scale stretches d by the configured time scale.
func (c Config) scale(d time.Duration) time.Duration {
	if !(c.TimeScale > 0) || c.TimeScale == 1 {
		return d
	}
	return time.Duration(float64(d) * c.TimeScale)
}

// GossipSubParams returns the router parameters: go-libp2p-pubsub's
// defaults, with every duration stretched by c.TimeScale.
func GossipSubParams(c Config) lp2pps.GossipSubParams {
	p := lp2pps.DefaultGossipSubParams()
	p.HeartbeatInitialDelay = c.scale(p.HeartbeatInitialDelay)
	p.HeartbeatInterval = c.scale(p.HeartbeatInterval)
	p.FanoutTTL = c.scale(p.FanoutTTL)
	p.PruneBackoff = c.scale(p.PruneBackoff)
	p.UnsubscribeBackoff = c.scale(p.UnsubscribeBackoff)
	p.ConnectionTimeout = c.scale(p.ConnectionTimeout)
	p.DirectConnectInitialDelay = c.scale(p.DirectConnectInitialDelay)
	p.GraftFloodThreshold = c.scale(p.GraftFloodThreshold)
	p.IWantFollowupTime = c.scale(p.IWantFollowupTime)
	if c.Bootstrapper {
		p.D, p.Dlo, p.Dhi, p.Dout, p.Dscore = 0, 0, 0, 0, 0
	}
	return p
}

// PXScore is the application-specific score of a trusted peer-exchange
// source (Config.TrustedPX): above the AcceptPXThreshold (10), far below
// what a few invalid messages take away.
const PXScore = 50

// Options returns the go-libp2p-pubsub options for a sixdomain node.
func Options(c Config) []lp2pps.Option {
	params, thresholds := ScoreParams(c.ChainID)
	params.DecayInterval = c.scale(params.DecayInterval)
	params.RetainScore = c.scale(params.RetainScore)
	for _, t := range params.Topics {
		t.TimeInMeshQuantum = c.scale(t.TimeInMeshQuantum)
	}
	if trusted := c.TrustedPX; trusted != nil {
		params.AppSpecificScore = func(p peer.ID) float64 {
			if trusted(p) {
				return PXScore
			}
			return 0
		}
	}
	opts := []lp2pps.Option{
		lp2pps.WithGossipSubParams(GossipSubParams(c)),
		lp2pps.WithMessageSignaturePolicy(lp2pps.StrictNoSign),
		lp2pps.WithNoAuthor(),
		lp2pps.WithMessageIdFn(MessageID),
		lp2pps.WithMaxMessageSize(MaxMessageSize),
		lp2pps.WithSeenMessagesTTL(c.scale(SeenTTL)),
		lp2pps.WithPeerExchange(c.PeerExchange),
		lp2pps.WithFloodPublish(true),
		// Larger queues than the defaults (32): transactions arrive in bursts.
		lp2pps.WithPeerOutboundQueueSize(1024),
		lp2pps.WithValidateQueueSize(4096),
		lp2pps.WithPeerScore(params, thresholds),
	}
	if c.ScoreInspect != nil {
		period := c.ScoreInspectPeriod
		if period <= 0 {
			period = time.Second
		}
		opts = append(opts, lp2pps.WithPeerScoreInspect(lp2pps.PeerScoreInspectFn(c.ScoreInspect), c.scale(period)))
	}
	return opts
}

// ScoreParams returns the peer-scoring parameters and thresholds.
func ScoreParams(chainID string) (*lp2pps.PeerScoreParams, *lp2pps.PeerScoreThresholds) {
	topic := func(invalidWeight float64) *lp2pps.TopicScoreParams {
		return &lp2pps.TopicScoreParams{
			TopicWeight: 1,
			// P1: time in mesh, up to +10 after an hour.
			TimeInMeshWeight:  0.0027,
			TimeInMeshQuantum: time.Second,
			TimeInMeshCap:     3600,
			// P2: first deliveries, up to +50.
			FirstMessageDeliveriesWeight: 0.5,
			FirstMessageDeliveriesDecay:  0.99,
			FirstMessageDeliveriesCap:    100,
			// P3 and P3b off: sporadic traffic must not look like a failure.
			MeshMessageDeliveriesWeight: 0,
			MeshMessageDeliveriesDecay:  0.5,
			MeshFailurePenaltyWeight:    0,
			MeshFailurePenaltyDecay:     0.5,
			// P4: invalid messages, squared.
			InvalidMessageDeliveriesWeight: invalidWeight,
			InvalidMessageDeliveriesDecay:  0.99,
		}
	}
	params := &lp2pps.PeerScoreParams{
		Topics: map[string]*lp2pps.TopicScoreParams{
			TxTopic(chainID):    topic(-100),
			BatchTopic(chainID): topic(-1000),
			BlockTopic(chainID): topic(-1000),
			VoteTopic(chainID):  topic(-1000),
			CertTopic(chainID):  topic(-1000),
		},
		TopicScoreCap:     100,
		AppSpecificScore:  func(peer.ID) float64 { return 0 },
		AppSpecificWeight: 1,
		// P6: many peers behind one IP. Devnets and gateways with many
		// local devices share addresses, so the threshold is generous.
		IPColocationFactorWeight:    -10,
		IPColocationFactorThreshold: 64,
		// P7: protocol misbehaviour (broken promises, GRAFT floods).
		BehaviourPenaltyWeight:    -10,
		BehaviourPenaltyThreshold: 6,
		BehaviourPenaltyDecay:     0.99,
		DecayInterval:             time.Second,
		DecayToZero:               0.01,
		RetainScore:               10 * time.Minute,
	}
	thresholds := &lp2pps.PeerScoreThresholds{
		GossipThreshold:             -500,
		PublishThreshold:            -1000,
		GraylistThreshold:           -2500,
		AcceptPXThreshold:           10,
		OpportunisticGraftThreshold: 5,
	}
	return params, thresholds
}
