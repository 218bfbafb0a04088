package node

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sixdomain/sixdomain/ledger/types"
)

// TestForwardedReadingsKeepTheirTimestamp: readings a device signed hours
// ago while offline (within the genesis max_forward_age_ms, older than
// tx_past_window_ms) are committed in nonce order; the API shows each
// one's own timestamp and its inclusion (block) time apart. A reading
// older than the forwarding window is refused with time_in_past, and a
// replay of a committed one with replayed_nonce.
func TestForwardedReadingsKeepTheirTimestamp(t *testing.T) {
	c := startCluster(t, 1, 1)
	device, g, k := c.Nodes[1], c.Genesis, c.Keys[1]
	w := g.TimeWindow()
	if w.PastFor(types.TxDataRecord) <= w.Past {
		t.Fatalf("the devnet genesis has no forwarding window: %+v", w)
	}
	now := time.Now()
	ages := []time.Duration{3 * time.Hour, 2 * time.Hour, w.Past + time.Minute}
	var txs []*types.Tx
	for i, age := range ages {
		tx := recordTx(t, g, k, uint64(i+1), now.Add(-age), "forwarded")
		if code, body := postTx(t, device, tx.Encode()); code != http.StatusAccepted {
			t.Fatalf("forwarded reading %d (%s old) refused: %d %s", i+1, age, code, body)
		}
		txs = append(txs, tx)
	}
	tooOld := recordTx(t, g, k, 4, now.Add(-w.PastFor(types.TxDataRecord)-time.Minute), "too old")
	if code, body := postTx(t, device, tooOld.Encode()); code != http.StatusBadRequest || !strings.Contains(string(body), "time_in_past") {
		t.Fatalf("reading older than the forwarding window: %d %s", code, body)
	}
	waitFor(t, 30*time.Second, "the forwarded readings to commit", func() bool {
		n, _ := device.Store().Nonce(k.Public())
		return n == uint64(len(txs))
	})
	if code, body := postTx(t, device, txs[0].Encode()); code != http.StatusConflict || !strings.Contains(string(body), "replayed_nonce") {
		t.Fatalf("replayed reading: %d %s", code, body)
	}

	var recs RecordsResponse
	if code := getJSON(t, apiURL(device, "/v1/records?sender="+k.Public().DID()+"&stream=temperature"), &recs); code != 200 {
		t.Fatalf("records: %d", code)
	}
	if len(recs.Records) != len(txs) {
		t.Fatalf("%d records, want %d", len(recs.Records), len(txs))
	}
	byHash := map[types.Hash]RecordJSON{}
	for _, r := range recs.Records {
		byHash[r.TxHash] = r
	}
	var lastPos [2]uint64
	for i, tx := range txs {
		r, ok := byHash[tx.Hash()]
		if !ok {
			t.Fatalf("reading %d missing from the records", i+1)
		}
		hd, err := device.Store().Header(context.Background(), r.Height)
		if err != nil {
			t.Fatal(err)
		}
		if r.Timestamp != tx.Timestamp || r.BlockTime != hd.Time || r.BlockTime < now.UnixMilli()-1000 {
			t.Errorf("reading %d: timestamp %d (signed %d), block time %d (block %d)", i+1, r.Timestamp, tx.Timestamp, r.BlockTime, hd.Time)
		}
		if pos := [2]uint64{r.Height, uint64(r.Index)}; i > 0 && (pos[0] < lastPos[0] || pos[0] == lastPos[0] && pos[1] <= lastPos[1]) {
			t.Errorf("reading %d committed at %v, before reading %d at %v", i+1, pos, i, lastPos)
		} else {
			lastPos = pos
		}
		var st TxStatus
		if code := getJSON(t, apiURL(device, "/v1/txs/"+tx.Hash().String()), &st); code != 200 || st.Status != "committed" ||
			st.BlockTime != hd.Time || st.Tx == nil || st.Tx.Timestamp != tx.Timestamp {
			t.Errorf("reading %d: status %d %+v", i+1, code, st)
		}
	}
}
