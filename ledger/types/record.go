package types

import (
	"fmt"
	"unicode/utf8"
)

// Limits of a data record.
const (
	MaxStreamLen      = 128
	MaxContentTypeLen = 64
	MaxRecordValue    = 16 * 1024
)

// DataRecord is the payload of a TxDataRecord transaction: one timestamped
// reading of one stream of a device (the transaction carries the time and
// the device). It encodes as the CBOR array [stream, content_type, value].
type DataRecord struct {
	_           struct{} `cbor:",toarray"`
	Stream      string   // e.g. "temperature/room1"; 1..128 bytes of printable ASCII, no spaces
	ContentType string   // media type of Value, e.g. "application/json"; may be empty; at most 64 bytes
	Value       []byte   // at most 16 KiB
}

// Encode returns the canonical encoding of the record.
func (r *DataRecord) Encode() []byte { return marshal(r) }

// Validate checks the record's limits.
func (r *DataRecord) Validate() error {
	if err := ValidateStream(r.Stream); err != nil {
		return err
	}
	if len(r.ContentType) > MaxContentTypeLen || !utf8.ValidString(r.ContentType) {
		return fmt.Errorf("%w: content type longer than %d bytes", ErrBadPayload, MaxContentTypeLen)
	}
	if len(r.Value) > MaxRecordValue {
		return fmt.Errorf("%w: value of %d bytes exceeds %d", ErrOversize, len(r.Value), MaxRecordValue)
	}
	if r.ContentType == EnvelopeContentType {
		// Every node checks the envelope's shape (not its content, which
		// it cannot read).
		if _, err := DecodeEnvelope(r.Value); err != nil {
			return err
		}
	}
	return nil
}

// ValidateStream checks a stream name: 1 to 128 bytes of printable ASCII
// without spaces.
func ValidateStream(s string) error {
	if len(s) == 0 || len(s) > MaxStreamLen {
		return fmt.Errorf("%w: stream name must be 1 to %d bytes, got %d", ErrBadPayload, MaxStreamLen, len(s))
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("%w: stream name has byte 0x%02x at %d; only printable ASCII without spaces is allowed", ErrBadPayload, c, i)
		}
	}
	return nil
}

// DecodeDataRecord decodes and validates a data record payload.
func DecodeDataRecord(data []byte) (*DataRecord, error) {
	if len(data) > MaxPayloadBytes {
		return nil, fmt.Errorf("%w: record of %d bytes", ErrOversize, len(data))
	}
	var r DataRecord
	if err := unmarshalCanonical(data, &r); err != nil {
		return nil, fmt.Errorf("%w: data record: %w", ErrBadPayload, err)
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// NewDataRecordTx builds an unsigned data-record transaction.
func NewDataRecordTx(chainID string, nonce uint64, timestampMillis int64, rec DataRecord) (*Tx, error) {
	if err := rec.Validate(); err != nil {
		return nil, err
	}
	return &Tx{Version: TxVersion, ChainID: chainID, Type: TxDataRecord, Nonce: nonce,
		Timestamp: timestampMillis, Payload: rec.Encode()}, nil
}
