package chain

import (
	"context"

	"github.com/sixdomain/sixdomain/consensus"
	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// Head returns the state after the head block.
func (c *Chain) Head() ledger.State {
	c.mu.RLock()
	defer c.mu.RUnlock()
	st, _, _ := c.stateOf(c.head)
	return st
}

// Finalized returns the state after the last final block.
func (c *Chain) Finalized() ledger.State {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.tipState
}

// Justified returns the highest justified checkpoint.
func (c *Chain) Justified() types.Checkpoint {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.fin.Justified()
}

// Unfinalized returns how many blocks the tree holds above the final one.
func (c *Chain) Unfinalized() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.blocks)
}

// HeadNonce returns the sender's last nonce on the head chain.
func (c *Chain) HeadNonce(sender identity.PublicKey) uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.nonceOf(c.head, sender)
}

// TryHeadNonce is HeadNonce when no step of the chain holds its lock now;
// ok is false otherwise (a block being applied and committed holds it for
// a while, and admission should not wait behind it).
func (c *Chain) TryHeadNonce(sender identity.PublicKey) (n uint64, ok bool) {
	if !c.mu.TryRLock() {
		return 0, false
	}
	defer c.mu.RUnlock()
	return c.nonceOf(c.head, sender), true
}

// TryAuthorities is Authorities when no step holds the chain's lock now.
func (c *Chain) TryAuthorities() ([]identity.PublicKey, bool) {
	if !c.mu.TryRLock() {
		return nil, false
	}
	defer c.mu.RUnlock()
	st, _, _ := c.stateOf(c.head)
	snap, err := c.snaps.At(st.Height, st.LastBlockHash, c)
	if err != nil {
		return nil, true
	}
	return append([]identity.PublicKey(nil), snap.Signers...), true
}

// TryIncluded is Included when no step holds the chain's lock now.
func (c *Chain) TryIncluded(h types.Hash) (included, ok bool) {
	if !c.mu.TryRLock() {
		return false, false
	}
	defer c.mu.RUnlock()
	for _, l := range c.txs[h] {
		if c.onHead(l.e) {
			return true, true
		}
	}
	return false, true
}

// IsAuthority reports whether k is in the head's authority set.
func (c *Chain) IsAuthority(k identity.PublicKey) bool {
	return containsKey(c.Authorities(), k)
}

// Authorities returns the authority set after the head.
func (c *Chain) Authorities() []identity.PublicKey {
	c.mu.RLock()
	defer c.mu.RUnlock()
	st, _, _ := c.stateOf(c.head)
	snap, err := c.snaps.At(st.Height, st.LastBlockHash, c)
	if err != nil {
		return nil
	}
	return append([]identity.PublicKey(nil), snap.Signers...)
}

// HeadSnapshot returns the authority snapshot after the head: signers,
// pending votes and their tally. It is shared: treat it as read-only.
func (c *Chain) HeadSnapshot() (*consensus.Snapshot, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	st, _, _ := c.stateOf(c.head)
	return c.snaps.At(st.Height, st.LastBlockHash, c)
}

// AuthoritiesAt returns the authority set after the block (height, hash),
// a final block or one in the tree. It reads the snapshot cache, which
// holds the recent blocks' snapshots; older ones fold headers from the
// store.
func (c *Chain) AuthoritiesAt(height uint64, hash types.Hash) ([]identity.PublicKey, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	snap, err := c.snaps.At(height, hash, c)
	if err != nil {
		return nil, err
	}
	return append([]identity.PublicKey(nil), snap.Signers...), nil
}

func containsKey(ks []identity.PublicKey, k identity.PublicKey) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

// BlockAt returns the head chain's block at height and whether it is final.
func (c *Chain) BlockAt(ctx context.Context, height uint64) (*types.Block, bool, error) {
	c.mu.RLock()
	if height > c.tipState.Height {
		defer c.mu.RUnlock()
		for e := c.head; e != nil; e = e.parent {
			if e.block.Header.Height == height {
				return e.block, false, nil
			}
		}
		return nil, false, ledger.ErrNotFound
	}
	c.mu.RUnlock()
	b, err := c.cfg.Store.Block(ctx, height)
	return b, err == nil, err
}

// Included finds a transaction in the unfinalized part of the head chain.
func (c *Chain) Included(h types.Hash) (*types.Tx, uint64, uint32, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, l := range c.txs[h] {
		if c.onHead(l.e) {
			return l.e.block.Txs[l.index], l.e.block.Header.Height, l.index, true
		}
	}
	return nil, 0, 0, false
}

// TreeTx returns the transaction with hash h from any block of the tree
// above the finalized one, on the head chain or not.
func (c *Chain) TreeTx(h types.Hash) (*types.Tx, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, l := range c.txs[h] {
		return l.e.block.Txs[l.index], true
	}
	return nil, false
}

// onHead reports whether e is on the head chain (walking down from the
// head to e's height).
func (c *Chain) onHead(e *entry) bool {
	x := c.head
	for x != nil && x.block.Header.Height > e.block.Header.Height {
		x = x.parent
	}
	return x == e
}

// HeadBlocks returns the unfinalized head-chain blocks from height from
// upward, at most max (for sync serving).
func (c *Chain) HeadBlocks(from uint64, max int) []*types.Block {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []*types.Block
	for e := c.head; e != nil; e = e.parent {
		if e.block.Header.Height >= from {
			out = append(out, e.block)
		}
	}
	// out is descending; return ascending and cut.
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	if len(out) > max {
		out = out[:max]
	}
	return out
}

// CheckTx checks tx against the head as if it were the first transaction
// of the next block, sealed now (ledger.CheckTx).
func (c *Chain) CheckTx(tx *types.Tx) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	st, _, _ := c.stateOf(c.head)
	snap, err := c.snaps.At(st.Height, st.LastBlockHash, c)
	if err != nil {
		return err
	}
	return ledger.CheckTx(overlay{c, c.head, snap}, c.params, st.Height+1, c.cfg.Now(), tx)
}
