package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/node"
)

// resolved is a DID resolution result with the parts sixd uses decoded.
type resolved struct {
	Res   node.DIDResolution
	Raw   []byte // the node's answer as it came
	Props node.RegistryProperties
	// Registered: the DID is in the registry (else Res holds the
	// document generated from the did:key).
	Registered bool
	Version    uint64             // the record's version, 0 if not registered
	Key        identity.PublicKey // current key
	Canonical  identity.PublicKey // registration key (the key itself if not registered)
}

// resolveDID resolves ref (a did:key or peer ID) with the node: the latest
// version, or the one current at at (if not zero), or version (if not 0).
func resolveDID(ctx context.Context, c *apiClient, ref string, at time.Time, version uint64) (*resolved, error) {
	pub, err := parseKeyRef(ref)
	if err != nil {
		return nil, err
	}
	did := pub.DID()
	q := url.Values{}
	if !at.IsZero() {
		q.Set("versionTime", at.UTC().Format(time.RFC3339Nano))
	}
	if version != 0 {
		q.Set("versionId", strconv.FormatUint(version, 10))
	}
	path := "/v1/dids/" + url.PathEscape(did)
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	raw, err := c.getRaw(ctx, path)
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) || (ae.Code != http.StatusNotFound && ae.Code != http.StatusBadRequest) {
			return nil, fmt.Errorf("resolving %s: %w", did, err)
		}
		var res node.DIDResolution
		_ = json.Unmarshal(ae.Body, &res) // a body that is no DIDResolution leaves res empty
		md := res.DIDResolutionMetadata
		switch {
		case ae.Code == http.StatusNotFound && !at.IsZero():
			return nil, fmt.Errorf("%s was not registered at %s", did, at.UTC().Format(time.RFC3339Nano))
		case ae.Code == http.StatusNotFound && version != 0:
			return nil, fmt.Errorf("%s has no version %d (%s)", did, version, md.Message)
		case md.Error != "":
			return nil, fmt.Errorf("resolving %s: %s: %s (HTTP %d)", did, md.Error, md.Message, ae.Code)
		}
		return nil, fmt.Errorf("resolving %s: %w", did, err)
	}
	r := &resolved{Raw: raw, Key: pub, Canonical: pub}
	if err := decodeBody(raw, &r.Res); err != nil {
		return nil, err
	}
	md := r.Res.DIDDocumentMetadata
	doc := r.Res.DIDDocument
	if doc == nil || len(doc.VerificationMethod) == 0 {
		return nil, fmt.Errorf("resolving %s: the node's answer has no DID document", did)
	}
	if r.Key, err = identity.ParseDID("did:key:" + doc.VerificationMethod[0].PublicKeyMultibase); err != nil {
		return nil, fmt.Errorf("resolving %s: the document's first verification method: %w", did, err)
	}
	if !md.Registered {
		return r, nil
	}
	r.Registered = true
	if r.Version, err = strconv.ParseUint(md.VersionID, 10, 64); err != nil || r.Version == 0 {
		return nil, fmt.Errorf("resolving %s: versionId %q is not a version", did, md.VersionID)
	}
	if md.CanonicalID != "" {
		if r.Canonical, err = identity.ParseDID(md.CanonicalID); err != nil {
			return nil, fmt.Errorf("resolving %s: canonicalId: %w", did, err)
		}
	}
	if doc.Sixdomain != nil {
		b, err := json.Marshal(doc.Sixdomain)
		if err == nil {
			err = json.Unmarshal(b, &r.Props)
		}
		if err != nil {
			return nil, fmt.Errorf("resolving %s: the document's sixdomain properties: %w", did, err)
		}
	}
	return r, nil
}

// Active reports whether the DID is neither deactivated nor revoked.
func (r *resolved) Active() bool { return !r.Res.DIDDocumentMetadata.Deactivated }

// mayOnboard reports whether the entity, active and admitted, may admit
// entities of the domain named d.
func (r *resolved) mayOnboard(d string) bool {
	if !r.Registered || !r.Active() || !r.Props.Admitted {
		return false
	}
	for _, x := range r.Props.Onboard {
		if x == d {
			return true
		}
	}
	return false
}

func newDIDResolveCmd() *cobra.Command {
	var (
		af      apiFlags
		at      string
		version uint64
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "resolve DID|PEER-ID [--at RFC3339] [--version N] [--api URL] [--json]",
		Short: "Resolve a DID with the node's registry (now, at a time, or at a version)",
		Long: `resolve asks the node (GET /v1/dids/<did>) for the DID's record in the
finalized registry and prints a summary: its DID and the DID it was registered
as, version, creation and update times, state (active, deactivated, revoked),
admission, ISO/IEC 30141 domain, role, current key, controllers and services.
Any key the DID has had names it, and a peer ID is accepted too.

--at resolves the version current at a time (RFC 3339), --version a given
version: what a verifier needs to check something signed in the past. A
did:key that was never registered resolves to the document derived from its
key. --json prints the node's W3C DID resolution result as it is.`,
		Example: `  sixd did resolve did:key:z6MktwupdmLXVVqTzCw4i46r4uGyosGXRnR3XjN4Zq7oMMsw
  sixd did resolve 12D3KooW... --at 2026-03-01T12:00:00Z
  sixd did resolve did:key:z6Mk... --version 2 --json`,
		Args: exactArgs(1, "one DID or peer ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var t time.Time
			if at != "" {
				var err error
				if t, err = time.Parse(time.RFC3339Nano, at); err != nil {
					return fmt.Errorf("--at %q is not an RFC 3339 time such as 2026-03-01T12:00:00Z", truncate(at, 60))
				}
				if version != 0 {
					return errors.New("give --at or --version, not both")
				}
			}
			if _, err := parseKeyRef(args[0]); err != nil {
				return err
			}
			c, err := af.client()
			if err != nil {
				return err
			}
			r, err := resolveDID(cmd.Context(), c, args[0], t, version)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				_, err := out.Write(r.Raw)
				return err
			}
			return printResolution(out, r)
		},
	}
	af.add(cmd)
	f := cmd.Flags()
	f.StringVar(&at, "at", "", "resolve the version current at this RFC 3339 time")
	f.Uint64Var(&version, "version", 0, "resolve this version (1 is the registration)")
	f.BoolVar(&asJSON, "json", false, "print the node's DID resolution result")
	return cmd
}

// printResolution prints the summary of a resolution.
func printResolution(out io.Writer, r *resolved) error {
	doc, md, p := r.Res.DIDDocument, r.Res.DIDDocumentMetadata, r.Props
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "DID:\t%s\n", doc.ID)
	if !r.Registered {
		fmt.Fprintf(w, "registered:\tno (a bare did:key: its document is derived from the key)\n")
		fmt.Fprintf(w, "key:\t%s\n", r.Key.DID())
		return w.Flush()
	}
	fmt.Fprintf(w, "registered as:\t%s\n", md.CanonicalID)
	fmt.Fprintf(w, "version:\t%s (block %d, tx %s)\n", md.VersionID, md.Height, md.TxHash)
	fmt.Fprintf(w, "created:\t%s\n", md.Created)
	fmt.Fprintf(w, "updated:\t%s\n", md.Updated)
	if md.NextVersionID != "" {
		fmt.Fprintf(w, "next version:\t%s at %s\n", md.NextVersionID, md.NextUpdate)
	}
	state := "active"
	switch {
	case p.Revoked:
		state = "revoked"
	case md.Deactivated:
		state = "deactivated"
	}
	fmt.Fprintf(w, "state:\t%s\n", state)
	admitted := "no"
	if p.Admitted {
		admitted = "yes, by " + p.AdmittedBy
	}
	fmt.Fprintf(w, "admitted:\t%s\n", admitted)
	if len(p.Onboard) > 0 {
		fmt.Fprintf(w, "may admit:\t%s\n", strings.Join(p.Onboard, ", "))
	}
	fmt.Fprintf(w, "domain:\t%s\n", p.Domain)
	fmt.Fprintf(w, "role:\t%s\n", p.Role)
	fmt.Fprintf(w, "key:\t%s\n", r.Key.DID())
	var former []string
	for _, d := range md.EquivalentID {
		if d != r.Key.DID() {
			former = append(former, d)
		}
	}
	if len(former) > 0 {
		fmt.Fprintf(w, "other keys:\t%s\n", strings.Join(former, ", "))
	}
	fmt.Fprintf(w, "controllers:\t%s (threshold %d)\n", strings.Join(doc.Controller, ", "), p.Threshold)
	if len(doc.Service) == 0 {
		fmt.Fprintf(w, "services:\tnone\n")
	}
	for i, s := range doc.Service {
		label := ""
		if i == 0 {
			label = "services:"
		}
		id := s.ID
		if i := strings.LastIndexByte(id, '#'); i >= 0 {
			id = id[i:]
		}
		fmt.Fprintf(w, "%s\t%s %s %s\n", label, id, s.Type, s.ServiceEndpoint)
	}
	return w.Flush()
}
