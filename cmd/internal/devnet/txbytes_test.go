package devnet

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// TestSignedReadingTxBytes: a padded reading encodes to exactly the size
// asked, over nonces of every CBOR width, stays valid JSON and carries a
// valid signature; a size below the reading's own is refused.
func TestSignedReadingTxBytes(t *testing.T) {
	key, err := identity.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{200, 240, 300, 1024} {
		for _, nonce := range []uint64{1, 24, 256, 65536, 1 << 20} {
			value := fmt.Sprintf(`{"celsius":%.2f,"seq":%d}`, 21.5, nonce)
			tx, err := signedReading("sixdomain-devnet", nonce, time.Now().UnixMilli(), value, key, size)
			if err != nil {
				t.Fatalf("size %d nonce %d: %v", size, nonce, err)
			}
			enc := tx.Encode()
			if len(enc) != size {
				t.Fatalf("size %d nonce %d: encoded %d bytes", size, nonce, len(enc))
			}
			back, err := types.DecodeTx(enc)
			if err != nil {
				t.Fatal(err)
			}
			if err := back.VerifySignature(); err != nil {
				t.Fatalf("size %d nonce %d: %v", size, nonce, err)
			}
			rec, err := types.DecodeDataRecord(back.Payload)
			if err != nil {
				t.Fatal(err)
			}
			var v struct{ Seq uint64 }
			if err := json.Unmarshal(rec.Value, &v); err != nil || v.Seq != nonce {
				t.Fatalf("value %q: %v, seq %d", rec.Value, err, v.Seq)
			}
		}
	}
	natural, err := signedReading("sixdomain-devnet", 1, 0, `{"seq":1}`, key, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := signedReading("sixdomain-devnet", 1, 0, `{"seq":1}`, key, len(natural.Encode())-1); !errors.Is(err, errTxBytes) {
		t.Fatalf("one byte below the natural size: %v", err)
	}
	if err := checkTxBytes(Options{TxBytes: 100, Rate: 1000, Duration: time.Second}); !errors.Is(err, errTxBytes) {
		t.Fatalf("checkTxBytes(100): %v", err)
	}
	if err := checkTxBytes(Options{TxBytes: 200, Rate: 8000, Duration: 60 * time.Second}); err != nil {
		t.Fatalf("checkTxBytes(200): %v", err)
	}
}
