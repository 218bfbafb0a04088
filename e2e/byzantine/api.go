package byzantine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// apiClient reads honest nodes' HTTP APIs (node/api.go).
type apiClient struct {
	bases []string
	http  *http.Client
}

func newAPIClient(bases []string) *apiClient {
	c := &apiClient{http: &http.Client{Timeout: 3 * time.Second}}
	for _, b := range bases {
		if b = strings.TrimRight(strings.TrimSpace(b), "/"); b != "" {
			if !strings.Contains(b, "://") {
				b = "http://" + b
			}
			c.bases = append(c.bases, b)
		}
	}
	return c
}

const maxAPIBody = 16 << 20

func (c *apiClient) get(ctx context.Context, base, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return fmt.Errorf("api %s: %w", base, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("api %s%s: %w", base, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAPIBody))
	if err != nil {
		return fmt.Errorf("api %s%s: %w", base, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("api %s%s: %s", base, path, resp.Status)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("api %s%s: %w", base, path, err)
	}
	return nil
}

// Status is the part of GET /v1/status the attacker reads.
type Status struct {
	Height    uint64     `json:"height"`
	HeadHash  types.Hash `json:"head_hash"`
	Finalized uint64     `json:"finalized"`
	TotalTxs  uint64     `json:"total_txs"`
}

type blockJSON struct {
	Raw types.HexBytes `json:"raw"`
}

type peersJSON struct {
	Peers []struct {
		PeerID string  `json:"peer_id"`
		Score  float64 `json:"score"`
	} `json:"peers"`
}

// pollAPI follows the honest nodes' head and finalized blocks: the parent
// of fake blocks, and committed transactions to replay, even after the
// nodes stopped gossiping to the attacker.
func (a *Attacker) pollAPI() {
	t := time.NewTicker(300 * time.Millisecond)
	defer t.Stop()
	var finalized uint64
	for i := 0; ; i++ {
		select {
		case <-a.ctx.Done():
			return
		case <-t.C:
		}
		base := a.api.bases[i%len(a.api.bases)]
		var st Status
		if err := a.api.get(a.ctx, base, "/v1/status", &st); err != nil {
			a.log.Debug("status", "err", err)
			continue
		}
		heights := []uint64{}
		if h := a.obs.headHeader(); h == nil || st.Height > h.Height {
			heights = append(heights, st.Height)
		}
		if st.Finalized > finalized {
			finalized = st.Finalized
			heights = append(heights, st.Finalized)
		}
		for _, h := range heights {
			if h == 0 {
				continue
			}
			var bj blockJSON
			if err := a.api.get(a.ctx, base, fmt.Sprintf("/v1/blocks/%d?raw=1", h), &bj); err != nil {
				a.log.Debug("block", "height", h, "err", err)
				continue
			}
			if b, err := types.DecodeBlock(bj.Raw); err == nil {
				a.obs.addBlock(b)
			}
		}
	}
}

// NodeView is what one honest node's API says about the attacker.
type NodeView struct {
	API       string
	Connected bool    // the attacker is among its peers
	Score     float64 // the GossipSub score it gives the attacker
	Err       error
}

// Views asks every configured API how it sees peer p.
func Views(ctx context.Context, apis []string, p peer.ID) []NodeView {
	c := newAPIClient(apis)
	out := make([]NodeView, 0, len(c.bases))
	for _, base := range c.bases {
		v := NodeView{API: base}
		var ps peersJSON
		if v.Err = c.get(ctx, base, "/v1/peers", &ps); v.Err == nil {
			for _, e := range ps.Peers {
				if e.PeerID == p.String() {
					v.Connected, v.Score = true, e.Score
				}
			}
		}
		out = append(out, v)
	}
	return out
}

// StatusOf returns one node's status.
func StatusOf(ctx context.Context, api string) (Status, error) {
	c := newAPIClient([]string{api})
	var st Status
	if len(c.bases) == 0 {
		return st, fmt.Errorf("no API address")
	}
	err := c.get(ctx, c.bases[0], "/v1/status", &st)
	return st, err
}

// CutOff is what Watch saw of one honest node.
type CutOff struct {
	API string
	// After is the time from start to the first look at which the node
	// graylisted the attacker (a score below the threshold) or, having
	// been connected to it, no longer was (0: neither happened).
	After      time.Duration
	CutOff     bool
	Graylisted bool    // seen with a score below the threshold (a node that disconnects at once may not show it)
	FirstScore float64 // at the first look
	LastScore  float64 // at the last look while connected
	Connected  bool    // at the last look
	seen       bool
}

// Watch polls the honest nodes' APIs every period until ctx ends, and
// reports for each when it cut peer p off: its score for p fell below
// threshold (GossipSub's graylist threshold: the router then ignores p's
// messages, and the node disconnects and refuses p for a while), or it
// dropped its connection to p.
func Watch(ctx context.Context, apis []string, p peer.ID, threshold float64, start time.Time, period time.Duration) []CutOff {
	c := newAPIClient(apis)
	out := make([]CutOff, len(c.bases))
	for i, b := range c.bases {
		out[i].API = b
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		for i, v := range Views(ctx, c.bases, p) {
			if v.Err != nil {
				continue
			}
			o := &out[i]
			if !o.seen {
				o.FirstScore, o.seen = v.Score, true
			}
			wasConnected := o.Connected
			o.Connected = v.Connected
			if v.Connected {
				o.LastScore = v.Score
			}
			graylisted := v.Connected && v.Score < threshold
			o.Graylisted = o.Graylisted || graylisted
			if !o.CutOff && (graylisted || wasConnected && !v.Connected) {
				o.CutOff, o.After = true, time.Since(start)
			}
		}
		select {
		case <-ctx.Done():
			return out
		case <-t.C:
		}
	}
}

// Load submits a steady honest load through an honest node's API: data
// records of one new sender, rate a second, in nonce order (a refused
// record is sent again with the same nonce), until ctx ends. It returns
// how many the API took. It stands in for the chain's devices when
// measuring the committed rate of a process testnet.
func Load(ctx context.Context, api, chainID string, rate float64, log *slog.Logger) (int, error) {
	c := newAPIClient([]string{api})
	if len(c.bases) == 0 || rate <= 0 {
		return 0, errors.New("load: an API address and a positive rate are needed")
	}
	k, err := identity.Generate(nil)
	if err != nil {
		return 0, fmt.Errorf("load: %w", err)
	}
	t := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer t.Stop()
	nonce, taken := uint64(1), 0
	for {
		select {
		case <-ctx.Done():
			return taken, nil
		case <-t.C:
		}
		tx, err := types.NewDataRecordTx(chainID, nonce, time.Now().UnixMilli(),
			types.DataRecord{Stream: "load", Value: fmt.Appendf(nil, "%d", nonce)})
		if err != nil {
			return taken, fmt.Errorf("load: %w", err)
		}
		tx.Sign(k)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.bases[0]+"/v1/txs", bytes.NewReader(tx.Encode()))
		if err != nil {
			return taken, fmt.Errorf("load: %w", err)
		}
		req.Header.Set("Content-Type", "application/cbor")
		resp, err := c.http.Do(req)
		if err != nil {
			log.Debug("load", "err", err)
			continue
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			log.Debug("load refused", "nonce", nonce, "status", resp.Status)
			continue
		}
		nonce++
		taken++
	}
}

// EvidenceOnLedger scans the finalized blocks above height from of the
// node behind api for evidence transactions naming offender, and returns
// the heights that hold one.
func EvidenceOnLedger(ctx context.Context, api string, g *types.Genesis, from uint64, offender identity.PublicKey) ([]uint64, error) {
	c := newAPIClient([]string{api})
	if len(c.bases) == 0 {
		return nil, errors.New("evidence: no API address")
	}
	var st Status
	if err := c.get(ctx, c.bases[0], "/v1/status", &st); err != nil {
		return nil, err
	}
	var out []uint64
	for h := from + 1; h <= st.Finalized; h++ {
		var bj blockJSON
		if err := c.get(ctx, c.bases[0], fmt.Sprintf("/v1/blocks/%d?raw=1", h), &bj); err != nil {
			return out, err
		}
		b, err := types.DecodeBlock(bj.Raw)
		if err != nil {
			return out, fmt.Errorf("evidence: block %d: %w", h, err)
		}
		for _, tx := range b.Txs {
			if tx.Type != types.TxEvidence {
				continue
			}
			if k, _, _, err := types.DecodeEvidence(g.ChainID, tx.Payload); err == nil && k == offender {
				out = append(out, h)
			}
		}
	}
	return out, nil
}
