package light

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/fxamacker/cbor/v2"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/sixdomain/sixdomain/ledger/types"
)

// The light protocol, /sixdomain/<chain-id>/light/1 (docs/PROTOCOL.md,
// "Light clients"): the client opens a stream and writes one request
// frame; the server answers one response frame and closes the stream. A
// frame is a 4-byte big-endian length followed by that many bytes of
// canonical CBOR. Both sides check the length against the limit before
// allocating.

// ProtocolID returns the light protocol's ID for a chain.
func ProtocolID(chainID string) protocol.ID {
	return protocol.ID("/sixdomain/" + chainID + "/light/1")
}

// Request operations.
const (
	OpSubmit  uint8 = 1 // [1, tx, h'', 0, 0, 0]
	OpStatus  uint8 = 2 // [2, h'', tx_hash, trust_height, 0, 0]
	OpLatest  uint8 = 3 // [3, h'', h'', trust_height, 0, 0]
	OpHeaders uint8 = 4 // [4, h'', h'', 0, from, to]
)

// Response statuses.
const (
	StatusOK        uint8 = 0 // latest, headers
	StatusAccepted  uint8 = 1 // submit: new, admitted to the mempool
	StatusPending   uint8 = 2 // submit, status: known, not in a final block yet
	StatusCommitted uint8 = 3 // submit, status: in a final block
	StatusUnknown   uint8 = 4 // status: neither pending nor committed; latest: nothing final above the trust yet
	StatusRefused   uint8 = 5 // submit: refused (reason, text)
	StatusError     uint8 = 6 // any: the request could not be served (reason, text)
)

// Limits of the protocol.
const (
	// MaxRequestBytes bounds a request frame: a transaction (at most
	// types.MaxTxBytes) and the rest of the request.
	MaxRequestBytes = types.MaxTxBytes + 4<<10
	// MaxResponseBytes bounds a response frame (a server answers a
	// larger one with an error).
	MaxResponseBytes = 4 << 20
	// MaxHeaders bounds the headers one response carries; MaxHeaderBytes
	// their total size (a server stops before either is passed).
	MaxHeaders     = 1024
	MaxHeaderBytes = 1 << 20
	// MaxReasonLen and MaxTextLen bound a refusal's code and text.
	MaxReasonLen = 64
	MaxTextLen   = 512
	// maxTxPath bounds a proof's audit path (a tree of at most
	// types.MaxBlockTxs leaves needs 15).
	maxTxPath = 64
)

// Errors of the protocol.
var (
	// ErrFrame: a frame longer than its limit, or cut short.
	ErrFrame = errors.New("light: bad frame")
	// ErrMessage: a frame whose CBOR is not a well-formed, canonical message.
	ErrMessage = errors.New("light: bad message")
)

// Request is one light-protocol request: the CBOR array
// [op, tx, tx_hash, trust_height, from, to]; fields the operation does not
// use are empty (byte strings) or 0.
type Request struct {
	_    struct{} `cbor:",toarray"`
	Op   uint8
	Tx   []byte // OpSubmit: the signed transaction
	Hash []byte // OpStatus: the transaction hash (32 bytes)
	// TrustHeight (OpStatus, OpLatest) is the height of the finalized
	// checkpoint the client trusts (0: the genesis); finality proofs are
	// built for it.
	TrustHeight uint64
	From        uint64 // OpHeaders: first height
	To          uint64 // OpHeaders: last height (inclusive)
}

// Response answers a Request: the CBOR array
// [status, reason, text, proof, header, finality, headers].
type Response struct {
	_        struct{} `cbor:",toarray"`
	Status   uint8
	Reason   string   // StatusRefused, StatusError: a stable code (types.Reason and the node's own)
	Text     string   // StatusRefused, StatusError: human-readable detail
	Proof    []byte   // OpStatus committed: the inclusion proof (EncodeTxProof)
	Header   []byte   // OpLatest: the latest finalized header
	Finality []byte   // OpStatus committed above the trust height, OpLatest: the finality proof (types.FinalityProof)
	Headers  [][]byte // OpHeaders: encoded headers from..to, ascending
}

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	// Empty and absent byte strings and arrays have one encoding: empty
	// (0x40, 0x80), never null.
	opts := cbor.CoreDetEncOptions()
	opts.NilContainers = cbor.NilContainerAsEmpty
	if encMode, err = opts.EncMode(); err != nil {
		panic(err) // constant options
	}
	if decMode, err = (cbor.DecOptions{
		MaxNestedLevels:  4,
		MaxArrayElements: MaxHeaders + 8,
		MaxMapPairs:      16,
		IndefLength:      cbor.IndefLengthForbidden,
		TagsMd:           cbor.TagsForbidden,
		UTF8:             cbor.UTF8RejectInvalid,
	}).DecMode(); err != nil {
		panic(err) // constant options
	}
}

func marshal(v any) []byte {
	b, err := encMode.Marshal(v)
	if err != nil {
		// Only this package's fixed structs are marshalled.
		panic(fmt.Sprintf("light: encoding %T: %v", v, err))
	}
	return b
}

func unmarshalCanonical(data []byte, v any) error {
	if err := decMode.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: %v", ErrMessage, err)
	}
	if again, err := encMode.Marshal(v); err != nil || !bytes.Equal(again, data) {
		return fmt.Errorf("%w: not the canonical encoding", ErrMessage)
	}
	return nil
}

// Encode returns the request's canonical encoding.
func (r *Request) Encode() []byte { return marshal(r) }

// DecodeRequest decodes a request and checks that it is well formed: a
// known operation, the fields it needs, nothing else.
func DecodeRequest(data []byte) (*Request, error) {
	if len(data) > MaxRequestBytes {
		return nil, fmt.Errorf("%w: request of %d bytes", ErrFrame, len(data))
	}
	var r Request
	if err := unmarshalCanonical(data, &r); err != nil {
		return nil, err
	}
	bad := func(why string) (*Request, error) {
		return nil, fmt.Errorf("%w: op %d: %s", ErrMessage, r.Op, why)
	}
	switch r.Op {
	case OpSubmit:
		if len(r.Tx) == 0 || len(r.Tx) > types.MaxTxBytes || len(r.Hash) > 0 || r.TrustHeight != 0 || r.From != 0 || r.To != 0 {
			return bad("want only a transaction of 1 to 20480 bytes")
		}
	case OpStatus:
		if len(r.Hash) != 32 || len(r.Tx) > 0 || r.From != 0 || r.To != 0 {
			return bad("want a 32-byte hash and a trust height")
		}
	case OpLatest:
		if len(r.Tx)+len(r.Hash) > 0 || r.From != 0 || r.To != 0 {
			return bad("want only a trust height")
		}
	case OpHeaders:
		if len(r.Tx)+len(r.Hash) > 0 || r.TrustHeight != 0 || r.From == 0 || r.To < r.From || r.To-r.From >= MaxHeaders {
			return bad(fmt.Sprintf("want 1 <= from <= to < from+%d", MaxHeaders))
		}
	default:
		return bad("unknown operation")
	}
	return &r, nil
}

// Encode returns the response's canonical encoding.
func (r *Response) Encode() []byte { return marshal(r) }

// DecodeResponse decodes a response and checks its bounds.
func DecodeResponse(data []byte) (*Response, error) {
	if len(data) > MaxResponseBytes {
		return nil, fmt.Errorf("%w: response of %d bytes", ErrFrame, len(data))
	}
	var r Response
	if err := unmarshalCanonical(data, &r); err != nil {
		return nil, err
	}
	if r.Status > StatusError {
		return nil, fmt.Errorf("%w: status %d", ErrMessage, r.Status)
	}
	if len(r.Reason) > MaxReasonLen || len(r.Text) > MaxTextLen {
		return nil, fmt.Errorf("%w: reason or text too long", ErrMessage)
	}
	if len(r.Headers) > MaxHeaders {
		return nil, fmt.Errorf("%w: %d headers", ErrMessage, len(r.Headers))
	}
	return &r, nil
}

// WriteFrame writes one frame: the 4-byte big-endian length, then msg.
func WriteFrame(w io.Writer, msg []byte) error {
	buf := make([]byte, 4+len(msg))
	binary.BigEndian.PutUint32(buf, uint32(len(msg)))
	copy(buf[4:], msg)
	_, err := w.Write(buf)
	return err
}

// ReadFrame reads one frame of at most limit bytes, checking the length
// before it allocates.
func ReadFrame(r io.Reader, limit int) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("%w: length: %w", ErrFrame, err)
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 || uint64(n) > uint64(limit) {
		return nil, fmt.Errorf("%w: length %d (limit %d)", ErrFrame, n, limit)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("%w: body: %w", ErrFrame, err)
	}
	return buf, nil
}

// txProofWire is the inclusion proof's CBOR form: the array
// [chain_id, height, tx_hash, tx, index, tree_size, path, header, seal]
// of the fields of types.TxProof.
type txProofWire struct {
	_        struct{} `cbor:",toarray"`
	ChainID  string
	Height   uint64
	TxHash   types.Hash
	Tx       []byte
	Index    uint64
	TreeSize uint64
	Path     []types.Hash
	Header   []byte
	Seal     []byte
}

// EncodeTxProof returns the canonical CBOR form of an inclusion proof.
func EncodeTxProof(p *types.TxProof) []byte {
	return marshal(txProofWire{ChainID: p.ChainID, Height: p.Height, TxHash: p.TxHash, Tx: p.Tx, Index: p.Index,
		TreeSize: p.TreeSize, Path: p.Path, Header: p.Header, Seal: p.Seal})
}

// DecodeTxProof decodes an inclusion proof (it does not verify it).
func DecodeTxProof(data []byte) (*types.TxProof, error) {
	if len(data) > MaxResponseBytes {
		return nil, fmt.Errorf("%w: proof of %d bytes", ErrMessage, len(data))
	}
	var w txProofWire
	if err := unmarshalCanonical(data, &w); err != nil {
		return nil, err
	}
	if len(w.Path) > maxTxPath {
		return nil, fmt.Errorf("%w: audit path of %d hashes", ErrMessage, len(w.Path))
	}
	return &types.TxProof{ChainID: w.ChainID, Height: w.Height, TxHash: w.TxHash, Tx: w.Tx, Index: w.Index,
		TreeSize: w.TreeSize, Path: w.Path, Header: w.Header, Seal: w.Seal}, nil
}
