package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/node"
)

// errTxFailed: a transaction was included but its receipt says it failed
// (it consumed its nonce and gas and changed nothing else).
var errTxFailed = errors.New("transaction failed")

// submitTx signs a transaction of type typ with payload, with the home
// key's next nonce, checks it as every node will (ValidateBasic: sizes,
// payload) and submits it. kind names it in errors.
func (s *regSession) submitTx(ctx context.Context, typ types.TxType, payload []byte, kind string) (*types.Tx, error) {
	if s.nonce == 0 {
		nonce, err := nextNonce(ctx, s.c, s.did())
		if err != nil {
			return nil, err
		}
		s.nonce = nonce
	}
	tx := &types.Tx{Version: types.TxVersion, ChainID: s.chainID, Type: typ, Nonce: s.nonce,
		Timestamp: time.Now().UnixMilli(), Payload: payload}
	tx.Sign(s.key)
	if err := tx.ValidateBasic(s.chainID); err != nil {
		return nil, fmt.Errorf("the %s transaction would be refused: %w", kind, err)
	}
	if _, err := postTx(ctx, s.c, tx, kind); err != nil {
		return nil, err
	}
	s.nonce++
	return tx, nil
}

// finish prints the transaction hash and, with --wait, waits until it is
// committed and prints its receipt. A failure receipt is an error
// (errTxFailed) after it is printed. It returns the receipt (nil without
// --wait).
func (s *regSession) finish(cmd *cobra.Command, tx *types.Tx) (*node.ReceiptJSON, error) {
	out := cmd.OutOrStdout()
	fmt.Fprintln(out, tx.Hash())
	if !s.f.wait {
		return nil, nil
	}
	ctx := cmd.Context()
	if _, err := waitCommitted(ctx, s.c, tx.Hash(), s.did(), s.f.timeout); err != nil {
		return nil, err
	}
	r, err := getReceipt(ctx, s.c, tx.Hash())
	if err != nil {
		return nil, err
	}
	printReceipt(out, r)
	return r, receiptErr(r)
}

// receiptErr is nil for a successful receipt and errTxFailed (with the
// reason and error) for a failed one.
func receiptErr(r *node.ReceiptJSON) error {
	if r.Status == node.ReceiptStatusOK {
		return nil
	}
	return fmt.Errorf("%w in block %d: %s: %s", errTxFailed, r.Height, r.Reason, r.Error)
}

func getReceipt(ctx context.Context, c *apiClient, h types.Hash) (*node.ReceiptJSON, error) {
	var r node.ReceiptJSON
	if err := c.getJSON(ctx, "/v1/receipts/"+url.PathEscape(h.String()), &r); err != nil {
		return nil, fmt.Errorf("reading the receipt of %s: %w", h, err)
	}
	return &r, nil
}

// compactJSON renders a decoded value on one line.
func compactJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// printReceipt prints a receipt as "name: value" lines.
func printReceipt(w io.Writer, r *node.ReceiptJSON) {
	status := r.Status
	if r.Reason != "" {
		status += " (" + r.Reason + ")"
	}
	fmt.Fprintf(w, "status:     %s\n", status)
	fmt.Fprintf(w, "block:      %d (index %d)\n", r.Height, r.Index)
	if r.Error != "" {
		fmt.Fprintf(w, "error:      %s\n", r.Error)
	}
	if r.GasUsed != 0 {
		fmt.Fprintf(w, "gas used:   %d\n", r.GasUsed)
	}
	if r.Address != nil {
		fmt.Fprintf(w, "address:    0x%s\n", r.Address)
	}
	if len(r.Return) > 0 {
		fmt.Fprintf(w, "return:     %s\n", compactJSON(r.ReturnValue))
	}
	for _, e := range r.Events {
		fmt.Fprintf(w, "event:      %s %s\n", e.Topic, compactJSON(e.Value))
	}
}

func newReceiptCmd() *cobra.Command {
	var (
		af     apiFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "receipt TXHASH [--json] [--api URL]",
		Short: "Print the receipt of a committed asset, deploy or call transaction",
		Long: `receipt prints the outcome of a committed transaction whose state rules may
refuse it after inclusion (asset operations, contract deploys and calls):
its status (ok, or failed with a reason code and the error), block, gas used,
the contract's address for a deploy, the decoded return value and the events.
A failed transaction was included, consumed its nonce and gas, and changed
nothing else. --json prints the node's JSON answer (GET /v1/receipts/{hash}).`,
		Example: `  sixd receipt 3f1c...e9
  sixd receipt 3f1c...e9 --json`,
		Args: exactArgs(1, "a transaction hash"),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, err := types.ParseHash(args[0])
			if err != nil {
				return fmt.Errorf("transaction hash: %w", err)
			}
			c, err := af.client()
			if err != nil {
				return err
			}
			if asJSON {
				raw, err := c.getRaw(cmd.Context(), "/v1/receipts/"+h.String())
				if err != nil {
					return err
				}
				_, err = cmd.OutOrStdout().Write(raw)
				return err
			}
			r, err := getReceipt(cmd.Context(), c, h)
			if err != nil {
				return err
			}
			printReceipt(cmd.OutOrStdout(), r)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the node's JSON answer")
	af.add(cmd)
	return cmd
}

// payloadSummary describes a transaction's payload on one line: a
// record's stream=value, an asset operation, a deploy or a call.
func payloadSummary(tx node.TxJSON) string {
	switch {
	case tx.Record != nil:
		return tx.Record.Stream + "=" + displayValue(*tx.Record)
	case tx.Asset != nil:
		a := tx.Asset
		s := a.Op
		if a.Denom != "" {
			s += " " + a.Denom
		}
		if a.Amount != 0 {
			s += " " + strconv.FormatUint(a.Amount, 10)
		}
		if a.Account != "" {
			s += " account " + a.Account
		}
		if a.To != "" {
			s += " to " + a.To
		}
		return s
	case tx.Deploy != nil:
		return fmt.Sprintf("deploy 0x%s (%d bytes, code %s)", tx.Deploy.Address, tx.Deploy.CodeSize, tx.Deploy.CodeHash)
	case tx.Call != nil:
		var args []string
		if list, ok := tx.Call.Args.([]any); ok {
			for _, a := range list {
				args = append(args, compactJSON(a))
			}
		}
		s := fmt.Sprintf("call 0x%s %s(%s)", tx.Call.Address, tx.Call.Method, strings.Join(args, ", "))
		for _, p := range tx.Call.Paid {
			s += fmt.Sprintf(" pay %s:%d", p.Denom, p.Amount)
		}
		return s
	}
	return ""
}
