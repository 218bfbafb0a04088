package light

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/node/outbox"
)

// outboxQueue is the Queue of a light node with a data directory: the
// store-and-forward outbox (package node/outbox: one append-only file,
// an fsync per append), so that a reading whose Record returned survives a
// power loss.
type outboxQueue struct{ o *outbox.Outbox }

// OpenOutboxQueue opens the outbox in dir as a Queue of at most maxTxs
// readings (0: the outbox's default).
func OpenOutboxQueue(ctx context.Context, dir string, maxTxs int) (Queue, error) {
	o, err := outbox.Open(ctx, dir, outbox.Options{MaxTxs: maxTxs})
	if err != nil {
		return nil, err
	}
	return outboxQueue{o}, nil
}

func (q outboxQueue) Append(_ context.Context, item []byte) error {
	tx, err := types.DecodeTx(item)
	if err != nil {
		return err
	}
	if err := q.o.Append(tx); errors.Is(err, outbox.ErrFull) {
		return fmt.Errorf("%w: %w", ErrQueueFull, err)
	} else if err != nil {
		return err
	}
	return nil
}

func (q outboxQueue) Peek(_ context.Context, n int) ([][]byte, error) {
	txs, err := q.o.Peek(n)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(txs))
	for i, tx := range txs {
		out[i] = tx.Encode()
	}
	return out, nil
}

func (q outboxQueue) Remove(_ context.Context, n int) error {
	txs, err := q.o.Peek(n)
	if err != nil {
		return err
	}
	hashes := make([]types.Hash, len(txs))
	for i, tx := range txs {
		hashes[i] = tx.Hash()
	}
	_, err = q.o.Remove(hashes...)
	return err
}

func (q outboxQueue) Len() int { return q.o.Len() }

func (q outboxQueue) Close() error { return q.o.Close() }

// The last nonce signed is kept in a file of its own, written and fsynced
// (through a temporary file and a rename) after each reading is queued:
// the store (store.go) is not synced, and a nonce used twice would make the
// chain refuse the second reading. On start the node takes the larger of
// the file's nonce and the newest queued one, since a crash may fall
// between the queue's append and the file's update.
const nonceFile = "nonce"

func readNonce(dir string) (uint64, error) {
	b, err := os.ReadFile(filepath.Join(dir, nonceFile))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("light: nonce file: %w", err)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("light: nonce file: %w", err)
	}
	return v, nil
}

func writeNonce(dir string, v uint64) error {
	tmp := filepath.Join(dir, nonceFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("light: nonce file: %w", err)
	}
	_, werr := f.WriteString(strconv.FormatUint(v, 10) + "\n")
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return fmt.Errorf("light: nonce file: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, nonceFile)); err != nil {
		return fmt.Errorf("light: nonce file: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("light: nonce file: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("light: nonce file: %w", err)
	}
	return nil
}
