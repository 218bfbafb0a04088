package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sixdomain/sixdomain/cmd/internal/homes"
	"github.com/sixdomain/sixdomain/configs"
	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// testnetPlan is what `sixd testnet` lays out.
type testnetPlan struct {
	Bootstrap, Authorities, Gateways, Devices int
	ChainID                                   string
	Slot                                      time.Duration
	Admission                                 string
	Hostnames                                 []string // one per node, in layout order; empty: the node names
	Local                                     bool     // every node on this host's loopback, each on its own ports
	DevicesPrivate                            bool     // devices act as behind a NAT (reachability = "private")
	P2PPort, APIPort                          int
	Out                                       string
}

// TestnetNode describes one node of a testnet in DIR/testnet.json, the
// file that tools (the e2e runner, compose files) read.
type TestnetNode struct {
	Name      string `json:"name"`
	Role      string `json:"role"` // bootstrap, authority, gateway or device
	Authority bool   `json:"authority"`
	Home      string `json:"home"` // relative to DIR
	Host      string `json:"host"`
	PeerID    string `json:"peer_id"`
	DID       string `json:"did"`
	P2PAddr   string `json:"p2p_addr"` // what the others dial, with /p2p/
	API       string `json:"api"`      // host:port of the API, as its config says
}

// Testnet is DIR/testnet.json.
type Testnet struct {
	ChainID     string        `json:"chain_id"`
	GenesisHash string        `json:"genesis_hash"`
	Local       bool          `json:"local"`
	Nodes       []TestnetNode `json:"nodes"`
}

const maxTestnetNodes = 256

func newTestnetCmd() *cobra.Command {
	p := testnetPlan{}
	var hostnames string
	cmd := &cobra.Command{
		Use:   "testnet --out DIR [--bootstrap B] [--authorities N] [--gateways G] [--devices M]",
		Short: "Lay out a multi-node network: one home per node with a shared genesis",
		Long: `testnet writes one node home per node into DIR, each as 'sixd init' writes a
home (config.toml, node.key with mode 0600, genesis.toml), all sharing one
genesis in which the authorities are the chain's initial authority set:

  DIR/genesis.toml      the chain's genesis
  DIR/testnet.json      every node: name, role, peer ID, DID, address, API
  DIR/bootstrap-<i>/    bootstrap nodes (role bootstrap)
  DIR/authority-<i>/    authorities (role gateway, in the genesis)
  DIR/gateway-<i>/      gateways
  DIR/device-<i>/       devices

Every node's config lists the bootstrap nodes (or, with --bootstrap 0, the
authorities) as its bootstrap peers; device i also lists gateway i mod G,
its site's gateway. By default each node is meant for its
own host or container, named by --hostnames (default: the node names, as
compose service names), listening on --p2p-port on all interfaces with its
API on 127.0.0.1:--api-port. With --local every node runs on this host's
loopback on its own ports (p2p-port + i, api-port + i), for processes
started side by side; with --local, --hostnames may give each node its own
loopback address (127.0.0.0/8), so that links between nodes can be cut by
address (the e2e runner does).

DIR must not exist or be empty; nothing is overwritten.`,
		Example: `  sixd testnet --bootstrap 1 --authorities 3 --gateways 1 --devices 2 --out ./testnet
  sixd testnet --authorities 4 --devices 4 --local --out ./local && sixd run --home ./local/authority-0
  sixd testnet --authorities 3 --out ./net --hostnames 192.0.2.10,192.0.2.11,192.0.2.12`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if hostnames != "" {
				p.Hostnames = strings.Split(hostnames, ",")
			}
			t, err := layoutTestnet(p)
			if err != nil {
				return err
			}
			printTestnet(cmd.OutOrStdout(), p, t)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&p.Bootstrap, "bootstrap", 1, "number of bootstrap nodes")
	f.IntVar(&p.Authorities, "authorities", 3, "number of authorities (the genesis authority set)")
	f.IntVar(&p.Gateways, "gateways", 1, "number of gateways")
	f.IntVar(&p.Devices, "devices", 2, "number of devices")
	f.StringVar(&p.ChainID, "chain-id", "sixdomain-testnet", "chain ID")
	f.DurationVar(&p.Slot, "slot", time.Second, "block interval")
	f.StringVar(&p.Admission, "admission", types.AdmissionOpen, `genesis admission mode: "open" or "admitted"`)
	f.StringVar(&hostnames, "hostnames", "", "comma-separated host name or IP address of each node, in the order bootstrap, authorities, gateways, devices (default: the node names)")
	f.BoolVar(&p.Local, "local", false, "all nodes on this host's loopback, each on its own ports")
	f.BoolVar(&p.DevicesPrivate, "devices-private", false, `devices act as behind a NAT (p2p.reachability = "private"): they reserve relay slots on the bootstrap nodes and advertise relayed addresses`)
	f.IntVar(&p.P2PPort, "p2p-port", 4001, "p2p port (TCP and QUIC); with --local, node i uses p2p-port + i")
	f.IntVar(&p.APIPort, "api-port", 8645, "API port; with --local, node i uses api-port + i")
	f.StringVar(&p.Out, "out", "", "directory to write (must not exist or be empty)")
	_ = cmd.MarkFlagRequired("out") // fails only for an undefined flag
	return cmd
}

// layoutTestnet writes the testnet of p and returns its description.
func layoutTestnet(p testnetPlan) (*Testnet, error) {
	total := p.Bootstrap + p.Authorities + p.Gateways + p.Devices
	switch {
	case p.Bootstrap < 0 || p.Authorities < 1 || p.Gateways < 0 || p.Devices < 0:
		return nil, errors.New("need at least one authority, and no negative counts")
	case total > maxTestnetNodes:
		return nil, fmt.Errorf("at most %d nodes, not %d", maxTestnetNodes, total)
	case p.Slot < 50*time.Millisecond:
		return nil, errors.New("--slot must be at least 50ms")
	case p.Admission != types.AdmissionOpen && p.Admission != types.AdmissionAdmitted:
		return nil, fmt.Errorf("--admission must be %q or %q", types.AdmissionOpen, types.AdmissionAdmitted)
	case len(p.Hostnames) > 0 && len(p.Hostnames) != total:
		return nil, fmt.Errorf("--hostnames lists %d hosts for %d nodes", len(p.Hostnames), total)
	case len(p.Hostnames) > 0 && p.Local && !allLoopback(p.Hostnames):
		return nil, errors.New("with --local, --hostnames may name only loopback addresses (127.0.0.0/8), one per node")
	case p.P2PPort < 1 || p.APIPort < 1 || (p.Local && (p.P2PPort+total > 65535 || p.APIPort+total > 65535)) ||
		p.P2PPort > 65535 || p.APIPort > 65535:
		return nil, errors.New("--p2p-port and --api-port must leave room for every node below 65536")
	case p.Local && p.P2PPort < p.APIPort+total && p.APIPort < p.P2PPort+total:
		return nil, errors.New("with --local the p2p and API port ranges overlap; move --api-port or --p2p-port")
	}
	if err := types.ValidateChainID(p.ChainID); err != nil {
		return nil, fmt.Errorf("--chain-id: %w", err)
	}
	for _, h := range p.Hostnames {
		if err := checkHostname(h); err != nil {
			return nil, fmt.Errorf("--hostnames: %w", err)
		}
	}
	if err := emptyOrAbsent(p.Out); err != nil {
		return nil, err
	}

	t := &Testnet{ChainID: p.ChainID, Local: p.Local}
	keys := make([]*identity.PrivateKey, total)
	var auths []identity.PublicKey
	kinds := []struct {
		name string
		n    int
	}{{"bootstrap", p.Bootstrap}, {"authority", p.Authorities}, {"gateway", p.Gateways}, {"device", p.Devices}}
	for _, k := range kinds {
		for j := range k.n {
			i := len(t.Nodes)
			key, err := identity.Generate(nil)
			if err != nil {
				return nil, err
			}
			keys[i] = key
			nd := TestnetNode{Name: fmt.Sprintf("%s-%d", k.name, j), Role: k.name, Authority: k.name == "authority",
				PeerID: key.Public().PeerID().String(), DID: key.Public().DID()}
			nd.Home = nd.Name
			p2pPort, apiPort := p.P2PPort, p.APIPort
			switch {
			case p.Local && len(p.Hostnames) > 0:
				nd.Host, p2pPort, apiPort = p.Hostnames[i], p.P2PPort+i, p.APIPort+i
			case p.Local:
				nd.Host, p2pPort, apiPort = "127.0.0.1", p.P2PPort+i, p.APIPort+i
			case len(p.Hostnames) > 0:
				nd.Host = p.Hostnames[i]
			default:
				nd.Host = nd.Name
			}
			nd.P2PAddr = hostMultiaddr(nd.Host) + fmt.Sprintf("/tcp/%d/p2p/%s", p2pPort, nd.PeerID)
			nd.API = fmt.Sprintf("127.0.0.1:%d", apiPort)
			if p.Local {
				nd.API = net.JoinHostPort(nd.Host, fmt.Sprint(apiPort))
			}
			if nd.Authority {
				auths = append(auths, key.Public())
			}
			t.Nodes = append(t.Nodes, nd)
		}
	}
	g := types.NewGenesis(p.ChainID, time.Now(), auths...)
	g.SlotMillis = p.Slot.Milliseconds()
	g.Admission = p.Admission
	if err := g.Validate(); err != nil {
		return nil, err
	}
	t.GenesisHash = g.Hash().String()
	genesis := g.MarshalTOML()

	// Everyone bootstraps from the bootstrap nodes, or from the
	// authorities when there are none; nobody lists itself. Device i
	// belongs to the site of gateway i mod G and lists that gateway too,
	// as a device is configured with its site's gateway.
	var seeds, gateways []string
	for _, nd := range t.Nodes {
		if nd.Role == "bootstrap" || (p.Bootstrap == 0 && nd.Authority) {
			seeds = append(seeds, nd.P2PAddr)
		}
		if nd.Role == "gateway" {
			gateways = append(gateways, nd.P2PAddr)
		}
	}
	deviceIndex := 0
	if err := os.MkdirAll(p.Out, 0o755); err != nil {
		return nil, err
	}
	if err := configs.WriteFile(filepath.Join(p.Out, configs.DefaultGenesisFile), genesis); err != nil {
		return nil, err
	}
	for i, nd := range t.Nodes {
		var bootstrap []string
		for _, s := range seeds {
			if s != nd.P2PAddr {
				bootstrap = append(bootstrap, s)
			}
		}
		if nd.Role == "device" && len(gateways) > 0 {
			bootstrap = append(bootstrap, gateways[deviceIndex%len(gateways)])
			deviceIndex++
		}
		p2pPort := p.P2PPort
		listenHost := "0.0.0.0"
		if p.Local {
			p2pPort, listenHost = p.P2PPort+i, nd.Host
		}
		off := false
		ro := configs.RenderOptions{
			Listen:    []string{fmt.Sprintf("/ip4/%s/tcp/%d", listenHost, p2pPort), fmt.Sprintf("/ip4/%s/udp/%d/quic-v1", listenHost, p2pPort)},
			Bootstrap: bootstrap, APIListen: nd.API, MDNS: &off}
		if p.DevicesPrivate && nd.Role == "device" {
			ro.Reachability = configs.ReachabilityPrivate
		}
		cfg, err := configs.Render(configRole(nd.Role), ro)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", nd.Name, err)
		}
		if err := homes.Write(homes.Home{Dir: filepath.Join(p.Out, nd.Home), Config: cfg, Key: keys[i], Genesis: genesis}); err != nil {
			return nil, fmt.Errorf("%s: %w", nd.Name, err)
		}
	}
	desc, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := configs.WriteFile(filepath.Join(p.Out, "testnet.json"), append(desc, '\n')); err != nil {
		return nil, err
	}
	return t, nil
}

// configRole is the config.toml role of a testnet role: an authority runs
// with the gateway's settings.
func configRole(role string) configs.Role {
	switch role {
	case "bootstrap":
		return configs.RoleBootstrap
	case "device":
		return configs.RoleDevice
	}
	return configs.RoleGateway
}

// hostMultiaddr is the multiaddr prefix that reaches host: /ip4, /ip6 or
// /dns.
func hostMultiaddr(host string) string {
	if ip := net.ParseIP(host); ip != nil {
		if ip.To4() != nil {
			return "/ip4/" + ip.String()
		}
		return "/ip6/" + ip.String()
	}
	return "/dns/" + host
}

// allLoopback reports whether every host is a loopback IPv4 address.
func allLoopback(hosts []string) bool {
	for _, h := range hosts {
		ip := net.ParseIP(h)
		if ip == nil || ip.To4() == nil || !ip.IsLoopback() {
			return false
		}
	}
	return true
}

// checkHostname accepts an IP address or a DNS name.
func checkHostname(h string) error {
	if net.ParseIP(h) != nil {
		return nil
	}
	if h == "" || len(h) > 253 {
		return fmt.Errorf("%q is not a host name", h)
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("%q is not a host name", h)
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return fmt.Errorf("%q is not a host name", h)
			}
		}
	}
	return nil
}

// emptyOrAbsent refuses a directory that has anything in it.
func emptyOrAbsent(dir string) error {
	if dir == "" {
		return errors.New("--out is required")
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("%s is not empty; refusing to overwrite anything in it (choose another --out)", dir)
	}
	return nil
}

func printTestnet(out io.Writer, p testnetPlan, t *Testnet) {
	fmt.Fprintf(out, "Testnet %q (genesis %s): %d nodes in %s\n", t.ChainID, t.GenesisHash[:12], len(t.Nodes), p.Out)
	for _, nd := range t.Nodes {
		fmt.Fprintf(out, "  %-12s %-9s  %s  api %s\n", nd.Name, nd.Role, nd.P2PAddr, nd.API)
	}
	fmt.Fprintf(out, "Start each node with: sixd run --home %s\n", filepath.Join(p.Out, "<name>"))
}
