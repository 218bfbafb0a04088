package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// ClusterConfig describes a local mesh of real nodes on loopback, as the
// devnet and the tests run it.
type ClusterConfig struct {
	ChainID     string
	Authorities int
	Devices     int
	Slot        time.Duration
	// BaseDir holds one pebble store per node (BaseDir/node-<i>); "" keeps
	// the ledgers in memory.
	BaseDir string
	// API starts each node's HTTP API on a free loopback port.
	API    bool
	Logger *slog.Logger
	// Options are added to every node's options.
	Options []Option
	// Admission is the genesis admission mode ("" or "open", "admitted").
	Admission string
	// Genesis and Keys, when set, are used instead of new ones (a devnet
	// restarted from its home directories): Keys holds one key per node,
	// the authorities first, and Genesis must list exactly those
	// authorities. ChainID, Slot and Admission are then ignored.
	Genesis *types.Genesis
	Keys    []*identity.PrivateKey
	// NodeOptions, when set, returns options added after all others for
	// node i (its own listen and API addresses, say).
	NodeOptions func(i int) []Option
}

// Cluster is a set of running nodes sharing a genesis. Nodes[0:Authorities]
// are the authorities.
type Cluster struct {
	Genesis *types.Genesis
	Keys    []*identity.PrivateKey
	Nodes   []*Node
	cfg     ClusterConfig
}

// StartCluster creates keys and a genesis, starts the nodes and connects
// each to the ones started before it (up to four), so the mesh is
// connected. Close stops them.
func StartCluster(ctx context.Context, cfg ClusterConfig) (*Cluster, error) {
	if cfg.Authorities < 1 {
		return nil, errors.New("cluster: need at least one authority")
	}
	if cfg.Devices < 0 {
		return nil, errors.New("cluster: negative device count")
	}
	if cfg.ChainID == "" {
		cfg.ChainID = "sixdomain-devnet"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Cluster{cfg: cfg}
	if cfg.Genesis != nil {
		if err := c.adopt(cfg.Genesis, cfg.Keys); err != nil {
			return nil, err
		}
	} else if err := c.create(); err != nil {
		return nil, err
	}
	for i := range c.Keys {
		if _, err := c.StartNode(ctx, i); err != nil {
			c.Close()
			return nil, err
		}
	}
	if err := c.WaitMesh(ctx, 15*time.Second); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// create makes a key per node and a genesis naming the first
// cfg.Authorities of them.
func (c *Cluster) create() error {
	cfg := c.cfg
	var auths []identity.PublicKey
	for i := 0; i < cfg.Authorities+cfg.Devices; i++ {
		k, err := identity.Generate(nil)
		if err != nil {
			return err
		}
		c.Keys = append(c.Keys, k)
		if i < cfg.Authorities {
			auths = append(auths, k.Public())
		}
	}
	c.Genesis = types.NewGenesis(cfg.ChainID, time.Now(), auths...)
	if cfg.Slot > 0 {
		c.Genesis.SlotMillis = cfg.Slot.Milliseconds()
	}
	c.Genesis.Admission = cfg.Admission
	return c.Genesis.Validate()
}

// adopt takes a given genesis and keys, checking that the first
// cfg.Authorities keys are exactly the genesis authorities.
func (c *Cluster) adopt(g *types.Genesis, keys []*identity.PrivateKey) error {
	if err := g.Validate(); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if len(keys) != c.cfg.Authorities+c.cfg.Devices {
		return fmt.Errorf("cluster: %d keys for %d authorities + %d devices", len(keys), c.cfg.Authorities, c.cfg.Devices)
	}
	if len(g.Authorities) != c.cfg.Authorities {
		return fmt.Errorf("cluster: the genesis has %d authorities, not %d", len(g.Authorities), c.cfg.Authorities)
	}
	want := map[string]bool{}
	for _, a := range g.Authorities {
		want[a] = true
	}
	for i, k := range keys {
		if k == nil {
			return fmt.Errorf("cluster: no key for node %d", i)
		}
		if want[k.Public().DID()] != (i < c.cfg.Authorities) {
			return fmt.Errorf("cluster: node %d's key %s does not match the genesis authorities", i, k.Public().DID())
		}
	}
	c.Genesis, c.Keys = g, keys
	return nil
}

// WaitMesh waits until every running node shares both gossip topics with
// at least one peer.
func (c *Cluster) WaitMesh(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ready := true
		for _, n := range c.Nodes {
			if n != nil && len(c.Nodes) > 1 && n.TopicPeers() == 0 {
				ready = false
			}
		}
		if ready {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster: gossip mesh not formed after %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Role returns the role of node i.
func (c *Cluster) Role(i int) Role {
	if i < c.cfg.Authorities {
		return RoleGateway
	}
	return RoleDevice
}

// Home returns node i's directory, BaseDir/node-<i> ("" in memory).
func (c *Cluster) Home(i int) string {
	if c.cfg.BaseDir == "" {
		return ""
	}
	return filepath.Join(c.cfg.BaseDir, fmt.Sprintf("node-%d", i))
}

// DataDir returns node i's store directory, the data directory of its home
// as config.toml names it by default ("" in memory).
func (c *Cluster) DataDir(i int) string {
	if c.cfg.BaseDir == "" {
		return ""
	}
	return filepath.Join(c.Home(i), "data")
}

// StartNode starts (or restarts, after StopNode) node i and connects it to
// its neighbours.
func (c *Cluster) StartNode(ctx context.Context, i int) (*Node, error) {
	opts := []Option{
		WithRole(c.Role(i)),
		WithListenAddrs("/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"),
		WithMDNS(false),
		WithLogger(c.cfg.Logger.With("i", i)),
		WithDataDir(c.DataDir(i)),
	}
	if c.cfg.API {
		opts = append(opts, WithAPI("127.0.0.1:0", 0))
	}
	opts = append(opts, c.cfg.Options...)
	if c.cfg.NodeOptions != nil {
		opts = append(opts, c.cfg.NodeOptions(i)...)
	}
	n, err := New(ctx, c.Keys[i], c.Genesis, opts...)
	if err != nil {
		return nil, fmt.Errorf("node %d: %w", i, err)
	}
	for len(c.Nodes) <= i {
		c.Nodes = append(c.Nodes, nil)
	}
	c.Nodes[i] = n
	for _, j := range c.neighbours(i) {
		if j >= len(c.Nodes) || c.Nodes[j] == nil {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := n.Connect(cctx, c.Nodes[j].AddrInfo())
		cancel()
		if err != nil {
			return nil, fmt.Errorf("connecting node %d to %d: %w", i, j, err)
		}
	}
	return n, nil
}

// neighbours lists the nodes i links to: the four before it and, for the
// first nodes, the ones after, so a restarted node finds peers too.
func (c *Cluster) neighbours(i int) []int {
	var out []int
	total := len(c.Keys)
	for d := 1; d <= 4 && d < total; d++ {
		out = append(out, (i-d+total)%total)
	}
	return out
}

// StopNode closes node i (its store survives when BaseDir is set).
func (c *Cluster) StopNode(i int) error {
	if i >= len(c.Nodes) || c.Nodes[i] == nil {
		return nil
	}
	err := c.Nodes[i].Close()
	c.Nodes[i] = nil
	return err
}

// Close stops every node.
func (c *Cluster) Close() error {
	var errs []error
	for i := range c.Nodes {
		errs = append(errs, c.StopNode(i))
	}
	return errors.Join(errs...)
}

// Peers returns the addresses of the running nodes.
func (c *Cluster) Peers() []peer.AddrInfo {
	var out []peer.AddrInfo
	for _, n := range c.Nodes {
		if n != nil {
			out = append(out, n.AddrInfo())
		}
	}
	return out
}

// Agree reports whether every running node has the same block hash at
// height, and returns that hash.
func (c *Cluster) Agree(ctx context.Context, height uint64) (types.Hash, bool, error) {
	var first types.Hash
	for i, n := range c.Nodes {
		if n == nil {
			continue
		}
		b, err := n.Store().Block(ctx, height)
		if err != nil {
			return types.Hash{}, false, fmt.Errorf("node %d at height %d: %w", i, height, err)
		}
		if i == 0 || first.IsZero() {
			first = b.Hash()
		} else if b.Hash() != first {
			return types.Hash{}, false, nil
		}
	}
	return first, true, nil
}
