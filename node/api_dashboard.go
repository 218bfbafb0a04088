package node

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/sixdomain/sixdomain/consensus"
	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// Routes of the dashboard's JSON API: GET /v1/peers, GET /v1/authorities
// and POST /v1/proofs/verify (docs/API.md).

// maxProofBody bounds the body of POST /v1/proofs/verify: a proof holds
// one transaction (at most types.MaxTxBytes), one header and a Merkle path,
// all hex encoded.
const maxProofBody = 2 << 20

// maxPeersListed bounds the peers GET /v1/peers lists, and maxPeerAddrs the
// addresses and protocols it shows of each.
const (
	maxPeersListed = 512
	maxPeerAddrs   = 16
	maxPeerProtos  = 64
)

// UserAgent is the libp2p identify agent string of a node of role r:
// "sixd/<version> (<role>)". Peers read the role from it (GET /v1/peers).
func UserAgent(r Role) string { return "sixd/" + Version + " (" + string(r) + ")" }

var agentRole = regexp.MustCompile(`^sixd/\S+ \((device|gateway|bootstrap)\)$`)

// RoleFromAgent returns the role a sixd agent string names, "unknown" for
// any other agent.
func RoleFromAgent(agent string) string {
	if m := agentRole.FindStringSubmatch(agent); m != nil {
		return m[1]
	}
	return "unknown"
}

// PeerJSON is one entry of GET /v1/peers.
type PeerJSON struct {
	PeerID    string   `json:"peer_id"`
	Addrs     []string `json:"addrs"`
	Direction string   `json:"direction"` // "inbound", "outbound" or "unknown" (of the first connection)
	Protocols []string `json:"protocols"`
	LatencyMs float64  `json:"latency_ms"` // the peerstore's moving average; 0 if not measured yet
	Score     float64  `json:"score"`      // the GossipSub score this node gives the peer
	Agent     string   `json:"agent"`
	// Role is "authority" if the peer's key is in the head's authority
	// set, else the role its agent string names, else "unknown".
	Role string `json:"role"`
}

// PeersResponse answers GET /v1/peers.
type PeersResponse struct {
	Peers []PeerJSON `json:"peers"`
}

// Peers returns what GET /v1/peers reports: the connected peers, sorted by
// peer ID.
func (n *Node) Peers() PeersResponse {
	ids := n.host.Network().Peers()
	slices.SortFunc(ids, func(a, b peer.ID) int { return strings.Compare(a.String(), b.String()) })
	if len(ids) > maxPeersListed {
		ids = ids[:maxPeersListed]
	}
	auths := n.chain.Authorities()
	ps := n.host.Peerstore()
	out := PeersResponse{Peers: make([]PeerJSON, 0, len(ids))}
	for _, id := range ids {
		p := PeerJSON{PeerID: id.String(), Addrs: []string{}, Protocols: []string{}, Direction: "unknown",
			Score: n.PeerScore(id), Role: "unknown"}
		conns := n.host.Network().ConnsToPeer(id)
		for _, c := range conns {
			if len(p.Addrs) < maxPeerAddrs {
				p.Addrs = append(p.Addrs, c.RemoteMultiaddr().String())
			}
		}
		if len(conns) > 0 {
			switch conns[0].Stat().Direction {
			case network.DirInbound:
				p.Direction = "inbound"
			case network.DirOutbound:
				p.Direction = "outbound"
			}
		}
		if protos, err := ps.GetProtocols(id); err == nil {
			for _, pr := range protos {
				p.Protocols = append(p.Protocols, string(pr))
			}
			slices.Sort(p.Protocols)
			if len(p.Protocols) > maxPeerProtos {
				p.Protocols = p.Protocols[:maxPeerProtos]
			}
		}
		p.LatencyMs = float64(ps.LatencyEWMA(id).Microseconds()) / 1000
		if v, err := ps.Get(id, "AgentVersion"); err == nil {
			if s, ok := v.(string); ok {
				p.Agent = s
				p.Role = RoleFromAgent(s)
			}
		}
		if k, err := identity.PublicKeyFromPeerID(id); err == nil && slices.Contains(auths, k) {
			p.Role = "authority"
		}
		out.Peers = append(out.Peers, p)
	}
	return out
}

func (n *Node) handlePeers(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, n.Peers())
}

// AuthorityVoteJSON is a pending EIP-225 vote of GET /v1/authorities.
type AuthorityVoteJSON struct {
	Signer string `json:"signer"`
	Target string `json:"target"`
	Add    bool   `json:"add"`
}

// AuthorityTallyJSON counts the pending votes on one target.
type AuthorityTallyJSON struct {
	Target string `json:"target"`
	Add    bool   `json:"add"`
	Votes  int    `json:"votes"`
}

// AuthoritiesResponse answers GET /v1/authorities: the authority snapshot
// after the head block.
type AuthoritiesResponse struct {
	Height      uint64               `json:"height"`
	Authorities []string             `json:"authorities"`
	Votes       []AuthorityVoteJSON  `json:"votes"`
	Tally       []AuthorityTallyJSON `json:"tally"`
	SignerLimit int                  `json:"signer_limit"`
}

// Authorities returns what GET /v1/authorities reports.
func (n *Node) Authorities() (AuthoritiesResponse, error) {
	snap, err := n.chain.HeadSnapshot()
	if err != nil {
		return AuthoritiesResponse{}, fmt.Errorf("authority snapshot of the head: %w", err)
	}
	r := AuthoritiesResponse{Height: snap.Height, Authorities: make([]string, 0, len(snap.Signers)),
		Votes: make([]AuthorityVoteJSON, 0, len(snap.Votes)), Tally: make([]AuthorityTallyJSON, 0, len(snap.Tally)),
		SignerLimit: snap.SignerLimit()}
	for _, s := range snap.Signers {
		r.Authorities = append(r.Authorities, s.DID())
	}
	for _, v := range snap.Votes {
		r.Votes = append(r.Votes, AuthorityVoteJSON{Signer: v.Signer.DID(), Target: v.Target.DID(), Add: v.Add})
	}
	targets := make([]identity.PublicKey, 0, len(snap.Tally))
	for t := range snap.Tally {
		targets = append(targets, t)
	}
	slices.SortFunc(targets, func(a, b identity.PublicKey) int { return bytes.Compare(a[:], b[:]) })
	for _, t := range targets {
		tl := snap.Tally[t]
		r.Tally = append(r.Tally, AuthorityTallyJSON{Target: t.DID(), Add: tl.Add, Votes: tl.Votes})
	}
	return r, nil
}

func (n *Node) handleAuthorities(w http.ResponseWriter, _ *http.Request) {
	a, err := n.Authorities()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err, "")
		return
	}
	writeJSON(w, http.StatusOK, a)
}

// ProofVerifyResponse answers POST /v1/proofs/verify. Reason is set only
// when Valid is false; the other fields only when it is true.
type ProofVerifyResponse struct {
	Valid     bool        `json:"valid"`
	Final     bool        `json:"final,omitempty"` // the proof showed the block final, not only sealed
	Reason    string      `json:"reason,omitempty"`
	Height    uint64      `json:"height,omitempty"`
	TxHash    *types.Hash `json:"tx_hash,omitempty"`
	BlockHash *types.Hash `json:"block_hash,omitempty"`
	Signer    string      `json:"signer,omitempty"`
}

// DecodeProofJSON strictly decodes a proof as GET /v1/proofs/{hash} writes
// it: one JSON document, no unknown fields, with a transaction, a header
// and a seal.
func DecodeProofJSON(data []byte) (*types.TxProof, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p types.TxProof
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("not a proof JSON document: %w", err)
	}
	if dec.More() {
		return nil, errors.New("data after the proof document")
	}
	if len(p.Tx) == 0 || len(p.Header) == 0 || len(p.Seal) == 0 {
		return nil, errors.New("not a proof: tx, header and seal are required")
	}
	return &p, nil
}

// VerifyProof checks a proof against this node's genesis and its
// authorities, as `sixd proof verify` does with the genesis file.
//
// A proof with a finality proof is checked for finality from the genesis
// (consensus.VerifyFinalTxProof) and answers final: true; one without is
// checked as before (seal by a genesis authority) and answers final:
// false.
func (n *Node) VerifyProof(p *types.TxProof) ProofVerifyResponse {
	if p.Finality != nil {
		h, tx, _, err := consensus.VerifyFinalTxProof(consensus.GenesisTrust(n.genesis), p)
		if err != nil {
			return ProofVerifyResponse{Reason: err.Error()}
		}
		th, bh := tx.Hash(), h.Hash()
		return ProofVerifyResponse{Valid: true, Final: true, Height: h.Height, TxHash: &th, BlockHash: &bh, Signer: h.Proposer.DID()}
	}
	h, tx, err := consensus.VerifyProof(n.genesis, nil, p)
	if err != nil {
		return ProofVerifyResponse{Reason: err.Error()}
	}
	th, bh := tx.Hash(), h.Hash()
	return ProofVerifyResponse{Valid: true, Height: h.Height, TxHash: &th, BlockHash: &bh, Signer: h.Proposer.DID()}
}

func (n *Node) handleProofVerify(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxProofBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("request body exceeds %d bytes", maxProofBody), "oversize")
			return
		}
		writeError(w, http.StatusBadRequest, err, "bad_request")
		return
	}
	p, err := DecodeProofJSON(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err, "bad_proof")
		return
	}
	writeJSON(w, http.StatusOK, n.VerifyProof(p))
}
