package types

import (
	"crypto/rand"
	"errors"
	"testing"

	"github.com/sixdomain/sixdomain/identity"
)

func TestSealedRecord(t *testing.T) {
	sender, alice, bob, eve := seedKey(t, 10), seedKey(t, 11), seedKey(t, 12), seedKey(t, 13)
	value := []byte(`{"heart_rate":71}`)
	for _, tc := range []struct {
		name       string
		recipients []*identity.PrivateKey
	}{
		{"one recipient", []*identity.PrivateKey{alice}},
		{"several recipients", []*identity.PrivateKey{alice, bob}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var keys []identity.PublicKey
			for _, k := range tc.recipients {
				keys = append(keys, k.Public())
			}
			rec, err := NewSealedRecord(rand.Reader, testChain, sender.Public(), "health/hr", "application/json", value, keys)
			if err != nil {
				t.Fatal(err)
			}
			// It travels as an ordinary, valid, signed transaction.
			tx, err := NewDataRecordTx(testChain, 1, 1_767_225_600_000, rec)
			if err != nil {
				t.Fatal(err)
			}
			tx.Sign(sender)
			got, err := DecodeTx(tx.Encode())
			if err != nil {
				t.Fatal(err)
			}
			if err := got.ValidateBasic(testChain); err != nil {
				t.Fatal(err)
			}
			onChain, err := DecodeDataRecord(got.Payload)
			if err != nil {
				t.Fatal(err)
			}
			if rs, err := onChain.Recipients(); err != nil || len(rs) != len(keys) {
				t.Fatalf("recipients %v, %v", rs, err)
			}
			for _, k := range tc.recipients {
				ct, v, err := OpenSealedRecord(k, testChain, got.Sender, onChain)
				if err != nil || ct != "application/json" || string(v) != string(value) {
					t.Fatalf("recipient %s: %q %q %v", k.Public().DID(), ct, v, err)
				}
			}
			if _, _, err := OpenSealedRecord(eve, testChain, got.Sender, onChain); !errors.Is(err, identity.ErrNotRecipient) {
				t.Fatalf("non-recipient: %v", err)
			}
			// Bound to sender, stream and chain.
			if _, _, err := OpenSealedRecord(tc.recipients[0], testChain, eve.Public(), onChain); !errors.Is(err, identity.ErrDecrypt) {
				t.Fatalf("other sender: %v", err)
			}
			moved := *onChain
			moved.Stream = "health/other"
			if _, _, err := OpenSealedRecord(tc.recipients[0], testChain, got.Sender, &moved); !errors.Is(err, identity.ErrDecrypt) {
				t.Fatalf("other stream: %v", err)
			}
			if _, _, err := OpenSealedRecord(tc.recipients[0], "other-chain", got.Sender, onChain); !errors.Is(err, identity.ErrDecrypt) {
				t.Fatalf("other chain: %v", err)
			}
		})
	}
}

func TestSealedRecordRefused(t *testing.T) {
	sender := seedKey(t, 10)
	// A record that claims to be sealed but carries no envelope is invalid.
	bad := DataRecord{Stream: "s", ContentType: EnvelopeContentType, Value: []byte("not an envelope")}
	if err := bad.Validate(); !errors.Is(err, ErrBadPayload) {
		t.Fatalf("Validate = %v", err)
	}
	if _, err := NewSealedRecord(rand.Reader, testChain, sender.Public(), "s", "", []byte("x"), nil); !errors.Is(err, ErrBadPayload) {
		t.Fatalf("no recipients: %v", err)
	}
	plain := DataRecord{Stream: "s", Value: []byte("x")}
	if _, _, err := OpenSealedRecord(sender, testChain, sender.Public(), &plain); !errors.Is(err, ErrNotSealed) {
		t.Fatalf("plain record: %v", err)
	}
}
