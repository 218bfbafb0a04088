package pubsub

import (
	"context"
	"fmt"
	"time"

	lp2pps "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/sixdomain/sixdomain/ledger/types"
)

// BatchTopic is the topic on which gateways and authorities disseminate
// transaction batches (types.TxBatch).
func BatchTopic(chainID string) string { return "/sixdomain/" + chainID + "/txbatch/1" }

// VerifyTxs checks the signatures of txs, skipping those the cache has
// verified, and returns one error per transaction (nil: valid), or nil
// when all are valid. It is
// the batch verifier's entry point; TxChecker.Verify replaces it when set.
type VerifyTxs func(txs []*types.Tx, cache *types.SigCache) []error

// verifyEach is VerifyTxs by one signature check per transaction.
func verifyEach(txs []*types.Tx, cache *types.SigCache) []error {
	errs := make([]error, len(txs))
	for i, tx := range txs {
		errs[i] = cache.Verify(tx)
	}
	return errs
}

// BatchResult is the outcome of checking one batch.
type BatchResult struct {
	Txs      int // transactions in the batch
	Admitted int // taken into the mempool
	Errs     []error
	First    error // the first refusal that no honest peer could cause, if any
}

// CheckBatch runs Check's checks on the transactions of a decoded batch,
// cheapest first and with the signatures of all those still in play
// verified together (the checker's Verify, by default one check each):
// fields and chain ID, timestamp, sender admission, nonce and
// duplicates, then the signatures, then Admit. sizes[i] is the length of
// txs[i]'s encoding.
func (c *TxChecker) CheckBatch(txs []*types.Tx, sizes []int) BatchResult {
	res := BatchResult{Txs: len(txs), Errs: make([]error, len(txs))}
	live := make([]*types.Tx, 0, len(txs))
	idx := make([]int, 0, len(txs))
	now := c.Now()
	for i, tx := range txs {
		if err := c.precheck(tx, now); err != nil {
			res.Errs[i] = err
			continue
		}
		live = append(live, tx)
		idx = append(idx, i)
	}
	verify := c.Verify
	if verify == nil {
		verify = verifyEach
	}
	if len(live) > 0 {
		verdicts := verify(live, c.Sigs) // nil: all valid
		for j := range live {
			if verdicts != nil && verdicts[j] != nil {
				res.Errs[idx[j]] = verdicts[j]
				continue
			}
			if c.Admit != nil {
				if err := c.Admit(live[j], sizes[idx[j]]); err != nil {
					res.Errs[idx[j]] = fmt.Errorf("%w: %w", ErrNotAdmitted, err)
					continue
				}
			}
			res.Admitted++
		}
	}
	for _, err := range res.Errs {
		if err != nil && TxVerdict(err) == lp2pps.ValidationReject {
			res.First = err
			break
		}
	}
	return res
}

// precheck is every check of CheckDecoded but the signature and Admit,
// with the nonce and duplicate checks first among the stateful ones.
func (c *TxChecker) precheck(tx *types.Tx, now time.Time) error {
	if err := tx.ValidateBasic(c.ChainID); err != nil {
		return err
	}
	if committed := c.Nonce(tx.Sender); tx.Nonce <= committed {
		return fmt.Errorf("%w: nonce %d, sender %s has committed up to %d", types.ErrReplayedNonce, tx.Nonce, tx.Sender.DID(), committed)
	}
	if c.Known != nil && c.Known(tx.Hash()) {
		return fmt.Errorf("%w: transaction %s", ErrDuplicate, tx.Hash())
	}
	if err := tx.CheckTime(now, c.Window); err != nil {
		return err
	}
	if c.Sender != nil {
		if err := c.Sender(tx); err != nil {
			return err
		}
	}
	return nil
}

// BatchVerdict maps a batch's result to a gossip verdict: Reject when a
// transaction in it fails a check that no honest batcher lets through (a
// bad signature, a malformed transaction: batchers check what they
// batch), Ignore when it brought nothing new (every transaction already
// known, committed or not admitted), Accept otherwise, so the router
// forwards it.
func BatchVerdict(r BatchResult) lp2pps.ValidationResult {
	switch {
	case r.First != nil:
		return lp2pps.ValidationReject
	case r.Admitted == 0:
		return lp2pps.ValidationIgnore
	}
	return lp2pps.ValidationAccept
}

// BatchValidator adapts a TxChecker to a GossipSub validator of the batch
// topic. Messages that self publishes are accepted unchecked (their
// transactions were admitted before they were batched). onResult, if not
// nil, is told each batch's result and the error that decided a Reject
// (the decoding error, or BatchResult.First).
func BatchValidator(c *TxChecker, self peer.ID, onResult func(from peer.ID, r BatchResult, err error)) lp2pps.ValidatorEx {
	return func(_ context.Context, from peer.ID, m *lp2pps.Message) lp2pps.ValidationResult {
		if self != "" && from == self {
			return lp2pps.ValidationAccept
		}
		b, txs, err := types.DecodeTxBatch(c.ChainID, m.Data)
		if err != nil {
			if onResult != nil {
				onResult(from, BatchResult{}, err)
			}
			return lp2pps.ValidationReject
		}
		sizes := make([]int, len(txs))
		for i := range txs {
			sizes[i] = len(b.Txs[i])
		}
		r := c.CheckBatch(txs, sizes)
		if onResult != nil {
			onResult(from, r, r.First)
		}
		return BatchVerdict(r)
	}
}

// RelayTxValidator is the single-transaction topic's validator on a node
// that batches: a transaction from a peer (a device, a js-libp2p client)
// is checked and admitted as TxValidator does, then handed to batch (the
// node's batcher) and Ignored, so the router does not forward it as a
// single message: it travels on in the batch. Messages that self
// publishes are accepted unchecked. onResult is told every verdict's
// reason ("ok" when admitted).
func RelayTxValidator(c *TxChecker, self peer.ID, batch func(data []byte), onResult func(from peer.ID, reason string, err error)) lp2pps.ValidatorEx {
	return func(_ context.Context, from peer.ID, m *lp2pps.Message) lp2pps.ValidationResult {
		if self != "" && from == self {
			return lp2pps.ValidationAccept
		}
		_, err := c.Check(m.Data)
		if onResult != nil {
			onResult(from, reason(err), err)
		}
		if err != nil {
			return TxVerdict(err)
		}
		batch(m.Data)
		return lp2pps.ValidationIgnore
	}
}
