package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/sixdomain/sixdomain/ledger/types"
)

// maxRequestFile bounds how much of an onboarding request is read.
const maxRequestFile = 64 << 10

// didRequest is an onboarding request: a register operation of a device's
// key, approved by that key for one chain, for a gateway to submit.
type didRequest struct {
	ChainID string         `json:"chain_id"`
	DID     string         `json:"did"`
	Op      types.HexBytes `json:"op"` // DIDOp.Encode()
}

// homeChainID returns the chain ID of the home's genesis: the genesis file
// of its config.toml, else <home>/genesis.toml.
func homeChainID(home string) (string, error) {
	path := filepath.Join(home, genesisFileName)
	cfg, ok, err := loadConfigIfPresent(home)
	if err != nil {
		return "", err
	}
	if ok && cfg.GenesisFile != "" {
		path = cfg.GenesisFile
	}
	g, err := types.LoadGenesis(path)
	if err != nil {
		if errNotExist(err) {
			return "", fmt.Errorf("%s not found: the chain ID comes from the home's genesis (copy the chain's genesis.toml there, or 'sixd init --genesis')", path)
		}
		return "", err
	}
	return g.ChainID, nil
}

func newDIDRequestCmd() *cobra.Command {
	var (
		home, out string
		rf        registerFlags
	)
	cmd := &cobra.Command{
		Use:   "request --domain D --role R [--controller DID ...] [--threshold N] [--service id=TYPE,ENDPOINT ...] [--home DIR] [--out FILE]",
		Short: "Write an onboarding request for this device's DID (offline; for 'did onboard')",
		Long: `request is run on a device that joins a chain with admission = "admitted",
where it may not send transactions before it is admitted. It builds the
registration of the device's DID (the did:key of the home's node key) with its
domain, role, controllers and services, signs it with the node key for the
chain of the home's genesis.toml, and writes the request as JSON:

  {"chain_id": "...", "did": "did:key:...", "op": "<hex of the operation>"}

to stdout or --out FILE. The request holds no secret. Carry it to a gateway
(or authority), which submits it with 'sixd did onboard'. It needs no network.`,
		Example: `  sixd did request --home ./dev1 --domain sensing --role device --out dev1-request.json
  sixd did request --domain sensing --role device --service coap=CoAP,coap://[2001:db8::7]:5683 | ssh gw sixd did onboard - --wait`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			home, err := resolveHome(home)
			if err != nil {
				return err
			}
			_, key, err := loadHomeKey(home)
			if err != nil {
				return err
			}
			chainID, err := homeChainID(home)
			if err != nil {
				return err
			}
			op, err := rf.op(cmd, key.Public())
			if err != nil {
				return err
			}
			op.Approve(chainID, key)
			data, err := json.MarshalIndent(didRequest{ChainID: chainID, DID: key.Public().DID(), Op: op.Encode()}, "", "  ")
			if err != nil {
				return err
			}
			data = append(data, '\n')
			if out == "" {
				_, err := cmd.OutOrStdout().Write(data)
				return err
			}
			if err := os.WriteFile(out, data, 0o644); err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote the onboarding request of %s (chain %q) to %s\n", key.Public().DID(), chainID, out)
			return nil
		},
	}
	addHomeFlag(cmd, &home)
	cmd.Flags().StringVar(&out, "out", "", "file to write the request to (default: stdout)")
	rf.add(cmd)
	return cmd
}

// readRequest reads and checks an onboarding request from path ("-":
// stdin) for chain chainID: a register operation whose subject approved
// it on that chain.
func readRequest(cmd *cobra.Command, path, chainID string) (*didRequest, *types.DIDOp, error) {
	var r io.Reader = cmd.InOrStdin()
	name := "stdin"
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, nil, fmt.Errorf("request: %w", err)
		}
		defer f.Close()
		r, name = f, path
	}
	data, err := io.ReadAll(io.LimitReader(r, maxRequestFile+1))
	if err != nil {
		return nil, nil, fmt.Errorf("reading the request from %s: %w", name, err)
	}
	if len(data) > maxRequestFile {
		return nil, nil, fmt.Errorf("request %s exceeds %d bytes", name, maxRequestFile)
	}
	var req didRequest
	if err := json.Unmarshal(data, &req); err != nil {
		return nil, nil, fmt.Errorf("request %s is not an onboarding request ('sixd did request' writes them): %v", name, err)
	}
	if len(req.Op) == 0 {
		return nil, nil, fmt.Errorf("request %s has no \"op\"", name)
	}
	if req.ChainID != chainID {
		return nil, nil, fmt.Errorf("request %s is for chain %q, but the node runs chain %q", name, req.ChainID, chainID)
	}
	op, err := types.DecodeDIDOp(req.Op)
	if err != nil {
		return nil, nil, fmt.Errorf("request %s: %w", name, err)
	}
	if op.Op != types.OpRegister {
		return nil, nil, fmt.Errorf("request %s holds a %s operation, not a register", name, op.Op)
	}
	if req.DID != "" && req.DID != op.Subject.DID() {
		return nil, nil, fmt.Errorf("request %s names %s but registers %s", name, req.DID, op.Subject.DID())
	}
	if err := op.VerifyApprovals(chainID); err != nil {
		return nil, nil, fmt.Errorf("request %s: %w", name, err)
	}
	approved := false
	for _, a := range op.Approvals {
		approved = approved || a.Signer == op.Subject
	}
	if !approved {
		return nil, nil, fmt.Errorf("request %s is not signed by %s, the key it registers", name, op.Subject.DID())
	}
	return &req, op, nil
}

func newDIDOnboardCmd() *cobra.Command {
	var of opFlags
	cmd := &cobra.Command{
		Use:   "onboard REQUEST-FILE|- [--home DIR] [--api URL] [--wait] [--timeout D]",
		Short: "Register and admit a device from its onboarding request (run on a gateway)",
		Long: `onboard is run on a gateway (or an authority) with the request a device
wrote with 'sixd did request' (a file, or - for stdin). It checks that the
request is for the node's chain, that it registers the device's key and that
the device signed it, then submits two transactions signed by the home key,
with consecutive nonces:

  1. the registration of the device's DID, carrying the device's signature;
  2. the admission of the device (version 1).

The home key must be an authority, or an admitted entity that may admit
entities of the device's domain (an authority grants that with
'sixd did admit <gateway> --onboard <domains>').

It prints the two transaction hashes. With --wait it waits until both are
committed and prints "<device DID> admitted by <gateway DID>": the device may
then send transactions.`,
		Example: `  sixd did onboard dev1-request.json --home ./gw --wait
  ssh dev1 sixd did request --domain sensing --role device | sixd did onboard - --wait`,
		Args: exactArgs(1, "the request file written by 'sixd did request', or - for stdin"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := openSession(ctx, &of)
			if err != nil {
				return err
			}
			_, op, err := readRequest(cmd, args[0], s.chainID)
			if err != nil {
				return err
			}
			device := op.Subject
			if op.Subject == s.key.Public() {
				return errors.New("the request registers the home key itself; onboard requests of other keys (an authority may use 'sixd did register')")
			}
			r, err := s.resolve(ctx, device.DID())
			if err != nil {
				return err
			}
			if r.Registered {
				return fmt.Errorf("%s is registered already (as %s, version %d, %s); admit it with 'sixd did admit'",
					device.DID(), r.Canonical.DID(), r.Version, admissionState(r))
			}
			if err := s.checkAdmitter(ctx, device, op.Domain.String(), false); err != nil {
				return err
			}
			h1, err := s.submit(ctx, op)
			if err != nil {
				return err
			}
			h2, err := s.submit(ctx, &types.DIDOp{Op: types.OpAdmit, Subject: device, Version: 1})
			if err != nil {
				fmt.Fprintln(cmd.OutOrStdout(), h1)
				return fmt.Errorf("the registration %s was submitted, but the admission was not: %w", h1, err)
			}
			if _, err := s.report(cmd, h1, h2); err != nil {
				return err
			}
			if of.wait {
				fmt.Fprintf(cmd.OutOrStdout(), "%s (%s %s) admitted by %s\n", device.DID(), op.Domain, op.Role, s.did())
			} else {
				fmt.Fprintf(cmd.ErrOrStderr(), "submitted the registration and admission of %s; check with 'sixd did resolve %s'\n", device.DID(), device.DID())
			}
			return nil
		},
	}
	of.add(cmd)
	return cmd
}
