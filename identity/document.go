package identity

import "fmt"

// JSON-LD contexts and verification method type of a did:key document in
// the Multikey representation.
const (
	contextDIDv1    = "https://www.w3.org/ns/did/v1"
	contextMultikey = "https://w3id.org/security/multikey/v1"
	typeMultikey    = "Multikey"
)

// Document is a W3C DID Core document for a did:key, as produced by the
// did:key method's document creation algorithm with the Multikey public key
// format.
type Document struct {
	Context              []string             `json:"@context"`
	ID                   string               `json:"id"`
	VerificationMethod   []VerificationMethod `json:"verificationMethod"`
	Authentication       []string             `json:"authentication"`
	AssertionMethod      []string             `json:"assertionMethod"`
	CapabilityInvocation []string             `json:"capabilityInvocation"`
	CapabilityDelegation []string             `json:"capabilityDelegation"`
	KeyAgreement         []string             `json:"keyAgreement"`
	// Controller, AlsoKnownAs and Service are set by a registry that holds
	// more than the key (see ledger's DID registry); a bare did:key
	// document has none.
	Controller  []string  `json:"controller,omitempty"`
	AlsoKnownAs []string  `json:"alsoKnownAs,omitempty"`
	Service     []Service `json:"service,omitempty"`
	// Sixdomain carries the registry's own properties (an extension
	// property, as DID Core allows).
	Sixdomain any `json:"sixdomain,omitempty"`
}

// Service is a DID Core service entry.
type Service struct {
	ID              string `json:"id"`
	Type            string `json:"type"`
	ServiceEndpoint string `json:"serviceEndpoint"`
}

// VerificationMethod is a DID Core verification method of type Multikey.
type VerificationMethod struct {
	ID                 string `json:"id"`
	Type               string `json:"type"`
	Controller         string `json:"controller"`
	PublicKeyMultibase string `json:"publicKeyMultibase"`
}

// ResolveKeyDocument resolves an Ed25519 did:key to its DID document. This
// needs no network: the document is derived from the key in the DID.
//
// The document has two verification methods. The first is the Ed25519 key
// itself, with id did#z6Mk..., and is referenced by authentication,
// assertionMethod, capabilityInvocation and capabilityDelegation. The
// second is the X25519 key derived from it (multicodec x25519-pub, z6LS...),
// with id did#z6LS..., and is referenced by keyAgreement.
//
// Errors are those of ParseDID.
func ResolveKeyDocument(did string) (*Document, error) {
	p, err := ParseDID(did)
	if err != nil {
		return nil, err
	}
	// Use the canonical spelling, which ParseDID guarantees equals did.
	return KeyDocument(p.DID(), p)
}

// KeyDocument returns the document of DID did whose key is p: the
// document ResolveKeyDocument derives when did is p's did:key, and the
// document of a registered DID whose key was rotated to p otherwise.
func KeyDocument(did string, p PublicKey) (*Document, error) {
	x, err := p.X25519()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedDID, err)
	}
	edKey := multikey(codecEd25519Pub, p[:])
	xKey := multikey(codecX25519Pub, x)
	edID := did + "#" + edKey
	xID := did + "#" + xKey
	return &Document{
		Context: []string{contextDIDv1, contextMultikey},
		ID:      did,
		VerificationMethod: []VerificationMethod{
			{ID: edID, Type: typeMultikey, Controller: did, PublicKeyMultibase: edKey},
			{ID: xID, Type: typeMultikey, Controller: did, PublicKeyMultibase: xKey},
		},
		Authentication:       []string{edID},
		AssertionMethod:      []string{edID},
		CapabilityInvocation: []string{edID},
		CapabilityDelegation: []string{edID},
		KeyAgreement:         []string{xID},
	}, nil
}
