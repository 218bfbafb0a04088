package types

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	encMode, err = cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err) // constant options; cannot fail at run time
	}
	decMode, err = cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels:   8,
		MaxArrayElements:  MaxBlockTxs + 16,
		MaxMapPairs:       16,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		UTF8:              cbor.UTF8RejectInvalid,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

// marshal encodes v in the core deterministic profile.
func marshal(v any) []byte {
	b, err := encMode.Marshal(v)
	if err != nil {
		// Only the package's own fixed structs are marshalled; an error here is
		// a programming error, not bad input.
		panic(fmt.Sprintf("types: encoding %T: %v", v, err))
	}
	return b
}

// unmarshalCanonical decodes data into v and insists that data is the one
// canonical encoding of the decoded value.
func unmarshalCanonical(data []byte, v any) error {
	if err := decMode.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: %v", ErrUndecodable, err)
	}
	again, err := encMode.Marshal(v)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUndecodable, err)
	}
	if !bytes.Equal(again, data) {
		return ErrNonCanonical
	}
	return nil
}

// Encoding errors.
var (
	// ErrOversize: the input is larger than its documented limit.
	ErrOversize = errors.New("oversize")
	// ErrUndecodable: the bytes are not the expected CBOR structure.
	ErrUndecodable = errors.New("undecodable")
	// ErrNonCanonical: the bytes decode but are not the canonical encoding.
	ErrNonCanonical = errors.New("non-canonical encoding")
)
