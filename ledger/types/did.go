package types

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sixdomain/sixdomain/identity"
)

// TxDID carries a DIDOp: a change to the DID registry (see DIDOp).
const TxDID TxType = 3

// Limits of the DID registry. They are part of the protocol.
const (
	MaxControllers     = 8
	MaxServices        = 16
	MaxApprovals       = MaxControllers + 1 // controllers plus a new key's proof
	MaxKeyRotations    = 64
	MaxServiceIDLen    = 32
	MaxServiceTypeLen  = 64
	MaxServiceEndpoint = 256
)

// DIDOpKind names a registry operation.
type DIDOpKind uint8

// Registry operations. Who must sign each is documented on DIDOp.
const (
	OpRegister       DIDOpKind = 1
	OpSetControllers DIDOpKind = 2
	OpRotateKey      DIDOpKind = 3
	OpAddService     DIDOpKind = 4
	OpRemoveService  DIDOpKind = 5
	OpDeactivate     DIDOpKind = 6
	OpReactivate     DIDOpKind = 7
	OpSetProfile     DIDOpKind = 8
	OpAdmit          DIDOpKind = 9
	OpRevoke         DIDOpKind = 10
)

var opNames = map[DIDOpKind]string{
	OpRegister: "register", OpSetControllers: "set-controllers", OpRotateKey: "rotate-key",
	OpAddService: "add-service", OpRemoveService: "remove-service", OpDeactivate: "deactivate",
	OpReactivate: "reactivate", OpSetProfile: "set-profile", OpAdmit: "admit", OpRevoke: "revoke",
}

func (k DIDOpKind) String() string {
	if s, ok := opNames[k]; ok {
		return s
	}
	return fmt.Sprintf("op(%d)", uint8(k))
}

// ControllerOp reports whether the operation needs the threshold of the
// subject's controllers (all but register, admit and revoke).
func (k DIDOpKind) ControllerOp() bool {
	switch k {
	case OpSetControllers, OpRotateKey, OpAddService, OpRemoveService, OpDeactivate, OpReactivate, OpSetProfile:
		return true
	}
	return false
}

// Domain is an entity's place in the ISO/IEC 30141 IoT reference model's
// six domains.
type Domain uint8

// The six domains of ISO/IEC 30141.
const (
	DomainUser             Domain = 1 // user domain
	DomainOperations       Domain = 2 // operations & management
	DomainApplication      Domain = 3 // application & service
	DomainResourceAccess   Domain = 4 // resource access & interchange
	DomainSensing          Domain = 5 // sensing & controlling
	DomainPhysicalEntities Domain = 6 // physical entity
)

var domainNames = []string{"", "user", "operations", "application", "resource-access", "sensing", "physical"}

func (d Domain) String() string {
	if d >= 1 && int(d) < len(domainNames) {
		return domainNames[d]
	}
	return fmt.Sprintf("domain(%d)", uint8(d))
}

// Valid reports whether d is one of the six domains.
func (d Domain) Valid() bool { return d >= DomainUser && d <= DomainPhysicalEntities }

// ParseDomain accepts a domain's name (user, operations, application,
// resource-access, sensing, physical) or its number 1..6.
func ParseDomain(s string) (Domain, error) {
	i, err := parseName("domain", s, domainNames)
	return Domain(i), err
}

// parseName returns the index (from 1) of s in names, given as a name or
// a number.
func parseName(kind, s string, names []string) (uint8, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	for i, n := range names {
		if i > 0 && (s == n || s == fmt.Sprint(i)) {
			return uint8(i), nil
		}
	}
	return 0, fmt.Errorf("%w: %s %q: want one of %s", ErrBadPayload, kind, s, strings.Join(names[1:], ", "))
}

// EntityRole says what kind of entity a DID names.
type EntityRole uint8

// Entity roles.
const (
	EntityDevice      EntityRole = 1
	EntityGateway     EntityRole = 2
	EntityOperator    EntityRole = 3
	EntityApplication EntityRole = 4
	EntityUser        EntityRole = 5
	EntityBridge      EntityRole = 6 // an MQTT/CoAP/... bridge
)

var roleNames = []string{"", "device", "gateway", "operator", "application", "user", "bridge"}

func (r EntityRole) String() string {
	if r >= 1 && int(r) < len(roleNames) {
		return roleNames[r]
	}
	return fmt.Sprintf("role(%d)", uint8(r))
}

// Valid reports whether r is a known role.
func (r EntityRole) Valid() bool { return r >= EntityDevice && r <= EntityBridge }

// ParseEntityRole accepts a role's name or number.
func ParseEntityRole(s string) (EntityRole, error) {
	i, err := parseName("role", s, roleNames)
	return EntityRole(i), err
}

// Service is a DID document service entry: where and how an entity is
// reached (its libp2p multiaddr, an MQTT or CoAP bridge, ...). It encodes
// as [id, type, endpoint].
type Service struct {
	_        struct{} `cbor:",toarray"`
	ID       string   // fragment, 1..32 of [a-z0-9-]; the service's id is did#ID
	Type     string   // e.g. "LibP2P", "MQTTBridge", "CoAP"; 1..64 printable ASCII
	Endpoint string   // e.g. "/ip4/192.0.2.7/udp/4001/quic-v1", "mqtts://..."; 1..256 printable ASCII
}

// Validate checks the service's fields.
func (s *Service) Validate() error {
	if len(s.ID) == 0 || len(s.ID) > MaxServiceIDLen {
		return fmt.Errorf("%w: service id must be 1 to %d characters", ErrBadPayload, MaxServiceIDLen)
	}
	for _, c := range []byte(s.ID) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("%w: service id %q: only a-z, 0-9 and '-' are allowed", ErrBadPayload, s.ID)
		}
	}
	if err := printable("service type", s.Type, MaxServiceTypeLen); err != nil {
		return err
	}
	return printable("service endpoint", s.Endpoint, MaxServiceEndpoint)
}

func printable(what, s string, max int) error {
	if len(s) == 0 || len(s) > max {
		return fmt.Errorf("%w: %s must be 1 to %d bytes, got %d", ErrBadPayload, what, max, len(s))
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("%w: %s has byte 0x%02x at %d; only printable ASCII without spaces is allowed", ErrBadPayload, what, c, i)
		}
	}
	return nil
}

// Approval is a signature by a key other than the transaction's sender
// over a DID operation: a controller's consent, or the proof that the
// signer holds a key being registered or rotated in. It signs
// ApprovalBytes(chainID, op).
type Approval struct {
	_         struct{} `cbor:",toarray"`
	Signer    identity.PublicKey
	Signature []byte
}

// DIDOp is the payload of a TxDID transaction. It encodes as the CBOR array
// [op, subject, version, controllers, threshold, domain, role, services,
// service_id, new_key, onboard, approvals]; fields an operation does not
// use must be empty (zero).
//
// Subject names the DID: for OpRegister the new DID's key; otherwise any
// key the DID has had (its did:key, or a key rotated in or out). Version is
// the subject record's current version (0 for OpRegister): an operation
// applies to exactly that version, so a signed operation cannot be
// replayed later.
//
// The signers of an operation are the transaction's sender and the
// Approvals' signers. What each operation needs:
//   - OpRegister: the subject's key among the signers (proof of
//     possession). Controllers (default: the subject itself) and
//     Threshold (default 1), Domain and Role (required), Services.
//   - Controller operations (OpSetControllers, OpRotateKey,
//     OpAddService, OpRemoveService, OpDeactivate, OpReactivate,
//     OpSetProfile): Threshold of the subject's controllers among the
//     signers, each by its current key. OpRotateKey also needs NewKey
//     among the signers.
//   - OpAdmit: the sender is an authority — who may also grant the
//     subject the right to admit entities of the Onboard domains — or an
//     admitted entity holding that right for the subject's domain.
//   - OpRevoke: the sender is an authority or the entity that admitted
//     the subject.
type DIDOp struct {
	_           struct{} `cbor:",toarray"`
	Op          DIDOpKind
	Subject     identity.PublicKey
	Version     uint64
	Controllers []identity.PublicKey // register, set-controllers
	Threshold   uint8                // register, set-controllers
	Domain      Domain               // register, set-profile
	Role        EntityRole           // register, set-profile
	Services    []Service            // register (any number), add-service (exactly one)
	ServiceID   string               // remove-service
	NewKey      []byte               // rotate-key: the 32-byte Ed25519 key rotated in
	Onboard     []Domain             // admit by an authority: domains the subject may admit
	Approvals   []Approval
}

// Encode returns the canonical encoding of the operation.
func (op *DIDOp) Encode() []byte { return marshal(op) }

// approvalDomain separates approval signatures from every other use of a
// key.
const approvalDomain = "SIXDOMAIN-DID-APPROVAL-V1\x00"

// ApprovalBytes returns what an approval of op signs on chain chainID: a
// domain tag, the chain ID's length and bytes, and the canonical encoding
// of op without its approvals.
func ApprovalBytes(chainID string, op *DIDOp) []byte {
	bare := *op
	bare.Approvals = nil
	b := append([]byte(approvalDomain), byte(len(chainID)))
	b = append(b, chainID...)
	return append(b, marshal(&bare)...)
}

// Approve appends key's approval of op on chain chainID. Add approvals
// after every other field is final.
func (op *DIDOp) Approve(chainID string, key *identity.PrivateKey) {
	op.Approvals = append(op.Approvals, Approval{Signer: key.Public(), Signature: key.Sign(ApprovalBytes(chainID, op))})
}

// NewKeyValue returns NewKey as a public key (zero if absent).
func (op *DIDOp) NewKeyValue() identity.PublicKey {
	var k identity.PublicKey
	copy(k[:], op.NewKey)
	return k
}

// Validate checks the operation's shape: a known op, the fields it uses
// within limits, the others empty. It needs no state and verifies no
// signature.
func (op *DIDOp) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrBadDIDOp, op.Op, fmt.Sprintf(format, args...))
	}
	if _, ok := opNames[op.Op]; !ok {
		return fmt.Errorf("%w: unknown operation %d", ErrBadDIDOp, op.Op)
	}
	if op.Subject == (identity.PublicKey{}) {
		return bad("no subject")
	}
	if len(op.Approvals) > MaxApprovals {
		return bad("%d approvals, limit %d", len(op.Approvals), MaxApprovals)
	}
	for i, a := range op.Approvals {
		if len(a.Signature) != 64 {
			return bad("approval %d: signature of %d bytes", i, len(a.Signature))
		}
		for _, b := range op.Approvals[:i] {
			if b.Signer == a.Signer {
				return bad("approval %d: %s approves twice", i, a.Signer.DID())
			}
		}
	}
	uses := map[string]bool{}
	switch op.Op {
	case OpRegister:
		uses = map[string]bool{"controllers": true, "threshold": true, "domain": true, "role": true, "services": true}
		if op.Version != 0 {
			return bad("version must be 0")
		}
		if !op.Domain.Valid() {
			return bad("domain %d is not one of the six (1..6)", op.Domain)
		}
		if !op.Role.Valid() {
			return bad("unknown role %d", op.Role)
		}
		if err := validateControllers(op.Controllers, op.Threshold, true); err != nil {
			return bad("%v", err)
		}
		if len(op.Services) > MaxServices {
			return bad("%d services, limit %d", len(op.Services), MaxServices)
		}
		for i := range op.Services {
			if err := op.Services[i].Validate(); err != nil {
				return bad("service %d: %v", i, err)
			}
			for j := range op.Services[:i] {
				if op.Services[j].ID == op.Services[i].ID {
					return bad("service id %q twice", op.Services[i].ID)
				}
			}
		}
	case OpSetControllers:
		uses = map[string]bool{"controllers": true, "threshold": true}
		if err := validateControllers(op.Controllers, op.Threshold, false); err != nil {
			return bad("%v", err)
		}
	case OpRotateKey:
		uses = map[string]bool{"newkey": true}
		if len(op.NewKey) != 32 {
			return bad("new key of %d bytes, want 32", len(op.NewKey))
		}
		if op.NewKeyValue() == op.Subject {
			return bad("new key equals the subject")
		}
	case OpAddService:
		uses = map[string]bool{"services": true}
		if len(op.Services) != 1 {
			return bad("exactly one service, got %d", len(op.Services))
		}
		if err := op.Services[0].Validate(); err != nil {
			return bad("%v", err)
		}
	case OpRemoveService:
		uses = map[string]bool{"serviceid": true}
		if op.ServiceID == "" || len(op.ServiceID) > MaxServiceIDLen {
			return bad("service id must be 1 to %d characters", MaxServiceIDLen)
		}
	case OpSetProfile:
		uses = map[string]bool{"domain": true, "role": true}
		if !op.Domain.Valid() {
			return bad("domain %d is not one of the six (1..6)", op.Domain)
		}
		if !op.Role.Valid() {
			return bad("unknown role %d", op.Role)
		}
	case OpAdmit:
		uses = map[string]bool{"onboard": true}
		if len(op.Onboard) > int(DomainPhysicalEntities) {
			return bad("%d onboard domains, at most 6", len(op.Onboard))
		}
		for i, d := range op.Onboard {
			if !d.Valid() {
				return bad("onboard domain %d is not one of the six", d)
			}
			if i > 0 && op.Onboard[i-1] >= d {
				return bad("onboard domains must be sorted and distinct")
			}
		}
	case OpDeactivate, OpReactivate, OpRevoke:
	}
	unused := []struct {
		name  string
		empty bool
	}{
		{"controllers", len(op.Controllers) == 0}, {"threshold", op.Threshold == 0},
		{"domain", op.Domain == 0}, {"role", op.Role == 0}, {"services", len(op.Services) == 0},
		{"serviceid", op.ServiceID == ""}, {"newkey", len(op.NewKey) == 0}, {"onboard", len(op.Onboard) == 0},
	}
	for _, f := range unused {
		if !uses[f.name] && !f.empty {
			return bad("field %s is not used by this operation and must be empty", f.name)
		}
	}
	return nil
}

func validateControllers(cs []identity.PublicKey, threshold uint8, optional bool) error {
	if len(cs) == 0 && optional {
		if threshold != 0 {
			return errors.New("threshold without controllers")
		}
		return nil
	}
	if len(cs) == 0 || len(cs) > MaxControllers {
		return fmt.Errorf("1 to %d controllers, got %d", MaxControllers, len(cs))
	}
	for i, c := range cs {
		if c == (identity.PublicKey{}) {
			return fmt.Errorf("controller %d is empty", i)
		}
		if i > 0 && bytes.Compare(cs[i-1][:], c[:]) >= 0 {
			return errors.New("controllers must be sorted by key bytes and distinct")
		}
	}
	if threshold < 1 || int(threshold) > len(cs) {
		return fmt.Errorf("threshold %d outside 1..%d", threshold, len(cs))
	}
	return nil
}

// DecodeDIDOp decodes and validates a registry operation payload.
func DecodeDIDOp(data []byte) (*DIDOp, error) {
	if len(data) > MaxPayloadBytes {
		return nil, fmt.Errorf("%w: DID operation of %d bytes", ErrOversize, len(data))
	}
	var op DIDOp
	if err := unmarshalCanonical(data, &op); err != nil {
		return nil, fmt.Errorf("%w: DID operation: %w", ErrBadDIDOp, err)
	}
	if err := op.Validate(); err != nil {
		return nil, err
	}
	return &op, nil
}

// VerifyApprovals checks every approval's signature over op on chain
// chainID.
func (op *DIDOp) VerifyApprovals(chainID string) error {
	if len(op.Approvals) == 0 {
		return nil
	}
	msg := ApprovalBytes(chainID, op)
	for i, a := range op.Approvals {
		if !a.Signer.Verify(msg, a.Signature) {
			return fmt.Errorf("%w: approval %d by %s does not verify", ErrBadSignature, i, a.Signer.DID())
		}
	}
	return nil
}

// NewDIDTx builds an unsigned registry transaction carrying op.
func NewDIDTx(chainID string, nonce uint64, timestampMillis int64, op *DIDOp) (*Tx, error) {
	if err := op.Validate(); err != nil {
		return nil, err
	}
	return &Tx{Version: TxVersion, ChainID: chainID, Type: TxDID, Nonce: nonce,
		Timestamp: timestampMillis, Payload: op.Encode()}, nil
}

// DIDRecord is the registry's record of one DID after a change. It encodes
// as a CBOR array in field order; the state root commits to its hash.
type DIDRecord struct {
	_           struct{}             `cbor:",toarray"`
	ID          identity.PublicKey   // the key the DID was registered with: the DID is did:key of it
	Key         identity.PublicKey   // current key
	PrevKeys    []identity.PublicKey // keys rotated out, oldest first
	Controllers []identity.PublicKey // DIDs (their registration keys) that control this one
	Threshold   uint8
	Domain      Domain
	Role        EntityRole
	Services    []Service
	Deactivated bool
	Admitted    bool
	AdmittedBy  identity.PublicKey // ID of the admitter; zero if not admitted
	Onboard     []Domain           // domains whose entities this one may admit
	Revoked     bool
	Version     uint64 // 1 after registration, +1 per change
	Created     int64  // ms, time of the block that registered it
	Updated     int64  // ms, time of the block of this version
	Height      uint64 // block of this version
	TxHash      Hash   // transaction of this version
}

// Encode returns the canonical encoding of the record.
func (r *DIDRecord) Encode() []byte { return marshal(r) }

// DecodeDIDRecord decodes a stored record.
func DecodeDIDRecord(data []byte) (*DIDRecord, error) {
	if len(data) > MaxPayloadBytes*2 {
		return nil, fmt.Errorf("%w: DID record of %d bytes", ErrOversize, len(data))
	}
	var r DIDRecord
	if err := unmarshalCanonical(data, &r); err != nil {
		return nil, fmt.Errorf("DID record: %w", err)
	}
	return &r, nil
}

// Clone returns a deep copy.
func (r *DIDRecord) Clone() *DIDRecord {
	c := *r
	c.PrevKeys = slices.Clone(r.PrevKeys)
	c.Controllers = slices.Clone(r.Controllers)
	c.Services = slices.Clone(r.Services)
	c.Onboard = slices.Clone(r.Onboard)
	return &c
}

// DID returns the record's DID: did:key of its registration key.
func (r *DIDRecord) DID() string { return r.ID.DID() }

// HasKey reports whether k is the record's registration, current or a
// former key.
func (r *DIDRecord) HasKey(k identity.PublicKey) bool {
	return r.ID == k || r.Key == k || slices.Contains(r.PrevKeys, k)
}

// Active reports whether the entity may act: neither deactivated nor
// revoked.
func (r *DIDRecord) Active() bool { return !r.Deactivated && !r.Revoked }

// MayOnboard reports whether the record's entity, active and admitted,
// may admit entities of domain d.
func (r *DIDRecord) MayOnboard(d Domain) bool {
	return r.Active() && r.Admitted && slices.Contains(r.Onboard, d)
}

// UpdatedTime returns Updated as a time.
func (r *DIDRecord) UpdatedTime() time.Time { return time.UnixMilli(r.Updated) }

// Registry errors: why an operation or a sender is refused.
var (
	// ErrBadDIDOp: the operation is malformed (shape, limits, unused fields).
	ErrBadDIDOp = errors.New("malformed DID operation")
	// ErrDIDExists: register of a key that names or belonged to a DID.
	ErrDIDExists = errors.New("DID already registered")
	// ErrDIDNotFound: the subject is not registered.
	ErrDIDNotFound = errors.New("DID not registered")
	// ErrDIDVersion: the operation names another version than the record's.
	ErrDIDVersion = errors.New("DID version mismatch")
	// ErrDIDUnauthorized: the signers do not meet the rule of the operation.
	ErrDIDUnauthorized = errors.New("not authorized for this DID operation")
	// ErrDIDState: the operation does not fit the record's state
	// (reactivate of an active DID, remove of an unknown service, ...).
	ErrDIDState = errors.New("DID operation does not fit the record")
	// ErrSenderNotAdmitted: on an admitted chain, the sender is neither an
	// authority nor an admitted entity.
	ErrSenderNotAdmitted = errors.New("sender not admitted")
	// ErrSenderRevoked: the sender's DID is revoked or deactivated.
	ErrSenderRevoked = errors.New("sender revoked or deactivated")
	// ErrKeyRotated: the sender's key was rotated out of its DID.
	ErrKeyRotated = errors.New("sender key rotated out")
)
