package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/sixdomain/sixdomain/ledger"
	"github.com/sixdomain/sixdomain/node"
)

// timeLayout prints times in UTC with milliseconds.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

func newBlockCmd() *cobra.Command {
	var (
		af     apiFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "block [HEIGHT|latest] [--api URL] [--json]",
		Short: "Print a block (default: the latest)",
		Long: `block prints the block at HEIGHT (or the latest block): its height, hash,
time, proposer, transaction count and transactions. --json prints the node's
JSON answer as it is.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return fmt.Errorf("%q takes at most one argument, a height or \"latest\"", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			id := "latest"
			if len(args) == 1 {
				id = strings.TrimSpace(args[0])
			}
			if id != "latest" {
				h, err := strconv.ParseUint(id, 10, 64)
				if err != nil || h == 0 {
					return fmt.Errorf("block %q: want a height (1, 2, ...) or \"latest\"", truncate(id, 40))
				}
				id = strconv.FormatUint(h, 10)
			}
			c, err := af.client()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			var b node.BlockJSON
			if done, err := fetchOrEcho(cmd.Context(), c, "/v1/blocks/"+id, asJSON, out, &b); done || err != nil {
				return err
			}
			printBlock(out, &b)
			return nil
		},
	}
	af.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the node's JSON answer")
	return cmd
}

func printBlock(out io.Writer, b *node.BlockJSON) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "height:\t%d\n", b.Height)
	fmt.Fprintf(w, "hash:\t%s\n", b.Hash)
	fmt.Fprintf(w, "parent:\t%s\n", b.Parent)
	fmt.Fprintf(w, "time:\t%s\n", b.Time.UTC().Format(timeLayout))
	turn := "in turn"
	if b.Difficulty != 2 {
		turn = "out of turn"
	}
	fmt.Fprintf(w, "proposer:\t%s (%s)\n", b.Proposer, turn)
	final := "no (in the head chain, not yet final)"
	if b.Final {
		final = "yes"
	}
	fmt.Fprintf(w, "final:\t%s\n", final)
	if b.Vote != nil {
		verb := "drop"
		if b.Vote.Add {
			verb = "add"
		}
		fmt.Fprintf(w, "authority vote:\t%s %s\n", verb, b.Vote.Target)
	}
	if len(b.Checkpoint) > 0 {
		fmt.Fprintf(w, "checkpoint:\t%d authorities\n", len(b.Checkpoint))
	}
	fmt.Fprintf(w, "state root:\t%s\n", b.StateRoot)
	fmt.Fprintf(w, "txs:\t%d\n", b.TxCount)
	w.Flush()
	if len(b.Txs) == 0 {
		return
	}
	w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "  TX HASH\tTYPE\tSENDER\tNONCE\tRECORD")
	for _, tx := range b.Txs {
		rec := payloadSummary(tx)
		fmt.Fprintf(w, "  %s\t%s\t%s\t%d\t%s\n", tx.Hash, tx.Type, tx.Sender, tx.Nonce, rec)
	}
	w.Flush()
}

func newRecordsCmd() *cobra.Command {
	var (
		af             apiFlags
		sender, stream string
		after          uint64
		limit          int
		asJSON         bool
	)
	cmd := &cobra.Command{
		Use:   "records --sender DID|PEER-ID [--stream S] [--after NONCE] [--limit N] [--api URL] [--json]",
		Short: "Print a device's committed records",
		Long: `records prints the committed data records of one sender (a did:key or peer
ID), oldest first: nonce, time, stream, value, block height and transaction
hash. --after pages on from a nonce; --json prints the node's JSON answer.

Encrypted records (content type application/sixdomain-envelope+cbor) show as
hex; their recipients read them with 'sixd records decrypt TX-HASH'.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pub, err := parseKeyRef(sender)
			if err != nil {
				return fmt.Errorf("--sender: %w", err)
			}
			if limit < 1 || limit > ledger.MaxRecordsLimit {
				return fmt.Errorf("--limit must be 1 to %d, got %d", ledger.MaxRecordsLimit, limit)
			}
			q := url.Values{}
			q.Set("sender", pub.DID())
			if stream != "" {
				q.Set("stream", stream)
			}
			if after > 0 {
				q.Set("after", strconv.FormatUint(after, 10))
			}
			q.Set("limit", strconv.Itoa(limit))
			c, err := af.client()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			var resp node.RecordsResponse
			if done, err := fetchOrEcho(cmd.Context(), c, "/v1/records?"+q.Encode(), asJSON, out, &resp); done || err != nil {
				return err
			}
			if len(resp.Records) == 0 {
				fmt.Fprintf(out, "no records of %s\n", resp.Sender)
				return nil
			}
			w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NONCE\tTIME\tSTREAM\tVALUE\tHEIGHT\tTX HASH")
			for _, r := range resp.Records {
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%d\t%s\n", r.Nonce, time.UnixMilli(r.Timestamp).UTC().Format(timeLayout),
					r.Stream, displayValue(r.RecordPayload), r.Height, r.TxHash)
			}
			return w.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&sender, "sender", "", "the device: a did:key or peer ID (required)")
	f.StringVar(&stream, "stream", "", "only this stream")
	f.Uint64Var(&after, "after", 0, "only records with a nonce above this")
	f.IntVar(&limit, "limit", 100, fmt.Sprintf("most records to print (1 to %d)", ledger.MaxRecordsLimit))
	f.BoolVar(&asJSON, "json", false, "print the node's JSON answer")
	af.add(cmd)
	_ = cmd.MarkFlagRequired("sender") // fails only for an undefined flag
	cmd.AddCommand(newRecordsDecryptCmd())
	return cmd
}

// maxDisplayValue is how many characters of a value a table shows.
const maxDisplayValue = 64

// displayValue renders a record value for one table cell: text as is
// unless it has spaces or control characters (then quoted), binary as 0x hex.
func displayValue(p node.RecordPayload) string {
	if p.Value == "" && len(p.ValueHex) > 0 {
		return truncate("0x"+hex.EncodeToString(p.ValueHex), maxDisplayValue)
	}
	return quoteIfNeeded(truncate(p.Value, maxDisplayValue))
}

// quoteIfNeeded quotes s if it is empty or has spaces or non-printable
// characters, so that it stays one cell and one line.
func quoteIfNeeded(s string) string {
	if s == "" || strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) || r == '"' }) {
		return strconv.Quote(s)
	}
	return s
}

// fetchOrEcho GETs path. With asJSON it copies the node's answer to out
// and reports done; otherwise it decodes the answer into into.
func fetchOrEcho(ctx context.Context, c *apiClient, path string, asJSON bool, out io.Writer, into any) (bool, error) {
	raw, err := c.getRaw(ctx, path)
	if err != nil {
		return false, err
	}
	if asJSON {
		_, err := out.Write(raw)
		return true, err
	}
	return false, decodeBody(raw, into)
}
