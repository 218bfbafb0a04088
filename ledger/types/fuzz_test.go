package types

import (
	"bytes"
	"testing"

	"github.com/sixdomain/sixdomain/identity"
)

// FuzzDecodeTx: decoding arbitrary bytes never panics, and whatever decodes
// re-encodes to the same bytes.
func FuzzDecodeTx(f *testing.F) {
	tx := signedRecord(f, seedKey(f, 1), 1, 1_767_225_600_000, "21.5")
	f.Add(tx.Encode())
	f.Add([]byte{})
	f.Add([]byte{0x88})
	f.Add(bytes.Repeat([]byte{0x9f}, 64))
	f.Fuzz(func(t *testing.T, data []byte) {
		tx, err := DecodeTx(data)
		if err != nil {
			return
		}
		if !bytes.Equal(tx.Encode(), data) {
			t.Fatalf("decoded transaction re-encodes differently")
		}
		_ = tx.ValidateBasic(testChain)
		_ = tx.VerifySignature()
	})
}

// FuzzDecodeBlock: decoding arbitrary bytes never panics; what decodes
// re-encodes to the same bytes.
func FuzzDecodeBlock(f *testing.F) {
	b, _ := testBlock(f, 3)
	f.Add(b.Encode())
	empty, _ := testBlock(f, 0)
	f.Add(empty.Encode())
	f.Add([]byte{0x83, 0x89})
	f.Fuzz(func(t *testing.T, data []byte) {
		blk, err := DecodeBlock(data)
		if err != nil {
			return
		}
		if !bytes.Equal(blk.Encode(), data) {
			t.Fatalf("decoded block re-encodes differently")
		}
		_ = blk.Header.VerifySeal(blk.Seal)
	})
}

// FuzzDecodeDataRecord: the record payload decoder never panics.
func FuzzDecodeDataRecord(f *testing.F) {
	f.Add((&DataRecord{Stream: "s", Value: []byte("v")}).Encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeDataRecord(data)
		if err == nil && !bytes.Equal(r.Encode(), data) {
			t.Fatalf("record re-encodes differently")
		}
	})
}

// FuzzDecodeDIDOp: the registry payload decoder never panics; what decodes
// is valid and re-encodes to the same bytes, and approval checks on it
// never panic either.
func FuzzDecodeDIDOp(f *testing.F) {
	k1, k2 := seedKey(f, 1), seedKey(f, 2)
	reg := DIDOp{Op: OpRegister, Subject: k1.Public(), Domain: DomainSensing, Role: EntityDevice,
		Services: []Service{{ID: "p2p", Type: "LibP2P", Endpoint: "/ip4/192.0.2.1/tcp/4001"}}}
	reg.Approve(testChain, k1)
	rot := DIDOp{Op: OpRotateKey, Subject: k1.Public(), Version: 3, NewKey: k2.Public().Bytes()}
	rot.Approve(testChain, k2)
	for _, op := range []DIDOp{reg, rot,
		{Op: OpAdmit, Subject: k2.Public(), Version: 1, Onboard: []Domain{DomainSensing, DomainPhysicalEntities}},
		{Op: OpSetControllers, Subject: k1.Public(), Version: 2, Controllers: []identity.PublicKey{k1.Public()}, Threshold: 1},
		{Op: OpRemoveService, Subject: k1.Public(), Version: 2, ServiceID: "p2p"},
	} {
		f.Add(op.Encode())
		tx, err := NewDIDTx(testChain, 1, 1_767_225_600_000, &op)
		if err != nil {
			f.Fatal(err)
		}
		tx.Sign(k1)
		f.Add(tx.Encode())
	}
	f.Add([]byte{0x8c})
	f.Fuzz(func(t *testing.T, data []byte) {
		if op, err := DecodeDIDOp(data); err == nil {
			if !bytes.Equal(op.Encode(), data) {
				t.Fatalf("operation re-encodes differently")
			}
			if err := op.Validate(); err != nil {
				t.Fatalf("decoded operation does not validate: %v", err)
			}
			_ = op.VerifyApprovals(testChain)
		}
		// The same bytes as a whole transaction.
		if tx, err := DecodeTx(data); err == nil && tx.Type == TxDID {
			_ = tx.ValidateBasic(testChain)
			_ = tx.VerifySignature()
		}
	})
}

// FuzzDecodeDIDRecord: the stored-record decoder never panics.
func FuzzDecodeDIDRecord(f *testing.F) {
	k := seedKey(f, 1).Public()
	f.Add((&DIDRecord{ID: k, Key: k, Controllers: []identity.PublicKey{k}, Threshold: 1, Domain: DomainUser, Role: EntityUser, Version: 1}).Encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		if r, err := DecodeDIDRecord(data); err == nil {
			if !bytes.Equal(r.Encode(), data) {
				t.Fatalf("record re-encodes differently")
			}
			_ = r.Clone().HasKey(k)
		}
	})
}
