package types

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// TestCheckTimeWindows: the bounds of the timestamp window, per transaction
// type, at and one millisecond beyond each edge. A data record may be as
// old as RecordPast (a forwarded reading); every other type, and a record
// on a chain without a forwarding window, as old as Past; the future bound
// is Future for all.
func TestCheckTimeWindows(t *testing.T) {
	ref := time.UnixMilli(1_767_225_600_000)
	const ms = time.Millisecond
	today := TimeWindow{Future: 30 * time.Second, Past: 10 * time.Minute}
	fwd := TimeWindow{Future: 30 * time.Second, Past: 10 * time.Minute, RecordPast: 24 * time.Hour}
	short := TimeWindow{Future: 30 * time.Second, Past: 10 * time.Minute, RecordPast: time.Minute} // shorter than Past: no effect
	cases := []struct {
		name string
		w    TimeWindow
		typ  TxType
		off  time.Duration // timestamp - ref
		want error
	}{
		{"record now", fwd, TxDataRecord, 0, nil},
		{"record at the future bound", fwd, TxDataRecord, 30 * time.Second, nil},
		{"record 1 ms beyond the future bound", fwd, TxDataRecord, 30*time.Second + ms, ErrTimeInFuture},
		{"record an hour ahead", fwd, TxDataRecord, time.Hour, ErrTimeInFuture},
		{"record at the past bound", fwd, TxDataRecord, -10 * time.Minute, nil},
		{"record beyond the past bound, within the forwarding window", fwd, TxDataRecord, -10*time.Minute - ms, nil},
		{"record 12 h old", fwd, TxDataRecord, -12 * time.Hour, nil},
		{"record at the forwarding bound", fwd, TxDataRecord, -24 * time.Hour, nil},
		{"record 1 ms beyond the forwarding bound", fwd, TxDataRecord, -24*time.Hour - ms, ErrTimeInPast},
		{"record a week old", fwd, TxDataRecord, -7 * 24 * time.Hour, ErrTimeInPast},
		{"did op at the past bound", fwd, TxDID, -10 * time.Minute, nil},
		{"did op 1 ms beyond the past bound", fwd, TxDID, -10*time.Minute - ms, ErrTimeInPast},
		{"evidence 1 ms beyond the past bound", fwd, TxEvidence, -10*time.Minute - ms, ErrTimeInPast},
		{"did op 1 ms beyond the future bound", fwd, TxDID, 30*time.Second + ms, ErrTimeInFuture},
		{"no forwarding: record at the past bound", today, TxDataRecord, -10 * time.Minute, nil},
		{"no forwarding: record 1 ms beyond", today, TxDataRecord, -10*time.Minute - ms, ErrTimeInPast},
		{"forwarding shorter than past: record 1 ms beyond past", short, TxDataRecord, -10*time.Minute - ms, ErrTimeInPast},
		{"forwarding shorter than past: record within past", short, TxDataRecord, -5 * time.Minute, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tx := &Tx{Type: c.typ, Timestamp: ref.Add(c.off).UnixMilli()}
			err := tx.CheckTime(ref, c.w)
			if c.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

// TestCheckTimeReason: a refused forwarded record names the forwarding
// limit, and Reason maps both sentinels to their API reasons.
func TestCheckTimeReason(t *testing.T) {
	ref := time.UnixMilli(1_767_225_600_000)
	w := TimeWindow{Future: 30 * time.Second, Past: 10 * time.Minute, RecordPast: 24 * time.Hour}
	err := (&Tx{Type: TxDataRecord, Timestamp: ref.Add(-25 * time.Hour).UnixMilli()}).CheckTime(ref, w)
	if !errors.Is(err, ErrTimeInPast) || !strings.Contains(err.Error(), "forwarded data record 24h0m0s") {
		t.Fatalf("got %v", err)
	}
	if r := Reason(err); r != "time_in_past" {
		t.Fatalf("reason %q", r)
	}
	err = (&Tx{Type: TxDataRecord, Timestamp: ref.Add(time.Minute).UnixMilli()}).CheckTime(ref, w)
	if r := Reason(err); r != "time_in_future" {
		t.Fatalf("reason %q for %v", r, err)
	}
}

// TestPastFor: the past bound per type.
func TestPastFor(t *testing.T) {
	w := TimeWindow{Past: time.Minute, RecordPast: time.Hour}
	for typ, want := range map[TxType]time.Duration{TxDataRecord: time.Hour, TxDID: time.Minute, TxEvidence: time.Minute, 99: time.Minute} {
		if got := w.PastFor(typ); got != want {
			t.Errorf("%v: %s, want %s", typ, got, want)
		}
	}
}

// Genesis hashes computed before max_forward_age_ms existed: a genesis
// that does not set it keeps its hash (open and admitted chains, and the
// example file in configs/).
const (
	goldenOpenGenesisHash     = "fb353c260d3066acf8e592e2f075c719ad94e4472492391928b93cfc28465e15"
	goldenAdmittedGenesisHash = "d9346ed139524f1a664809edace383dbb54abae3dc3025815bdfab5d6bc64a70"
	goldenExampleGenesisHash  = "33fda1022dad61d2fad416de9eaa47669db791a3a6037955e2521a06eb746694"
)

func TestGenesisForwardAgeHash(t *testing.T) {
	g := NewGenesis(testChain, time.UnixMilli(1_767_225_600_000), seedKey(t, 1).Public(), seedKey(t, 2).Public())
	if g.MaxForwardAgeMillis != DefaultMaxForwardAgeMillis {
		t.Fatalf("new genesis forwarding window %d ms", g.MaxForwardAgeMillis)
	}
	withForward := g.Hash()
	g.MaxForwardAgeMillis = 0
	if got := g.Hash().String(); got != goldenOpenGenesisHash {
		t.Fatalf("open genesis without max_forward_age_ms: hash %s, was %s", got, goldenOpenGenesisHash)
	}
	if withForward.String() == goldenOpenGenesisHash {
		t.Fatal("max_forward_age_ms is not part of the hash")
	}
	g.Admission = AdmissionAdmitted
	if got := g.Hash().String(); got != goldenAdmittedGenesisHash {
		t.Fatalf("admitted genesis without max_forward_age_ms: hash %s, was %s", got, goldenAdmittedGenesisHash)
	}
	// Admission still counts when the forwarding window is set.
	g.MaxForwardAgeMillis = DefaultMaxForwardAgeMillis
	if g.Hash() == withForward {
		t.Fatal("admitted and open chains with a forwarding window share a hash")
	}
	g.MaxForwardAgeMillis = DefaultMaxForwardAgeMillis + 1
	if g.Hash() == withForward {
		t.Fatal("different forwarding windows share a hash")
	}

	// A file without the key: as before, and its marshalled form has no key.
	g.Admission, g.MaxForwardAgeMillis = "", 0
	text := string(g.MarshalTOML())
	if strings.Contains(text, "max_forward_age_ms") {
		t.Fatalf("genesis without a forwarding window writes the key:\n%s", text)
	}
	back, err := ParseGenesis([]byte(text))
	if err != nil || back.Hash().String() != goldenOpenGenesisHash || back.TimeWindow().PastFor(TxDataRecord) != 10*time.Minute {
		t.Fatalf("round trip without the key: %v", err)
	}
	// With the key: it round-trips and sets the record window.
	g.MaxForwardAgeMillis = 3_600_000
	back, err = ParseGenesis(g.MarshalTOML())
	if err != nil || back.Hash() != g.Hash() || back.TimeWindow().RecordPast != time.Hour {
		t.Fatalf("round trip with the key: %v\n%s", err, g.MarshalTOML())
	}

	ex, err := LoadGenesis("../../configs/genesis.toml")
	if err != nil {
		t.Fatal(err)
	}
	if got := ex.Hash().String(); got != goldenExampleGenesisHash {
		t.Fatalf("configs/genesis.toml: hash %s, was %s", got, goldenExampleGenesisHash)
	}
	raw, err := os.ReadFile("../../configs/genesis.toml")
	if err != nil || !strings.Contains(string(raw), "is "+goldenExampleGenesisHash) {
		t.Fatalf("configs/genesis.toml's comment does not state its hash %s (%v)", goldenExampleGenesisHash, err)
	}
}

func TestGenesisForwardAgeValidate(t *testing.T) {
	for _, c := range []struct {
		ms int64
		ok bool
	}{
		{0, true},
		{DefaultTxPastMillis, true},
		{DefaultMaxForwardAgeMillis, true},
		{MaxMaxForwardAgeMillis, true},
		{-1, false},
		{1, false},
		{DefaultTxPastMillis - 1, false},
		{MaxMaxForwardAgeMillis + 1, false},
	} {
		g := NewGenesis(testChain, time.UnixMilli(1_767_225_600_000), seedKey(t, 1).Public())
		g.MaxForwardAgeMillis = c.ms
		err := g.Validate()
		if c.ok != (err == nil) {
			t.Errorf("max_forward_age_ms %d: %v", c.ms, err)
		}
		if err != nil && (!errors.Is(err, ErrBadGenesis) || !strings.Contains(err.Error(), "max_forward_age_ms")) {
			t.Errorf("max_forward_age_ms %d: reason %v", c.ms, err)
		}
	}
}
