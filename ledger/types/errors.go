package types

import "errors"

// Transaction validation errors. Each names one reason a transaction is
// refused; callers wrap them with detail and match them with errors.Is.
var (
	ErrBadVersion    = errors.New("unsupported version")
	ErrWrongChain    = errors.New("wrong chain ID")
	ErrUnknownType   = errors.New("unknown transaction type")
	ErrBadSender     = errors.New("malformed sender key")
	ErrBadSignature  = errors.New("bad signature")
	ErrBadPayload    = errors.New("malformed payload")
	ErrZeroNonce     = errors.New("nonce must be at least 1")
	ErrTimeInFuture  = errors.New("timestamp too far in the future")
	ErrTimeInPast    = errors.New("timestamp too far in the past")
	ErrReplayedNonce = errors.New("nonce already used")
	ErrNonceGap      = errors.New("nonce leaves a gap")
	ErrBadBlock      = errors.New("invalid block")
	ErrBadBatch      = errors.New("invalid transaction batch")
	ErrBadGenesis    = errors.New("invalid genesis")
	ErrBadProof      = errors.New("invalid proof")
	ErrBadVote       = errors.New("invalid vote")
)

// reasons maps each sentinel to the short, stable code used in metrics
// labels and API error bodies.
var reasons = []struct {
	err  error
	code string
}{
	{ErrInsufficientFee, "insufficient_fee"},
	{ErrOversize, "oversize"},
	{ErrUndecodable, "undecodable"},
	{ErrNonCanonical, "non_canonical"},
	{ErrBadVersion, "bad_version"},
	{ErrWrongChain, "wrong_chain"},
	{ErrUnknownType, "unknown_type"},
	{ErrBadSender, "bad_sender"},
	{ErrBadSignature, "bad_signature"},
	{ErrBadPayload, "bad_payload"},
	{ErrZeroNonce, "zero_nonce"},
	{ErrTimeInFuture, "time_in_future"},
	{ErrTimeInPast, "time_in_past"},
	{ErrReplayedNonce, "replayed_nonce"},
	{ErrNonceGap, "nonce_gap"},
	{ErrBadDIDOp, "bad_did_op"},
	{ErrDIDExists, "did_exists"},
	{ErrDIDNotFound, "did_not_found"},
	{ErrDIDVersion, "did_version"},
	{ErrDIDUnauthorized, "did_unauthorized"},
	{ErrDIDState, "did_state"},
	{ErrSenderNotAdmitted, "sender_not_admitted"},
	{ErrSenderRevoked, "sender_revoked"},
	{ErrKeyRotated, "key_rotated"},
	{ErrBadBlock, "bad_block"},
	{ErrBadBatch, "bad_batch"},
	{ErrBadGenesis, "bad_genesis"},
	{ErrBadProof, "bad_proof"},
	{ErrBadVote, "bad_vote"},
}

// Reason returns the stable code of the first sentinel err wraps, or
// "other".
func Reason(err error) string {
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.code
		}
	}
	return "other"
}
