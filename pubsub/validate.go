package pubsub

import (
	"context"
	"errors"
	"fmt"
	"time"

	lp2pps "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// Errors for input that is valid but not useful now (Ignore, no penalty).
var (
	ErrDuplicate = errors.New("already known")
	ErrStale     = errors.New("stale")
	// ErrNotAdmitted wraps a refusal by TxChecker.Admit (a full mempool,
	// say): the transaction may be fine, this node just does not take it.
	ErrNotAdmitted = errors.New("not admitted")
)

// TxChecker runs the checks on a transaction, cheapest first.
type TxChecker struct {
	ChainID string
	Window  types.TimeWindow
	Now     func() time.Time
	Sigs    *types.SigCache
	// Nonce returns the sender's last committed nonce.
	Nonce func(identity.PublicKey) uint64
	// Known reports whether the transaction is pending or committed.
	Known func(types.Hash) bool
	// Sender, if set, decides whether the sender may send at all (the DID
	// registry's admission and revocation: ledger.CheckSender). It runs
	// before the signature is verified, so refused senders cost no
	// signature check.
	Sender func(tx *types.Tx) error
	// Admit, if set, runs last and takes a valid transaction in (into a
	// mempool); size is the length of its encoding. Its error is wrapped
	// in ErrNotAdmitted.
	Admit func(tx *types.Tx, size int) error
	// Verify, if set, checks a batch's signatures together (CheckBatch);
	// the default checks them one by one through Sigs.
	Verify VerifyTxs
	// VerifyOne, if set, checks one transaction's signature in Check and
	// CheckDecoded instead of Sigs.Verify (a queue that verifies
	// concurrent callers' transactions in batches).
	VerifyOne func(tx *types.Tx) error
}

// Check decodes and validates a transaction in the order size, decoding,
// fields and chain ID, timestamp, sender admission, signature, nonce and
// duplicates, then hands it to Admit. The error wraps a types sentinel (see types.Reason),
// ErrDuplicate or ErrNotAdmitted.
func (c *TxChecker) Check(data []byte) (*types.Tx, error) {
	tx, err := types.DecodeTx(data) // size first, then decoding
	if err != nil {
		return nil, err
	}
	return c.CheckDecoded(tx, len(data))
}

// CheckDecoded runs Check's checks after decoding on tx, whose encoding is
// size bytes long.
func (c *TxChecker) CheckDecoded(tx *types.Tx, size int) (*types.Tx, error) {
	if err := tx.ValidateBasic(c.ChainID); err != nil {
		return nil, err
	}
	if err := tx.CheckTime(c.Now(), c.Window); err != nil {
		return nil, err
	}
	if c.Sender != nil {
		if err := c.Sender(tx); err != nil {
			return nil, err
		}
	}
	verify := c.Sigs.Verify
	if c.VerifyOne != nil {
		verify = c.VerifyOne
	}
	if err := verify(tx); err != nil {
		return nil, err
	}
	if committed := c.Nonce(tx.Sender); tx.Nonce <= committed {
		return nil, fmt.Errorf("%w: nonce %d, sender %s has committed up to %d", types.ErrReplayedNonce, tx.Nonce, tx.Sender.DID(), committed)
	}
	if c.Known != nil && c.Known(tx.Hash()) {
		return nil, fmt.Errorf("%w: transaction %s", ErrDuplicate, tx.Hash())
	}
	if c.Admit != nil {
		if err := c.Admit(tx, size); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNotAdmitted, err)
		}
	}
	return tx, nil
}

// TxVerdict maps a Check error to a gossip verdict: Ignore for what an
// honest peer may relay late or see differently for a moment (a sender
// whose admission this node has not finalized yet) and for what this node
// sheds for its own load (ErrNotAdmitted: a mempool above its high-water
// mark or full; the relaying peer is not penalised), Reject for the rest
// (revoked and rotated-out senders included).
func TxVerdict(err error) lp2pps.ValidationResult {
	switch {
	case err == nil:
		return lp2pps.ValidationAccept
	case errors.Is(err, ErrDuplicate), errors.Is(err, ErrNotAdmitted), errors.Is(err, types.ErrSenderNotAdmitted),
		errors.Is(err, types.ErrReplayedNonce), errors.Is(err, types.ErrTimeInPast):
		return lp2pps.ValidationIgnore
	}
	return lp2pps.ValidationReject
}

// TxValidator adapts a TxChecker to a GossipSub validator. A message that
// passes carries its decoded *types.Tx in ValidatorData. Messages that self
// publishes are accepted unchecked: the publisher checked them before (and
// a second Check would find them already known). onResult, if not nil, is
// told every verdict's reason ("ok" when accepted).
func TxValidator(c *TxChecker, self peer.ID, onResult func(from peer.ID, reason string, err error)) lp2pps.ValidatorEx {
	return func(_ context.Context, from peer.ID, m *lp2pps.Message) lp2pps.ValidationResult {
		if self != "" && from == self {
			return lp2pps.ValidationAccept
		}
		tx, err := c.Check(m.Data)
		if onResult != nil {
			onResult(from, reason(err), err)
		}
		if err == nil {
			m.ValidatorData = tx
		}
		return TxVerdict(err)
	}
}

// SealVerifier checks a header's seal without its parent
// (consensus.PoA does).
type SealVerifier interface {
	VerifySeal(h *types.Header, seal []byte) error
}

// BlockChecker runs the stateless checks on a gossiped block.
type BlockChecker struct {
	ChainID string
	Seals   SealVerifier
	Sigs    *types.SigCache
	// Height returns the node's finalized height.
	Height func() uint64
	// MaxAhead is how far above the current height a block is still taken
	// (further ones are ignored; sync fetches them).
	MaxAhead uint64
	// Proposer, if set, checks that the header's proposer may seal on its
	// parent, where the node holds that parent (chain.CheckProposer), and
	// returns nil when it cannot tell. Its error rejects the block: a block
	// sealed by a key that is no authority is not relayed, and its sender
	// is penalised.
	Proposer func(h *types.Header) error
}

// Check decodes a block and checks its seal, its proposer where Proposer
// can tell, and its transactions' stateless validity and signatures. Blocks at or below the finalized
// height, or too far above it, are ErrStale. Whether the proposer may seal
// at that height needs the authority snapshot at the parent: package chain
// checks it.
func (c *BlockChecker) Check(data []byte) (*types.Block, error) {
	b, err := types.DecodeBlock(data)
	if err != nil {
		return nil, err
	}
	if err := c.checkHeader(&b.Header, b.Seal); err != nil {
		return nil, err
	}
	if err := b.VerifyTxs(c.Sigs); err != nil {
		return nil, err
	}
	return b, nil
}

// CheckCompact decodes a compact block (what the block topic carries) and
// runs Check's checks on its header and seal. Its transactions are
// checked once the node has rebuilt the block (package chain).
func (c *BlockChecker) CheckCompact(data []byte) (*types.CompactBlock, error) {
	b, err := types.DecodeCompactBlock(data)
	if err != nil {
		return nil, err
	}
	if err := c.checkHeader(&b.Header, b.Seal); err != nil {
		return nil, err
	}
	return b, nil
}

// checkHeader is the header part of Check: chain, height window, seal and
// proposer.
func (c *BlockChecker) checkHeader(hd *types.Header, seal []byte) error {
	if hd.ChainID != c.ChainID {
		return fmt.Errorf("%w: block for chain %q", types.ErrWrongChain, hd.ChainID)
	}
	h := c.Height()
	if hd.Height <= h {
		return fmt.Errorf("%w: block %d, at height %d", ErrStale, hd.Height, h)
	}
	if c.MaxAhead > 0 && hd.Height > h+c.MaxAhead {
		return fmt.Errorf("%w: block %d is more than %d ahead of %d", ErrStale, hd.Height, c.MaxAhead, h)
	}
	if err := c.Seals.VerifySeal(hd, seal); err != nil {
		return fmt.Errorf("%w: %w", types.ErrBadBlock, err)
	}
	if c.Proposer != nil {
		if err := c.Proposer(hd); err != nil {
			return fmt.Errorf("%w: %w", types.ErrBadBlock, err)
		}
	}
	return nil
}

// CompactBlockValidator adapts a BlockChecker to a GossipSub validator of
// the block topic, which carries compact blocks; accepted messages carry
// the *types.CompactBlock in ValidatorData. Blocks that self publishes
// (sealed here) are accepted unchecked.
func CompactBlockValidator(c *BlockChecker, self peer.ID, onResult func(from peer.ID, reason string, err error)) lp2pps.ValidatorEx {
	return blockValidator(func(data []byte) (any, error) { return c.CheckCompact(data) }, self, onResult)
}

// BlockValidator adapts a BlockChecker to a GossipSub validator of full
// blocks; accepted messages carry the *types.Block in ValidatorData.
// Blocks that self publishes (sealed here) are accepted unchecked.
func BlockValidator(c *BlockChecker, self peer.ID, onResult func(from peer.ID, reason string, err error)) lp2pps.ValidatorEx {
	return blockValidator(func(data []byte) (any, error) { return c.Check(data) }, self, onResult)
}

// blockValidator is both block validators: check decides, ErrStale is
// Ignore, any other error Reject.
func blockValidator(check func([]byte) (any, error), self peer.ID, onResult func(from peer.ID, reason string, err error)) lp2pps.ValidatorEx {
	return func(_ context.Context, from peer.ID, m *lp2pps.Message) lp2pps.ValidationResult {
		if self != "" && from == self {
			return lp2pps.ValidationAccept
		}
		b, err := check(m.Data)
		if onResult != nil {
			onResult(from, reason(err), err)
		}
		switch {
		case err == nil:
			m.ValidatorData = b
			return lp2pps.ValidationAccept
		case errors.Is(err, ErrStale):
			return lp2pps.ValidationIgnore
		}
		return lp2pps.ValidationReject
	}
}

// CheckVote decodes a finality vote and checks its chain and signature.
// Whether the voter may vote on its link needs the block tree: package
// chain checks it.
func CheckVote(chainID string, data []byte) (*types.FinalityVote, error) {
	return checkVote(chainID, data, nil)
}

func checkVote(chainID string, data []byte, cache *VoteCache) (*types.FinalityVote, error) {
	v, err := types.DecodeVote(data)
	if err != nil {
		return nil, err
	}
	if v.ChainID != chainID {
		return nil, fmt.Errorf("%w: vote for chain %q", types.ErrWrongChain, v.ChainID)
	}
	if err := cache.Verify(v); err != nil {
		return nil, err
	}
	return v, nil
}

// VoteValidator is the vote topic's validator; accepted messages carry the
// *types.FinalityVote in ValidatorData. Votes that self publishes are
// accepted unchecked.
func VoteValidator(chainID string, self peer.ID, onResult func(from peer.ID, reason string, err error)) lp2pps.ValidatorEx {
	return VoteValidatorWithCache(chainID, self, nil, onResult)
}

// VoteValidatorWithCache is VoteValidator verifying signatures through
// cache (shared with the certificate validator, a vote gossiped alone is
// not verified again inside certificates).
func VoteValidatorWithCache(chainID string, self peer.ID, cache *VoteCache, onResult func(from peer.ID, reason string, err error)) lp2pps.ValidatorEx {
	return func(_ context.Context, from peer.ID, m *lp2pps.Message) lp2pps.ValidationResult {
		if self != "" && from == self {
			return lp2pps.ValidationAccept
		}
		v, err := checkVote(chainID, m.Data, cache)
		if onResult != nil {
			onResult(from, reason(err), err)
		}
		if err != nil {
			return lp2pps.ValidationReject
		}
		m.ValidatorData = v
		return lp2pps.ValidationAccept
	}
}

// CheckCertificates decodes a certificate list and checks every vote's
// chain and signature.
func CheckCertificates(chainID string, data []byte) ([][]*types.FinalityVote, error) {
	return checkCertificates(chainID, data, nil)
}

func checkCertificates(chainID string, data []byte, cache *VoteCache) ([][]*types.FinalityVote, error) {
	certs, err := types.DecodeCertificates(data)
	if err != nil {
		return nil, err
	}
	for _, c := range certs {
		for _, v := range c {
			if v.ChainID != chainID {
				return nil, fmt.Errorf("%w: vote for chain %q", types.ErrWrongChain, v.ChainID)
			}
			if err := cache.Verify(v); err != nil {
				return nil, err
			}
		}
	}
	return certs, nil
}

// CertValidator is the certificate topic's validator; accepted messages
// carry the [][]*types.FinalityVote in ValidatorData.
func CertValidator(chainID string, self peer.ID, onResult func(from peer.ID, reason string, err error)) lp2pps.ValidatorEx {
	return CertValidatorWithCache(chainID, self, nil, onResult)
}

// CertValidatorWithCache is CertValidator verifying vote signatures
// through cache: each certificate message repeats the votes of up to
// types.MaxCertificates links, so without it a swarm of N nodes, each
// gossiping its certificates, costs O(N²) signature checks.
func CertValidatorWithCache(chainID string, self peer.ID, cache *VoteCache, onResult func(from peer.ID, reason string, err error)) lp2pps.ValidatorEx {
	return func(_ context.Context, from peer.ID, m *lp2pps.Message) lp2pps.ValidationResult {
		if self != "" && from == self {
			return lp2pps.ValidationAccept
		}
		certs, err := checkCertificates(chainID, m.Data, cache)
		if onResult != nil {
			onResult(from, reason(err), err)
		}
		if err != nil {
			return lp2pps.ValidationReject
		}
		m.ValidatorData = certs
		return lp2pps.ValidationAccept
	}
}

func reason(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrDuplicate):
		return "duplicate"
	case errors.Is(err, ErrStale):
		return "stale"
	case errors.Is(err, ErrNotAdmitted):
		return "not_admitted"
	}
	return types.Reason(err)
}
