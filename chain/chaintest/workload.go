package chaintest

import (
	"fmt"
	"time"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// device is a simulated sensor: it signs data-record transactions with
// consecutive nonces, hands each to a random running node (as the node
// API would), and resubmits, to another random node, those not final
// after ResubmitAfter.
type device struct {
	id      int
	key     *identity.PrivateKey
	next    uint64 // nonce of the next new transaction
	pending map[uint64]*pendingTx
}

type pendingTx struct {
	tx   *types.Tx
	raw  []byte
	sent time.Duration
}

func (c *Cluster) startWorkload() {
	for i := 0; i < c.cfg.Devices; i++ {
		d := &device{id: i, key: keyFor(c.seed, 'd', i), next: 1, pending: map[uint64]*pendingTx{}}
		c.devices = append(c.devices, d)
		c.after(c.txGap(), func() { c.deviceTick(d) })
	}
}

// txGap draws the time to a device's next transaction, uniform in
// [TxInterval/2, 3·TxInterval/2).
func (c *Cluster) txGap() time.Duration {
	return c.cfg.TxInterval/2 + time.Duration(c.load.Int64N(int64(c.cfg.TxInterval)))
}

func (c *Cluster) deviceTick(d *device) {
	// Resubmit what is overdue, oldest nonce first.
	for _, nonce := range sortedKeys(d.pending) {
		p := d.pending[nonce]
		if c.now-p.sent >= c.cfg.ResubmitAfter {
			p.sent = c.now
			c.submit(p.raw)
		}
	}
	if len(d.pending) < c.cfg.MaxPending {
		rec := types.DataRecord{Stream: fmt.Sprintf("dev%d/temp", d.id), ContentType: "text/plain",
			Value: fmt.Appendf(nil, "%d", c.load.IntN(400))}
		tx, err := types.NewDataRecordTx(ChainID, d.next, c.base.Add(c.now).UnixMilli(), rec)
		if err != nil {
			panic(err)
		}
		tx.Sign(d.key)
		raw := tx.Encode()
		d.pending[d.next] = &pendingTx{tx: tx, raw: raw, sent: c.now}
		d.next++
		c.stats.TxSubmitted++
		c.submit(raw)
	}
	c.after(c.txGap(), func() { c.deviceTick(d) })
}

// submit hands a transaction to a random running node, which admits it to
// its mempool and gossips it to its peers (one hop).
func (c *Cluster) submit(raw []byte) {
	var up []*Node
	for _, n := range c.nodes {
		if n.up {
			up = append(up, n)
		}
	}
	if len(up) == 0 {
		return
	}
	n := up[c.load.IntN(len(up))]
	tx, err := types.DecodeTx(raw)
	if err != nil {
		panic(err)
	}
	if err := n.pool.Add(tx, len(raw), n.chain.HeadNonce(tx.Sender)); err != nil {
		return
	}
	c.broadcast(n, msgTx, raw, nil)
}

// txFinal tells the devices that a transaction became final.
func (c *Cluster) txFinal(tx *types.Tx) {
	for _, d := range c.devices {
		if d.key.Public() == tx.Sender {
			delete(d.pending, tx.Nonce)
			return
		}
	}
}

// PendingTxs returns how many device transactions are not final yet.
func (c *Cluster) PendingTxs() int {
	n := 0
	for _, d := range c.devices {
		n += len(d.pending)
	}
	return n
}

// nameOf names a key: n<i> for nodes, d<i> for devices.
func (c *Cluster) nameOf(k identity.PublicKey) string {
	if n := c.nodeByKey(k); n != nil {
		return fmt.Sprintf("n%d", n.ID)
	}
	for _, d := range c.devices {
		if d.key.Public() == k {
			return fmt.Sprintf("d%d", d.id)
		}
	}
	return k.DID()[:16]
}

func (c *Cluster) nodeByKey(k identity.PublicKey) *Node {
	for _, n := range c.nodes {
		if n.Key.Public() == k {
			return n
		}
	}
	return nil
}
