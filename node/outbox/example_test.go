package outbox_test

import (
	"bytes"
	"context"
	"fmt"
	"os"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/node/outbox"
)

// A device queues readings while offline, forwards the front of the queue
// when a gateway answers, and drops what the chain committed.
func Example() {
	dir, _ := os.MkdirTemp("", "outbox-example")
	defer os.RemoveAll(dir)
	key, _ := identity.FromSeed(bytes.Repeat([]byte{9}, 32))

	box, err := outbox.Open(context.Background(), dir, outbox.Options{MaxTxs: 1000})
	if err != nil {
		panic(err)
	}
	defer box.Close()
	for nonce := uint64(1); nonce <= 3; nonce++ {
		tx, _ := types.NewDataRecordTx("example", nonce, 1_767_225_600_000+int64(nonce)*60_000,
			types.DataRecord{Stream: "temperature", Value: []byte("21.5")})
		tx.Sign(key)
		if err := box.Append(tx); err != nil { // on disk once it returns
			panic(err)
		}
	}
	front, _ := box.Peek(2) // forward these, in order
	fmt.Println("forward nonces", front[0].Nonce, front[1].Nonce)
	n, _ := box.RemoveThrough(key.Public(), 2) // the chain committed nonces up to 2
	fmt.Println("removed", n, "left", box.Len())
	// Output:
	// forward nonces 1 2
	// removed 2 left 1
}
