package node

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// DIDResolution is a W3C DID Resolution result: the answer of
// GET /v1/dids/{did}.
type DIDResolution struct {
	Context               string              `json:"@context"`
	DIDDocument           *identity.Document  `json:"didDocument"`
	DIDResolutionMetadata ResolutionMetadata  `json:"didResolutionMetadata"`
	DIDDocumentMetadata   DIDDocumentMetadata `json:"didDocumentMetadata"`
}

// ResolutionMetadata is the didResolutionMetadata of a resolution.
type ResolutionMetadata struct {
	ContentType string `json:"contentType,omitempty"`
	Error       string `json:"error,omitempty"` // invalidDid, notFound, internalError
	Message     string `json:"errorMessage,omitempty"`
}

// DIDDocumentMetadata is the didDocumentMetadata of a resolution. For a
// did:key that was never registered it is empty but for Registered.
type DIDDocumentMetadata struct {
	Created       string   `json:"created,omitempty"` // RFC 3339, from block times
	Updated       string   `json:"updated,omitempty"`
	Deactivated   bool     `json:"deactivated,omitempty"`
	VersionID     string   `json:"versionId,omitempty"`
	NextUpdate    string   `json:"nextUpdate,omitempty"` // when resolved at a past version
	NextVersionID string   `json:"nextVersionId,omitempty"`
	CanonicalID   string   `json:"canonicalId,omitempty"`  // the DID it was registered as
	EquivalentID  []string `json:"equivalentId,omitempty"` // every did:key it has had
	Registered    bool     `json:"registered"`
	Height        uint64   `json:"height,omitempty"` // block of this version
	TxHash        string   `json:"txHash,omitempty"` // transaction of this version
}

// RegistryProperties is the document's "sixdomain" extension property.
type RegistryProperties struct {
	Domain     string   `json:"domain"` // ISO/IEC 30141 domain
	Role       string   `json:"role"`
	Admitted   bool     `json:"admitted"`
	AdmittedBy string   `json:"admittedBy,omitempty"`
	Onboard    []string `json:"onboard,omitempty"` // domains it may admit
	Revoked    bool     `json:"revoked,omitempty"`
	Threshold  uint8    `json:"threshold"`
}

const (
	didResolutionContext = "https://w3id.org/did-resolution/v1"
	didContentType       = "application/did+ld+json"
)

// ResolveDID resolves did against the finalized registry: the latest
// record, or the record current at versionTime (if not zero), or version
// versionID (if not zero). A did:key that was never registered resolves to
// its generated document. The error wraps ledger.ErrNotFound (no such
// version) or identity.ErrMalformedDID / identity.ErrUnsupportedKey.
func ResolveDID(r DIDStore, did string, versionTime time.Time, versionID uint64) (*DIDResolution, error) {
	key, err := identity.ParseDID(did)
	if err != nil {
		return nil, err
	}
	did = key.DID()
	res := &DIDResolution{Context: didResolutionContext, DIDResolutionMetadata: ResolutionMetadata{ContentType: didContentType}}
	hist, err := r.DIDHistory(key)
	if errors.Is(err, ledger.ErrNotFound) {
		if versionID != 0 {
			return nil, fmt.Errorf("%w: %s is not registered, it has no version %d", ledger.ErrNotFound, did, versionID)
		}
		doc, err := identity.ResolveKeyDocument(did)
		if err != nil {
			return nil, err
		}
		res.DIDDocument = doc
		return res, nil
	}
	if err != nil {
		return nil, err
	}
	idx := len(hist) - 1
	switch {
	case versionID != 0:
		idx = -1
		for i, v := range hist {
			if v.Version == versionID {
				idx = i
			}
		}
		if idx < 0 {
			return nil, fmt.Errorf("%w: %s has no version %d (latest is %d)", ledger.ErrNotFound, did, versionID, hist[len(hist)-1].Version)
		}
	case !versionTime.IsZero():
		if idx = ledger.VersionAt(hist, versionTime); idx < 0 {
			return nil, fmt.Errorf("%w: %s was not registered at %s", ledger.ErrNotFound, did, versionTime.UTC().Format(time.RFC3339Nano))
		}
	}
	rec := hist[idx]
	doc, err := identity.KeyDocument(did, rec.Key)
	if err != nil {
		return nil, err
	}
	for _, c := range rec.Controllers {
		doc.Controller = append(doc.Controller, c.DID())
	}
	var all []string
	keys := append(append([]identity.PublicKey{rec.ID}, rec.PrevKeys...), rec.Key)
	for _, k := range keys {
		if d := k.DID(); d != did && !slices.Contains(doc.AlsoKnownAs, d) {
			doc.AlsoKnownAs = append(doc.AlsoKnownAs, d)
		}
		if !slices.Contains(all, k.DID()) {
			all = append(all, k.DID())
		}
	}
	for _, s := range rec.Services {
		doc.Service = append(doc.Service, identity.Service{ID: did + "#" + s.ID, Type: s.Type, ServiceEndpoint: s.Endpoint})
	}
	props := RegistryProperties{Domain: rec.Domain.String(), Role: rec.Role.String(), Admitted: rec.Admitted,
		Revoked: rec.Revoked, Threshold: rec.Threshold}
	if rec.Admitted {
		props.AdmittedBy = rec.AdmittedBy.DID()
	}
	for _, d := range rec.Onboard {
		props.Onboard = append(props.Onboard, d.String())
	}
	doc.Sixdomain = props
	res.DIDDocument = doc
	md := &res.DIDDocumentMetadata
	md.Registered = true
	md.Created = time.UnixMilli(rec.Created).UTC().Format(time.RFC3339Nano)
	md.Updated = time.UnixMilli(rec.Updated).UTC().Format(time.RFC3339Nano)
	md.Deactivated = !rec.Active()
	md.VersionID = strconv.FormatUint(rec.Version, 10)
	md.CanonicalID = rec.DID()
	md.EquivalentID = all
	md.Height = rec.Height
	md.TxHash = rec.TxHash.String()
	if idx+1 < len(hist) {
		next := hist[idx+1]
		md.NextUpdate = time.UnixMilli(next.Updated).UTC().Format(time.RFC3339Nano)
		md.NextVersionID = strconv.FormatUint(next.Version, 10)
	}
	return res, nil
}

// DIDStore is what ResolveDID reads: every version of a DID, oldest first,
// or an error wrapping ledger.ErrNotFound.
type DIDStore interface {
	DIDHistory(k identity.PublicKey) ([]*types.DIDRecord, error)
}

type storeDIDs struct {
	n *Node
	r *http.Request
}

func (s storeDIDs) DIDHistory(k identity.PublicKey) ([]*types.DIDRecord, error) {
	return s.n.store.DIDHistory(s.r.Context(), k)
}

// handleDID serves GET /v1/dids/{did}[?versionTime=RFC3339|versionId=N].
func (n *Node) handleDID(w http.ResponseWriter, r *http.Request) {
	did := r.PathValue("did")
	fail := func(code int, kind string, err error) {
		writeJSON(w, code, DIDResolution{Context: didResolutionContext,
			DIDResolutionMetadata: ResolutionMetadata{Error: kind, Message: err.Error()}})
	}
	var at time.Time
	if v := r.URL.Query().Get("versionTime"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			fail(http.StatusBadRequest, "invalidOptions", fmt.Errorf("versionTime %q is not an RFC 3339 time: %v", v, err))
			return
		}
		at = t
	}
	var version uint64
	if v := r.URL.Query().Get("versionId"); v != "" {
		id, err := strconv.ParseUint(v, 10, 64)
		if err != nil || id == 0 {
			fail(http.StatusBadRequest, "invalidOptions", fmt.Errorf("versionId %q is not a positive integer", v))
			return
		}
		version = id
	}
	if !at.IsZero() && version != 0 {
		fail(http.StatusBadRequest, "invalidOptions", errors.New("give versionTime or versionId, not both"))
		return
	}
	if !strings.HasPrefix(did, "did:") {
		// A peer ID names the same key.
		if id, err := peer.Decode(did); err == nil {
			if k, err := identity.PublicKeyFromPeerID(id); err == nil {
				did = k.DID()
			}
		}
	}
	res, err := ResolveDID(storeDIDs{n, r}, did, at, version)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, res)
	case errors.Is(err, identity.ErrMalformedDID), errors.Is(err, identity.ErrBadPublicKey):
		fail(http.StatusBadRequest, "invalidDid", err)
	case errors.Is(err, ledger.ErrNotFound):
		fail(http.StatusNotFound, "notFound", err)
	default:
		fail(http.StatusInternalServerError, "internalError", err)
	}
}
