package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/sixdomain/sixdomain/configs"
	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/node"
)

const defaultChainID = "sixdomain-local"

// maxGenesisFile bounds how much of a --genesis file is read (the genesis
// parser refuses more than 1 MiB anyway).
const maxGenesisFile = 1<<20 + 1

func newInitCmd() *cobra.Command {
	var (
		role, home, genesisFile, chainID, api string
		listen, bootstrap                     []string
		mdns, encryptKey                      bool
	)
	cmd := &cobra.Command{
		Use:   "init --role device|gateway|bootstrap|light [--home DIR]",
		Short: "Create a node home directory: config, key and genesis",
		Long: `init creates the node home directory (mode 0700) with
  config.toml   the commented example configuration of the role, with the overrides given by flags
  node.key      a new Ed25519 node key (mode 0600); an existing node.key (from 'sixd keys import-seed') is kept and used
  genesis.toml  a copy of --genesis, or else a new chain whose only authority is this node
  api.token     with an --api address beyond loopback (e.g. 0.0.0.0:8645): a new random
                bearer token (mode 0600) that the API's write routes then need (api.token_file)

With no --genesis, 'sixd init' followed by 'sixd run' gives a working one-node
chain. init never overwrites config.toml or genesis.toml. A light node
(--role light) joins an existing chain: it needs --genesis, and its gateways
as --bootstrap (or mDNS).

With --encrypt-key the new node.key is encrypted under a passphrase (scrypt
and XChaCha20-Poly1305) read from the file named by $SIXD_PASSPHRASE_FILE,
else from $SIXD_PASSPHRASE; 'sixd run' and the other commands then need the
same variable set. An existing key file that is encrypted is read the same way.`,
		Example: `  sixd init --role gateway --home ./gw
  sixd init --role device --home ./dev1 --genesis ./gw/genesis.toml --bootstrap /ip4/192.0.2.1/tcp/4001/p2p/12D3KooW...
  SIXD_PASSPHRASE_FILE=/run/credentials/sixd/pass sixd init --role device --home ./dev2 --encrypt-key`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := configs.ParseRole(role)
			if err != nil {
				return err
			}
			home, err := resolveHome(home)
			if err != nil {
				return err
			}
			opts := configs.RenderOptions{Listen: listen, Bootstrap: bootstrap}
			apiToken := false
			if cmd.Flags().Changed("api") {
				if api == "" {
					opts.DisableAPI = true
				} else {
					opts.APIListen = api
					// An API beyond loopback needs a write token: make one.
					if apiToken = !node.IsLoopback(api); apiToken {
						opts.APITokenFile = apiTokenFileName
					}
				}
			}
			if cmd.Flags().Changed("mdns") {
				opts.MDNS = &mdns
			}
			if r == configs.RoleLight && genesisFile == "" {
				return errors.New("--role light needs --genesis: a light node follows an existing chain")
			}
			if genesisFile != "" && cmd.Flags().Changed("chain-id") {
				return errors.New("--chain-id cannot be combined with --genesis (the chain ID comes from the genesis file)")
			}
			if err := types.ValidateChainID(chainID); err != nil {
				return fmt.Errorf("--chain-id: %w", err)
			}
			config, err := configs.Render(r, opts)
			if err != nil {
				return err
			}
			var genesisData []byte
			var genesis *types.Genesis
			if genesisFile != "" {
				if genesisData, genesis, err = readGenesis(genesisFile); err != nil {
					return err
				}
			}
			return runInit(cmd.OutOrStdout(), initPlan{role: r, home: home, config: config,
				genesisData: genesisData, genesis: genesis, chainID: chainID, encryptKey: encryptKey, apiToken: apiToken})
		},
	}
	f := cmd.Flags()
	f.StringVar(&role, "role", "", "node role: device, gateway, bootstrap or light (required)")
	addHomeFlag(cmd, &home)
	f.StringVar(&genesisFile, "genesis", "", "genesis file of the chain to join (copied to the home directory); default: start a new chain")
	f.StringVar(&chainID, "chain-id", defaultChainID, "chain ID of the new chain (without --genesis)")
	f.StringSliceVar(&listen, "listen", nil, "p2p listen multiaddr (repeatable; default from the role's example)")
	f.StringSliceVar(&bootstrap, "bootstrap", nil, "bootstrap peer multiaddr ending in /p2p/<peer ID> (repeatable)")
	f.StringVar(&api, "api", "", `HTTP API host:port (default 127.0.0.1:8645; "" turns the API off)`)
	f.BoolVar(&mdns, "mdns", false, "local-network discovery with mDNS (default true for device and gateway, false for bootstrap)")
	f.BoolVar(&encryptKey, "encrypt-key", false, "encrypt the new node.key with the passphrase of $"+envPassphraseFile+" or $"+envPassphrase)
	_ = cmd.MarkFlagRequired("role") // fails only for an undefined flag
	return cmd
}

// readGenesis reads and validates a genesis file, returning its bytes as
// they are (comments included) and the parsed genesis.
func readGenesis(path string) ([]byte, *types.Genesis, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("genesis: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxGenesisFile))
	if err != nil {
		return nil, nil, fmt.Errorf("genesis %s: %w", path, err)
	}
	g, err := types.ParseGenesis(data)
	if err != nil {
		return nil, nil, fmt.Errorf("genesis %s: %w", path, err)
	}
	return data, g, nil
}

type initPlan struct {
	role        configs.Role
	home        string
	config      []byte
	genesisData []byte         // nil: create a new genesis
	genesis     *types.Genesis // parsed genesisData
	chainID     string
	encryptKey  bool // encrypt a new key with the passphrase from the environment
	apiToken    bool // write (or keep) apiTokenFileName, the API's write token
}

// apiTokenFileName is the API token file sixd init writes for an API
// beyond loopback.
const apiTokenFileName = "api.token"

// writeAPIToken writes a new random API token to path (mode 0600), or
// keeps and checks the one there. It reports whether it created the file.
func writeAPIToken(path string) (created bool, err error) {
	if exists, err := fileExists(path); err != nil || exists {
		if err == nil {
			_, err = node.ReadTokenFile(path)
		}
		return false, err
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return false, err
	}
	_, err = fmt.Fprintln(f, hex.EncodeToString(b[:]))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if rerr := os.Remove(path); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return false, err
	}
	return true, nil
}

func runInit(out io.Writer, p initPlan) (err error) {
	cfgPath := filepath.Join(p.home, configFileName)
	keyPath := filepath.Join(p.home, keyFileName)
	genPath := filepath.Join(p.home, genesisFileName)
	for _, path := range []string{cfgPath, genPath} {
		exists, err := fileExists(path)
		if err != nil {
			return err
		}
		if exists {
			return fmt.Errorf("%s already exists; refusing to overwrite it (remove it or choose another --home)", path)
		}
	}
	keyExists, err := fileExists(keyPath)
	if err != nil {
		return err
	}
	var pass []byte
	if p.encryptKey {
		if keyExists {
			return fmt.Errorf("--encrypt-key: %s exists and is kept as it is; encrypt it with 'sixd keys encrypt --key %s'", keyPath, keyPath)
		}
		if pass, _, err = passphraseFromEnv(); err != nil {
			if errors.Is(err, errNoPassphrase) {
				return fmt.Errorf("--encrypt-key needs a passphrase: set %s or %s", envPassphraseFile, envPassphrase)
			}
			return err
		}
		defer clear(pass)
	}

	if err := mkdirPrivate(p.home); err != nil {
		return err
	}

	// Undo what this run created if a later step fails.
	var created []string
	defer func() {
		if err != nil {
			for _, path := range created {
				_ = os.Remove(path) // best-effort cleanup after the error being returned
			}
		}
	}()

	var key *identity.PrivateKey
	if keyExists {
		if key, err = loadKey(keyPath, "node key"); err != nil {
			return fmt.Errorf("%s exists but cannot be used: %w", keyPath, err)
		}
	} else {
		if key, err = identity.Generate(nil); err != nil {
			return err
		}
		if p.encryptKey {
			err = identity.SaveKeyFileEncrypted(keyPath, key, pass, identity.ScryptParams{})
		} else {
			err = identity.SaveKeyFile(keyPath, key)
		}
		if err != nil {
			return err
		}
		created = append(created, keyPath)
	}

	genesis, genesisData := p.genesis, p.genesisData
	if genesisData == nil {
		genesis = types.NewGenesis(p.chainID, time.Now(), key.Public())
		if err = genesis.Validate(); err != nil {
			return err
		}
		genesisData = genesis.MarshalTOML()
	}
	if err = configs.WriteFile(genPath, genesisData); err != nil {
		return err
	}
	created = append(created, genPath)
	tokenPath := filepath.Join(p.home, apiTokenFileName)
	if p.apiToken {
		var made bool
		if made, err = writeAPIToken(tokenPath); err != nil {
			return fmt.Errorf("API token: %w", err)
		}
		if made {
			created = append(created, tokenPath)
		}
	}
	if err = configs.WriteFile(cfgPath, p.config); err != nil {
		return err
	}
	created = append(created, cfgPath)

	pub := key.Public()
	fmt.Fprintf(out, "Initialised %s node in %s\n", p.role, p.home)
	fmt.Fprintf(out, "  peer ID:  %s\n", pub.PeerID())
	fmt.Fprintf(out, "  DID:      %s\n", pub.DID())
	fmt.Fprintf(out, "  config:   %s\n", cfgPath)
	switch {
	case keyExists:
		fmt.Fprintf(out, "  key:      %s (existing key kept)\n", keyPath)
	case p.encryptKey:
		fmt.Fprintf(out, "  key:      %s (encrypted; set %s or %s to use it)\n", keyPath, envPassphraseFile, envPassphrase)
	default:
		fmt.Fprintf(out, "  key:      %s\n", keyPath)
	}
	if p.genesisData == nil {
		fmt.Fprintf(out, "  genesis:  %s (new chain %q; this node is its only authority)\n", genPath, genesis.ChainID)
	} else {
		authority := "not an authority"
		for _, a := range genesis.Authorities {
			if a == pub.DID() {
				authority = "an authority"
			}
		}
		fmt.Fprintf(out, "  genesis:  %s (chain %q, %d authorities; this node is %s)\n", genPath, genesis.ChainID,
			len(genesis.Authorities), authority)
	}
	if p.apiToken {
		fmt.Fprintf(out, "  api token: %s (the API listens beyond loopback: writes need \"Authorization: Bearer <token>\")\n", tokenPath)
	}
	fmt.Fprintf(out, "Start it with: sixd run --home %s\n", p.home)
	return nil
}
