package devnet

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/sixdomain/sixdomain/cmd/internal/homes"
	"github.com/sixdomain/sixdomain/configs"
	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/node"
)

// The devnet's directory holds genesis.toml and one home per node,
// node-<i>, laid out as `sixd init` lays a home out: config.toml, node.key
// (0600), genesis.toml and the store in data/. So `sixd --home
// DIR/node-0 block latest` talks to a running devnet node, and a devnet
// started again on the same directory continues the same chain with the
// same keys and addresses.

// layout is what an existing devnet directory says about its nodes.
type layout struct {
	genesis *types.Genesis
	keys    []*identity.PrivateKey
	listen  [][]string // per node: p2p listen multiaddrs of its config.toml
	api     []string   // per node: api.listen of its config.toml
}

func nodeHome(base string, i int) string { return filepath.Join(base, fmt.Sprintf("node-%d", i)) }

// openLayout reads the devnet directory base. It returns nil, nil when base
// holds no devnet yet, and an error when it holds one of another shape or
// something that is not a devnet.
func openLayout(base string, o Options) (*layout, error) {
	genPath := filepath.Join(base, configs.DefaultGenesisFile)
	g, err := types.LoadGenesis(genPath)
	if errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Stat(nodeHome(base, 0)); err == nil {
			return nil, fmt.Errorf("%s holds node directories but no %s; choose another --home", base, configs.DefaultGenesisFile)
		}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("devnet home: %w", err)
	}
	n := o.Authorities + o.Devices
	if len(g.Authorities) != o.Authorities {
		return nil, fmt.Errorf("%s is a devnet of %d authorities; run it with --authorities %d, or choose another --home",
			base, len(g.Authorities), len(g.Authorities))
	}
	if _, err := os.Stat(nodeHome(base, n)); err == nil {
		return nil, fmt.Errorf("%s holds more than %d nodes; run it with the --devices it was made with, or choose another --home", base, n)
	}
	l := &layout{genesis: g}
	for i := range n {
		home := nodeHome(base, i)
		cfg, err := configs.Load(filepath.Join(home, "config.toml"))
		if err != nil {
			return nil, fmt.Errorf("devnet node %d (%s has fewer devices than --devices %d?): %w", i, base, o.Devices, err)
		}
		cfg = cfg.Resolve(home)
		k, err := identity.LoadKeyFile(cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("devnet node %d: %w", i, err)
		}
		l.keys = append(l.keys, k)
		l.listen = append(l.listen, cfg.P2P.Listen)
		l.api = append(l.api, cfg.API.Listen)
	}
	return l, nil
}

// options returns the per-node options that put node i back on the
// addresses its config.toml records.
func (l *layout) options(i int) []node.Option {
	return []node.Option{node.WithListenAddrs(l.listen[i]...), node.WithAPI(l.api[i], 0)}
}

// dialAddr returns the TCP multiaddr of n with its peer ID: what another
// node bootstraps from.
func dialAddr(n *node.Node) string {
	fallback := ""
	for _, a := range n.Host().Network().ListenAddresses() {
		s := a.String()
		if strings.Contains(s, "/tcp/") {
			return s + "/p2p/" + n.ID().String()
		}
		if fallback == "" {
			fallback = s + "/p2p/" + n.ID().String()
		}
	}
	return fallback
}

// writeHomes writes what is missing of each node's home: config.toml with
// the addresses the node listens on now, node.key and genesis.toml, and
// the devnet's genesis.toml. Existing files are kept, as `sixd init` keeps
// them.
func writeHomes(base string, c *node.Cluster) error {
	genesis := c.Genesis.MarshalTOML()
	if err := homes.WriteIfMissing(filepath.Join(base, configs.DefaultGenesisFile), genesis); err != nil {
		return err
	}
	for i, n := range c.Nodes {
		var listen []string
		for _, a := range n.Host().Network().ListenAddresses() {
			listen = append(listen, a.String())
		}
		// Each node bootstraps from node 0 (node 0 from node 1), so a node
		// started alone with `sixd run --home` finds the others.
		boot := 0
		if i == 0 && len(c.Nodes) > 1 {
			boot = 1
		}
		var bootstrap []string
		if boot != i {
			bootstrap = []string{dialAddr(c.Nodes[boot])}
		}
		off := false
		role := configs.RoleDevice
		if c.Role(i) == node.RoleGateway {
			role = configs.RoleGateway
		}
		cfg, err := configs.Render(role, configs.RenderOptions{Listen: listen, Bootstrap: bootstrap,
			APIListen: n.APIAddr().String(), MDNS: &off})
		if err != nil {
			return fmt.Errorf("devnet node %d: %w", i, err)
		}
		if err := homes.Write(homes.Home{Dir: c.Home(i), Config: cfg, Key: c.Keys[i], Genesis: genesis}); err != nil {
			return fmt.Errorf("devnet node %d: %w", i, err)
		}
	}
	return nil
}
