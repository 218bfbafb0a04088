// Command sixd-byzantine joins a running sixdomain chain as a byzantine
// libp2p peer and attacks it (package e2e/byzantine):
//
//	sixd-byzantine --genesis DIR/genesis.toml --bootstrap ADDR [--bootstrap ADDR ...] \
//	    --attack bad-sigs,replay,malformed,fake-blocks,equivocate --duration 60s \
//	    [--authority-key FILE] [--api URL ...] [--baseline 20s] [--load 20]
//
// With --api, it follows the honest nodes' heads and committed blocks
// through their HTTP APIs; with --load it drives a steady honest load
// through the first API; it measures the committed rate for --baseline
// before the attack and during it (GET /v1/status, total_txs), reports
// when each node cut it off (GET /v1/peers: a score below the graylist
// threshold, or the connection dropped), and for equivocate the heights of
// committed evidence naming the --authority-key. It prints a JSON summary
// and exits 0, or 1 if the nodes did not hold to their expectations (a
// committed rate below 90 % of the baseline; a node that did not cut it
// off within --cutoff, for bad-sigs, malformed and fake-blocks; no
// evidence, for equivocate), or 2 if it could not run.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/sixdomain/sixdomain/e2e/byzantine"
	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
	sixps "github.com/sixdomain/sixdomain/pubsub"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error {
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			*l = append(*l, f)
		}
	}
	return nil
}

// summary is the JSON the command prints.
type summary struct {
	PeerID      string             `json:"peer_id"`
	Attacks     []byzantine.Attack `json:"attacks"`
	Duration    string             `json:"duration"`
	Sent        map[string]int64   `json:"sent"`
	BaselineTPS float64            `json:"baseline_committed_tx_per_s,omitempty"`
	AttackTPS   float64            `json:"attack_committed_tx_per_s,omitempty"`
	Ratio       float64            `json:"ratio,omitempty"`
	CutOff      []cutOffJSON       `json:"cut_off,omitempty"`
	// EvidenceAt lists the heights of committed evidence transactions
	// naming the --authority-key (equivocate, with --api).
	EvidenceAt []uint64 `json:"evidence_at,omitempty"`
	Failures   []string `json:"failures,omitempty"`
}

type cutOffJSON struct {
	API        string  `json:"api"`
	CutOff     bool    `json:"cut_off"`
	Graylisted bool    `json:"graylisted_seen"`
	AfterS     float64 `json:"after_s,omitempty"`
	FirstScore float64 `json:"first_score"`
	LastScore  float64 `json:"last_score"`
	Connected  bool    `json:"connected"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sixd-byzantine", flag.ContinueOnError)
	fs.SetOutput(stderr)
	genesisPath := fs.String("genesis", "", "the chain's genesis.toml (required)")
	var bootstrap, apis, listen listFlag
	fs.Var(&bootstrap, "bootstrap", "multiaddr with /p2p/ of an honest peer (repeat or comma-separate; required)")
	fs.Var(&apis, "api", "an honest node's API base URL, e.g. http://127.0.0.1:8080 (repeat or comma-separate)")
	fs.Var(&listen, "listen", "libp2p listen multiaddrs (default loopback TCP and QUIC on free ports)")
	attackList := fs.String("attack", "all", "comma-separated: bad-sigs, replay, malformed, fake-blocks, equivocate, all, none")
	duration := fs.Duration("duration", 60*time.Second, "how long to attack")
	baseline := fs.Duration("baseline", 0, "with --api: how long to measure the committed rate before attacking")
	authorityKey := fs.String("authority-key", "", "an authority's node.key, for equivocate")
	keyPath := fs.String("key", "", "the attacker's own key file (default: a new key)")
	rate := fs.Float64("rate", 200, "messages per second of each flooding attack")
	equivocations := fs.Int("equivocations", 3, "conflicting vote pairs equivocate signs")
	cutoff := fs.Duration("cutoff", 10*time.Second, "with --api: the time within which every node must graylist the attacker")
	load := fs.Float64("load", 0, "with --api: submit a steady honest load of this many data records a second through the first API (from 5 s before the baseline to the end)")
	verbose := fs.Bool("v", false, "debug logs")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "sixd-byzantine: %v\n", err)
		return 2
	}
	if *genesisPath == "" || len(bootstrap) == 0 {
		fs.Usage()
		return 2
	}
	attacks, err := byzantine.ParseAttacks(*attackList)
	if err != nil {
		return fail(err)
	}
	g, err := types.LoadGenesis(*genesisPath)
	if err != nil {
		return fail(err)
	}
	var infos []peer.AddrInfo
	for _, s := range bootstrap {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return fail(fmt.Errorf("bootstrap %q: %w", s, err))
		}
		info, err := peer.AddrInfoFromP2pAddr(a)
		if err != nil {
			return fail(fmt.Errorf("bootstrap %q: %w", s, err))
		}
		infos = append(infos, *info)
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg := byzantine.Config{Genesis: g, Bootstrap: infos, Listen: listen, APIs: apis, Rate: *rate,
		Equivocations: *equivocations, Logger: log}
	if *authorityKey != "" {
		if cfg.AuthorityKey, err = identity.LoadKeyFile(*authorityKey); err != nil {
			return fail(err)
		}
		if !slices.Contains(g.AuthorityKeys(), cfg.AuthorityKey.Public()) {
			log.Warn("the --authority-key is not a genesis authority", "did", cfg.AuthorityKey.Public().DID())
		}
	}
	if slices.Contains(attacks, byzantine.Equivocate) && cfg.AuthorityKey == nil {
		return fail(errors.New("equivocate needs --authority-key"))
	}
	if *keyPath != "" {
		if cfg.Key, err = identity.LoadKeyFile(*keyPath); err != nil {
			return fail(err)
		}
	}
	att, err := byzantine.New(ctx, cfg)
	if err != nil {
		return fail(err)
	}
	defer att.Close()
	log.Info("byzantine peer up", "peer", att.ID(), "addrs", att.Host().Addrs(), "attacks", attacks)
	jctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = att.WaitJoined(jctx)
	cancel()
	if err != nil {
		return fail(err)
	}

	sum := summary{PeerID: att.ID().String(), Attacks: attacks, Duration: duration.String(), Sent: map[string]int64{}}
	committed := func() (uint64, time.Time, bool) {
		if len(apis) == 0 {
			return 0, time.Time{}, false
		}
		st, err := byzantine.StatusOf(ctx, apis[0])
		if err != nil {
			log.Warn("status", "err", err)
			return 0, time.Time{}, false
		}
		return st.TotalTxs, time.Now(), true
	}
	tps := func(n0 uint64, t0 time.Time, ok0 bool) float64 {
		n1, t1, ok1 := committed()
		if !ok0 || !ok1 || !t1.After(t0) {
			return 0
		}
		return float64(n1-n0) / t1.Sub(t0).Seconds()
	}
	if *load > 0 && len(apis) > 0 {
		lctx, lcancel := context.WithCancel(ctx)
		loaded := make(chan int, 1)
		go func() {
			n, err := byzantine.Load(lctx, apis[0], g.ChainID, *load, log)
			if err != nil {
				log.Warn("load", "err", err)
			}
			loaded <- n
		}()
		defer func() {
			lcancel()
			log.Info("load stopped", "submitted", <-loaded)
		}()
		select {
		case <-ctx.Done():
			return fail(ctx.Err())
		case <-time.After(5 * time.Second):
		}
	}
	if *baseline > 0 && len(apis) > 0 {
		n0, t0, ok0 := committed()
		select {
		case <-ctx.Done():
			return fail(ctx.Err())
		case <-time.After(*baseline):
		}
		sum.BaselineTPS = tps(n0, t0, ok0)
		log.Info("baseline", "committed_tx_per_s", sum.BaselineTPS)
	}

	start := time.Now()
	var startHeight uint64
	if len(apis) > 0 {
		if st, err := byzantine.StatusOf(ctx, apis[0]); err == nil {
			startHeight = st.Finalized
		}
	}
	n0, t0, ok0 := committed()
	wctx, wcancel := context.WithCancel(ctx)
	watched := make(chan []byzantine.CutOff, 1)
	_, thresholds := sixps.ScoreParams(g.ChainID)
	go func() {
		watched <- byzantine.Watch(wctx, apis, att.ID(), thresholds.GraylistThreshold, start, 250*time.Millisecond)
	}()
	sent, runErr := att.Run(ctx, *duration, attacks...)
	sum.AttackTPS = tps(n0, t0, ok0)
	wcancel()
	cuts := <-watched
	if runErr != nil {
		log.Warn("attack", "err", runErr)
	}
	for k, v := range sent {
		sum.Sent[string(k)] = v
	}
	if sum.BaselineTPS > 0 {
		sum.Ratio = sum.AttackTPS / sum.BaselineTPS
		if sum.Ratio < 0.9 {
			sum.Failures = append(sum.Failures, fmt.Sprintf("committed rate %.1f tx/s under attack is below 90%% of %.1f", sum.AttackTPS, sum.BaselineTPS))
		}
	}
	mustCut := slices.ContainsFunc(attacks, func(a byzantine.Attack) bool {
		return a == byzantine.BadSigs || a == byzantine.Malformed || a == byzantine.FakeBlocks
	})
	for _, c := range cuts {
		sum.CutOff = append(sum.CutOff, cutOffJSON{API: c.API, CutOff: c.CutOff, Graylisted: c.Graylisted, AfterS: c.After.Seconds(),
			FirstScore: c.FirstScore, LastScore: c.LastScore, Connected: c.Connected})
		if mustCut && (!c.CutOff || c.After > *cutoff) {
			sum.Failures = append(sum.Failures, fmt.Sprintf("%s did not cut the attacker off within %s", c.API, *cutoff))
		}
	}
	if slices.Contains(attacks, byzantine.Equivocate) && len(apis) > 0 && ctx.Err() == nil {
		// The evidence is submitted when the conflicting votes meet: wait
		// for it to be finalized.
		ectx, cancel := context.WithTimeout(ctx, 30*time.Second)
		for ectx.Err() == nil {
			at, err := byzantine.EvidenceOnLedger(ectx, apis[0], g, startHeight, cfg.AuthorityKey.Public())
			if err != nil {
				log.Debug("evidence", "err", err)
			}
			if sum.EvidenceAt = at; len(at) > 0 {
				break
			}
			select {
			case <-ectx.Done():
			case <-time.After(time.Second):
			}
		}
		cancel()
		if len(sum.EvidenceAt) == 0 {
			sum.Failures = append(sum.Failures, "no committed evidence names the authority")
		}
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(sum); err != nil {
		return fail(err)
	}
	if len(sum.Failures) > 0 {
		return 1
	}
	return 0
}
