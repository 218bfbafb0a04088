package types

import "fmt"

// Receipt statuses.
const (
	ReceiptOK     uint8 = 0
	ReceiptFailed uint8 = 1
)

// Receipt is the outcome of a transaction whose state rules may refuse it
// after it is included (TxAsset, TxDeploy, TxCall): Status ReceiptOK, or
// ReceiptFailed with Reason (a short code) and Error (the text). A failed
// transaction consumed its nonce (and its gas) and changed nothing else.
// Contract transactions add the gas used, the return value (canonical
// CBOR), the events and, for a deploy, the contract's address. It encodes
// as the CBOR array [tx_hash, height, index, status, reason, error,
// gas_used, return, [[topic, data], ...], address, fee].
type Receipt struct {
	_       struct{}       `cbor:",toarray"`
	TxHash  Hash           `json:"tx_hash"`
	Height  uint64         `json:"height"`
	Index   uint32         `json:"index"`
	Status  uint8          `json:"status"`
	Reason  string         `json:"reason,omitempty"`
	Error   string         `json:"error,omitempty"`
	GasUsed uint64         `json:"gas_used,omitempty"`
	Return  HexBytes       `json:"return,omitempty"`
	Events  []ReceiptEvent `json:"events,omitempty"`
	Address *Hash          `json:"address,omitempty"`
	// Fee is what the transaction paid (chains with fees).
	Fee uint64 `json:"fee,omitempty"`
}

// ReceiptEvent is an event a contract emitted: [topic, data (canonical
// CBOR)].
type ReceiptEvent struct {
	_     struct{} `cbor:",toarray"`
	Topic string   `json:"topic"`
	Data  HexBytes `json:"data"`
}

// maxReceiptBytes bounds an encoded receipt.
const maxReceiptBytes = 64 << 10

// Encode returns the receipt's canonical encoding.
func (r *Receipt) Encode() []byte { return marshal(r) }

// DecodeReceipt decodes a canonical receipt.
func DecodeReceipt(b []byte) (*Receipt, error) {
	if len(b) > maxReceiptBytes {
		return nil, fmt.Errorf("%w: receipt of %d bytes", ErrOversize, len(b))
	}
	var r Receipt
	if err := unmarshalCanonical(b, &r); err != nil {
		return nil, fmt.Errorf("receipt: %w", err)
	}
	return &r, nil
}
