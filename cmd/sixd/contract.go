package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sixdomain/sixdomain/contracts"
	"github.com/sixdomain/sixdomain/ledger"
	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/node"
)

// Contracts (docs/CONTRACTS.md): deploy and call transactions signed with
// the home key, and the contract and storage reads of the API.

// defaultGas is the gas limit of deploys and calls without --gas.
const defaultGas = 2_000_000

// errBadArgs: --args is not a JSON array of contract values.
var errBadArgs = errors.New("bad --args")

func newContractCmd() *cobra.Command {
	c := groupCmd("contract", "Contracts: deploy, call, show, storage",
		newContractDeployCmd(), newContractCallCmd(), newContractShowCmd(), newContractStorageCmd())
	c.Long = `contract deploys and calls contracts: small programs in a deterministic,
metered dialect of Starlark (docs/CONTRACTS.md). Deploy and call sign a
transaction with the home's node key and submit it to the node's API; with
--wait they wait until it is committed and print its receipt (status, gas,
return value, events). A call that fails (fail(), out of gas, ...) is still
included: it consumes its nonce and gas, changes nothing else, and the
command fails after printing the receipt.

Arguments (--args) are a JSON array: numbers become ints (contracts are
integer-only, so 1.5 is refused), strings, booleans, null, arrays and objects
with string keys.`
	return c
}

var jsonInteger = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)

// parseArgs converts --args (a JSON array) to the canonical CBOR the
// contract receives. "" means no arguments.
func parseArgs(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return contracts.EncodeArgs()
	}
	if len(s) > types.MaxArgsBytes*4 {
		return nil, fmt.Errorf("%w: %d bytes of JSON", errBadArgs, len(s))
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: not JSON: %v", errBadArgs, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the JSON array", errBadArgs)
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%w: want a JSON array of arguments, e.g. '[1, \"a\"]'", errBadArgs)
	}
	args := make([]any, len(list))
	for i, e := range list {
		a, err := contractValue(e, 0)
		if err != nil {
			return nil, fmt.Errorf("%w: argument %d: %w", errBadArgs, i+1, err)
		}
		args[i] = a
	}
	enc, err := contracts.EncodeArgs(args...)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadArgs, err)
	}
	if len(enc) > types.MaxArgsBytes {
		return nil, fmt.Errorf("%w: %d bytes encoded, at most %d", errBadArgs, len(enc), types.MaxArgsBytes)
	}
	return enc, nil
}

// maxArgDepth bounds the nesting of arguments (contracts accept 16).
const maxArgDepth = 16

// contractValue maps a decoded JSON value to a contract value.
func contractValue(v any, depth int) (any, error) {
	if depth >= maxArgDepth {
		return nil, fmt.Errorf("nested deeper than %d", maxArgDepth)
	}
	switch x := v.(type) {
	case nil, bool, string:
		return x, nil
	case json.Number:
		s := x.String()
		if !jsonInteger.MatchString(s) {
			return nil, fmt.Errorf("%s is not an integer (contracts are integer-only: scale it, e.g. 1.5 as 150)", truncate(s, 40))
		}
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, nil
		}
		if n, err := strconv.ParseUint(s, 10, 64); err == nil {
			return n, nil
		}
		return nil, fmt.Errorf("%s does not fit in 64 bits", truncate(s, 40))
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			c, err := contractValue(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			c, err := contractValue(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported JSON value %T", v)
}

// checkGas refuses a gas limit no node accepts.
func checkGas(gas uint64) error {
	if gas == 0 || gas > ledger.DefaultMaxTxGas {
		return fmt.Errorf("--gas %d: want 1 to %d", gas, uint64(ledger.DefaultMaxTxGas))
	}
	return nil
}

// readCode reads a contract file, refusing one above the code limit
// before reading it whole.
func readCode(path string, stdin io.Reader) ([]byte, error) {
	var r io.Reader
	if path == "-" {
		r = stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil && st.Size() > contracts.MaxCodeSize {
			return nil, fmt.Errorf("%s: %d bytes; a contract has at most %d (32 KiB)", path, st.Size(), contracts.MaxCodeSize)
		}
		r = f
	}
	code, err := io.ReadAll(io.LimitReader(r, contracts.MaxCodeSize+1))
	if err != nil {
		return nil, err
	}
	if len(code) > contracts.MaxCodeSize {
		return nil, fmt.Errorf("%s: more than %d bytes; a contract has at most 32 KiB", path, contracts.MaxCodeSize)
	}
	if len(code) == 0 {
		return nil, fmt.Errorf("%s is empty", path)
	}
	return code, nil
}

func newContractDeployCmd() *cobra.Command {
	var (
		of   opFlags
		args string
		gas  uint64
	)
	cmd := &cobra.Command{
		Use:   "deploy FILE.star [--args JSON-array] [--gas N] [--wait]",
		Short: "Deploy a contract; prints its address",
		Long: `deploy checks the contract locally (the same deploy-time checks every node
runs: syntax, the dialect's rules, EXPORTS, 32 KiB), then signs a deploy
transaction with the home key and submits it. --args are the arguments of the
contract's init. It prints the transaction hash and the contract's address
(derived from the sender and the nonce); with --wait the receipt.`,
		Example: `  sixd contract deploy contracts/examples/counter.star --args '[0]' --wait`,
		Args:    exactArgs(1, "a contract file (.star, or - for stdin)"),
		RunE: func(cmd *cobra.Command, a []string) error {
			code, err := readCode(a[0], cmd.InOrStdin())
			if err != nil {
				return err
			}
			if _, err := contracts.Check(code); err != nil {
				return fmt.Errorf("%s: %w", a[0], err)
			}
			init, err := parseArgs(args)
			if err != nil {
				return err
			}
			if err := checkGas(gas); err != nil {
				return err
			}
			ctx := cmd.Context()
			s, err := openSession(ctx, &of)
			if err != nil {
				return err
			}
			d := &types.Deploy{Code: code, InitArgs: init, GasLimit: gas}
			tx, err := s.submitTx(ctx, types.TxDeploy, d.Encode(), "deploy")
			if err != nil {
				return err
			}
			addr := types.ContractAddress(tx.Sender, tx.Nonce)
			fmt.Fprintf(cmd.OutOrStdout(), "contract 0x%s\n", addr)
			_, err = s.finish(cmd, tx)
			return err
		},
	}
	cmd.Flags().StringVar(&args, "args", "", "init arguments as a JSON array, e.g. '[5]'")
	cmd.Flags().Uint64Var(&gas, "gas", defaultGas, "gas limit")
	of.add(cmd)
	return cmd
}

// parsePay parses DENOM:AMOUNT.
func parsePay(s string) (types.Coin, error) {
	denom, amount, ok := strings.Cut(s, ":")
	if !ok {
		return types.Coin{}, fmt.Errorf("--pay %q: want DENOM:AMOUNT", truncate(s, 40))
	}
	if err := checkDenomName(denom); err != nil {
		return types.Coin{}, fmt.Errorf("--pay: %w", err)
	}
	n, err := parseAmount(amount)
	if err != nil {
		return types.Coin{}, fmt.Errorf("--pay: %w", err)
	}
	return types.Coin{Denom: denom, Amount: n}, nil
}

// getContract reads a contract; none at the address is a clear error.
func getContract(cmd *cobra.Command, c *apiClient, addr types.Hash) (*node.ContractJSON, []byte, error) {
	raw, err := c.getRaw(cmd.Context(), "/v1/contracts/"+addr.String())
	if err != nil {
		if isHTTPStatus(err, http.StatusNotFound) {
			return nil, nil, fmt.Errorf("no contract at 0x%s (deployed and committed?)", addr)
		}
		return nil, nil, err
	}
	var j node.ContractJSON
	if err := decodeBody(raw, &j); err != nil {
		return nil, nil, err
	}
	return &j, raw, nil
}

func newContractCallCmd() *cobra.Command {
	var (
		of   opFlags
		args string
		pay  []string
		gas  uint64
	)
	cmd := &cobra.Command{
		Use:   "call ADDRESS METHOD [--args JSON-array] [--pay DENOM:AMOUNT ...] [--gas N] [--wait]",
		Short: "Call a contract's method; with --wait prints the return value and events",
		Long: `call checks that a contract lives at ADDRESS and exports METHOD, then signs a
call transaction with the home key and submits it. --pay (repeatable) attaches
coins, moved from the home key's account to the contract's before the method
runs (and back if the call fails). With --wait it prints the receipt: the
decoded return value and the events; a failed call prints its failure receipt
and the command fails.`,
		Example: `  sixd contract call 0x9c1f... inc --args '[2]' --wait
  sixd contract call 0x9c1f... deposit --pay credit:100 --wait`,
		Args: exactArgs(2, "a contract address and a method"),
		RunE: func(cmd *cobra.Command, a []string) error {
			addr, err := node.ParseContractAddress(a[0])
			if err != nil {
				return err
			}
			method := a[1]
			if method == "" || len(method) > types.MaxMethodLen {
				return fmt.Errorf("method name of %d bytes: want 1 to %d", len(method), types.MaxMethodLen)
			}
			enc, err := parseArgs(args)
			if err != nil {
				return err
			}
			if err := checkGas(gas); err != nil {
				return err
			}
			if len(pay) > types.MaxPaid {
				return fmt.Errorf("--pay: at most %d coins", types.MaxPaid)
			}
			var paid []types.Coin
			for _, p := range pay {
				c, err := parsePay(p)
				if err != nil {
					return err
				}
				paid = append(paid, c)
			}
			ctx := cmd.Context()
			s, err := openSession(ctx, &of)
			if err != nil {
				return err
			}
			ct, _, err := getContract(cmd, s.c, addr)
			if err != nil {
				return err
			}
			if !slices.Contains(ct.Exports, method) {
				return fmt.Errorf("contract 0x%s does not export %q (exports: %s)", addr, method, listOrNone(ct.Exports))
			}
			for _, p := range paid {
				if _, err := getDenom(ctx, s.c, p.Denom); err != nil {
					return fmt.Errorf("--pay: %w", err)
				}
			}
			call := &types.Call{Address: addr, Method: method, Args: enc, GasLimit: gas, Paid: paid}
			tx, err := s.submitTx(ctx, types.TxCall, call.Encode(), "call")
			if err != nil {
				return err
			}
			_, err = s.finish(cmd, tx)
			return err
		},
	}
	cmd.Flags().StringVar(&args, "args", "", "arguments as a JSON array, e.g. '[2, \"x\"]'")
	cmd.Flags().StringArrayVar(&pay, "pay", nil, "attach DENOM:AMOUNT to the call (repeatable)")
	cmd.Flags().Uint64Var(&gas, "gas", defaultGas, "gas limit")
	of.add(cmd)
	return cmd
}

func newContractShowCmd() *cobra.Command {
	var (
		af     apiFlags
		asJSON bool
		code   bool
	)
	cmd := &cobra.Command{
		Use:   "show ADDRESS [--code] [--json] [--api URL]",
		Short: "Print a deployed contract: code hash, creator, exported methods",
		Example: `  sixd contract show 0x9c1f...
  sixd contract show 0x9c1f... --code`,
		Args: exactArgs(1, "a contract address"),
		RunE: func(cmd *cobra.Command, a []string) error {
			addr, err := node.ParseContractAddress(a[0])
			if err != nil {
				return err
			}
			c, err := af.client()
			if err != nil {
				return err
			}
			ct, raw, err := getContract(cmd, c, addr)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch {
			case asJSON:
				_, err = out.Write(raw)
				return err
			case code:
				_, err = io.WriteString(out, ct.Code)
				return err
			}
			fmt.Fprintf(out, "address:    0x%s\n", ct.Address)
			fmt.Fprintf(out, "code hash:  %s\n", ct.CodeHash)
			fmt.Fprintf(out, "code size:  %d bytes\n", ct.CodeSize)
			fmt.Fprintf(out, "creator:    %s\n", ct.Creator)
			fmt.Fprintf(out, "exports:    %s\n", listOrNone(ct.Exports))
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the node's JSON answer (with the code)")
	cmd.Flags().BoolVar(&code, "code", false, "print the contract's code")
	af.add(cmd)
	return cmd
}

func newContractStorageCmd() *cobra.Command {
	var (
		af     apiFlags
		asJSON bool
		isHex  bool
	)
	cmd := &cobra.Command{
		Use:   "storage ADDRESS KEY [--hex] [--json] [--api URL]",
		Short: "Print a value of a contract's storage",
		Long: `storage prints the value under KEY in the contract's storage (decoded from
its canonical CBOR; byte strings show as {"bytes":"<hex>"}), or "absent".
KEY is text; with --hex it is the hex of a bytes key.`,
		Example: `  sixd contract storage 0x9c1f... count`,
		Args:    exactArgs(2, "a contract address and a key"),
		RunE: func(cmd *cobra.Command, a []string) error {
			addr, err := node.ParseContractAddress(a[0])
			if err != nil {
				return err
			}
			key := []byte(a[1])
			if isHex {
				if key, err = hex.DecodeString(strings.TrimPrefix(a[1], "0x")); err != nil {
					return fmt.Errorf("key %q is not hex", truncate(a[1], 40))
				}
			}
			if len(key) == 0 || len(key) > 256 {
				return fmt.Errorf("a storage key has 1 to 256 bytes, got %d", len(key))
			}
			c, err := af.client()
			if err != nil {
				return err
			}
			raw, err := c.getRaw(cmd.Context(), "/v1/contracts/"+addr.String()+"/storage?key_hex="+url.QueryEscape(hex.EncodeToString(key)))
			if err != nil {
				if isHTTPStatus(err, http.StatusNotFound) {
					return fmt.Errorf("no contract at 0x%s", addr)
				}
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				_, err = out.Write(raw)
				return err
			}
			var sj node.StorageJSON
			if err := decodeBody(raw, &sj); err != nil {
				return err
			}
			if !sj.Present {
				fmt.Fprintln(out, "absent")
				return nil
			}
			fmt.Fprintln(out, compactJSON(sj.Value))
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the node's JSON answer")
	cmd.Flags().BoolVar(&isHex, "hex", false, "KEY is hex (a bytes key)")
	af.add(cmd)
	return cmd
}

// jsonEncoder returns an indenting JSON encoder.
func jsonEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc
}
