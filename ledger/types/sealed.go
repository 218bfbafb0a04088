package types

import (
	"errors"
	"fmt"
	"io"

	"github.com/sixdomain/sixdomain/identity"
)

// EnvelopeContentType marks a data record whose value is an
// identity.Envelope: a payload encrypted with HPKE to one or more
// recipients' did:key keyAgreement keys. Everyone can see that the record
// exists, who sent it, on which stream and when (and prove it with a
// Merkle proof); only the recipients can read it.
const EnvelopeContentType = "application/sixdomain-envelope+cbor"

// sealedContent is what an envelope encrypts: the real content type and
// value, so that the content type is hidden too.
type sealedContent struct {
	_           struct{} `cbor:",toarray"`
	ContentType string
	Value       []byte
}

// envelopeAAD binds an envelope to the chain, sender and stream of its
// record, so that it cannot be replayed as another sender's or stream's
// record: the length-prefixed chain ID, the sender's key and the stream.
func envelopeAAD(chainID string, sender identity.PublicKey, stream string) []byte {
	b := make([]byte, 0, 1+len(chainID)+32+len(stream))
	b = append(b, byte(len(chainID)))
	b = append(b, chainID...)
	b = append(b, sender[:]...)
	return append(b, stream...)
}

// NewSealedRecord returns a data record on stream whose value, with its
// content type, is encrypted to the recipients; sender is the key that
// will sign the transaction on chain chainID. rand supplies the content
// key and nonce.
func NewSealedRecord(rand io.Reader, chainID string, sender identity.PublicKey, stream, contentType string, value []byte, recipients []identity.PublicKey) (DataRecord, error) {
	if err := ValidateStream(stream); err != nil {
		return DataRecord{}, err
	}
	if len(contentType) > MaxContentTypeLen {
		return DataRecord{}, fmt.Errorf("%w: content type longer than %d bytes", ErrBadPayload, MaxContentTypeLen)
	}
	env, err := identity.Encrypt(rand, recipients, marshal(&sealedContent{ContentType: contentType, Value: value}), envelopeAAD(chainID, sender, stream))
	if err != nil {
		return DataRecord{}, fmt.Errorf("%w: %w", ErrBadPayload, err)
	}
	rec := DataRecord{Stream: stream, ContentType: EnvelopeContentType, Value: marshal(env)}
	if err := rec.Validate(); err != nil {
		return DataRecord{}, err
	}
	return rec, nil
}

// DecodeEnvelope decodes and checks the envelope a sealed record carries.
func DecodeEnvelope(data []byte) (*identity.Envelope, error) {
	var env identity.Envelope
	if err := unmarshalCanonical(data, &env); err != nil {
		return nil, fmt.Errorf("%w: envelope: %w", ErrBadPayload, err)
	}
	if err := env.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadPayload, err)
	}
	return &env, nil
}

// ErrNotSealed: the record is not encrypted.
var ErrNotSealed = errors.New("record is not encrypted")

// OpenSealedRecord decrypts a sealed record that sender sent on chain
// chainID with the recipient's key, and returns its content type and
// value. The error wraps ErrNotSealed, ErrBadPayload,
// identity.ErrNotRecipient or identity.ErrDecrypt.
func OpenSealedRecord(key *identity.PrivateKey, chainID string, sender identity.PublicKey, rec *DataRecord) (string, []byte, error) {
	if rec.ContentType != EnvelopeContentType {
		return "", nil, fmt.Errorf("%w: content type %q", ErrNotSealed, rec.ContentType)
	}
	env, err := DecodeEnvelope(rec.Value)
	if err != nil {
		return "", nil, err
	}
	plain, err := env.Decrypt(key, envelopeAAD(chainID, sender, rec.Stream))
	if err != nil {
		return "", nil, err
	}
	var c sealedContent
	if err := unmarshalCanonical(plain, &c); err != nil {
		return "", nil, fmt.Errorf("%w: sealed content: %w", ErrBadPayload, err)
	}
	return c.ContentType, c.Value, nil
}

// Recipients returns the keys a sealed record is encrypted to.
func (r *DataRecord) Recipients() ([]identity.PublicKey, error) {
	if r.ContentType != EnvelopeContentType {
		return nil, ErrNotSealed
	}
	env, err := DecodeEnvelope(r.Value)
	if err != nil {
		return nil, err
	}
	out := make([]identity.PublicKey, len(env.Recipients))
	for i, x := range env.Recipients {
		out[i] = x.Key
	}
	return out, nil
}
