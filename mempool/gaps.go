package mempool

import (
	"slices"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// Gap is a run of nonces a sender's pending transactions skip: the pool
// holds later nonces of the sender but not From..From+Count-1, so the
// block builder cannot take any of them until the gap is filled.
type Gap struct {
	Sender identity.PublicKey
	From   uint64
	Count  uint64
}

// Gaps returns up to max senders' first nonce gaps: for each sender with
// pending transactions whose lowest pending nonce is above committed+1
// (committed as the pool was told of it, or as committed returns if
// higher), the missing run up to that nonce. Senders are visited in no
// particular order.
func (p *Pool) Gaps(max int, committed func(identity.PublicKey) uint64) []Gap {
	type cand struct {
		key           identity.PublicKey
		known, lowest uint64
	}
	var cands []cand
	p.mu.RLock()
	for _, a := range p.senders {
		if len(a.txs) == 0 {
			continue
		}
		lowest := uint64(0)
		for n := range a.txs {
			if lowest == 0 || n < lowest {
				lowest = n
			}
		}
		if lowest > a.known+1 {
			cands = append(cands, cand{a.key, a.known, lowest})
		}
	}
	p.mu.RUnlock()
	// committed may take other locks (the chain's): never under the pool's.
	var out []Gap
	for _, c := range cands {
		if len(out) >= max {
			break
		}
		known := c.known
		if committed != nil {
			known = max64(known, committed(c.key))
		}
		if c.lowest > known+1 {
			out = append(out, Gap{Sender: c.key, From: known + 1, Count: c.lowest - known - 1})
		}
	}
	return out
}

// Range returns the sender's pending transactions with nonces from
// through from+count-1 that the pool holds, in nonce order.
func (p *Pool) Range(sender identity.PublicKey, from, count uint64) []*types.Tx {
	p.mu.RLock()
	defer p.mu.RUnlock()
	a := p.senders[sender]
	if a == nil {
		return nil
	}
	var out []*types.Tx
	if count > uint64(len(a.txs)) {
		for n, e := range a.txs {
			if n >= from && n-from < count {
				out = append(out, e.tx)
			}
		}
		slices.SortFunc(out, func(x, y *types.Tx) int {
			switch {
			case x.Nonce < y.Nonce:
				return -1
			case x.Nonce > y.Nonce:
				return 1
			}
			return 0
		})
		return out
	}
	for n := from; n-from < count; n++ {
		if e := a.txs[n]; e != nil {
			out = append(out, e.tx)
		}
	}
	return out
}

func max64(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}
