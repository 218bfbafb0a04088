package identity

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenDocument is the document of the did:key specification's Ed25519
// example (specDID).
const goldenDocument = "testdata/did_key_z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK.json"

func TestResolveKeyDocumentGolden(t *testing.T) {
	doc, err := ResolveKeyDocument(specDID)
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *update {
		if err := os.MkdirAll(filepath.Dir(goldenDocument), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenDocument, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(goldenDocument)
	if err != nil {
		t.Fatalf("%v (run go test -run TestResolveKeyDocumentGolden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("document differs from %s (rerun with -update if the change is intended)\ngot:\n%s\nwant:\n%s", goldenDocument, got, want)
	}
}

// TestResolveKeyDocumentShape checks the document structure independently of
// the golden file, for the spec example and for random keys.
func TestResolveKeyDocumentShape(t *testing.T) {
	dids := []string{specDID}
	for range 20 {
		dids = append(dids, mustGenerate(t).Public().DID())
	}
	for _, did := range dids {
		doc, err := ResolveKeyDocument(did)
		if err != nil {
			t.Fatal(err)
		}
		if doc.ID != did {
			t.Errorf("id = %s, want %s", doc.ID, did)
		}
		if want := []string{"https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"}; !slices.Equal(doc.Context, want) {
			t.Errorf("@context = %q, want %q", doc.Context, want)
		}
		if len(doc.VerificationMethod) != 2 {
			t.Fatalf("%d verification methods, want 2", len(doc.VerificationMethod))
		}
		ed, x := doc.VerificationMethod[0], doc.VerificationMethod[1]
		fingerprint := strings.TrimPrefix(did, "did:key:")
		if ed != (VerificationMethod{ID: did + "#" + fingerprint, Type: "Multikey", Controller: did, PublicKeyMultibase: fingerprint}) {
			t.Errorf("Ed25519 verification method = %+v", ed)
		}
		if !strings.HasPrefix(x.PublicKeyMultibase, "z6LS") || x.ID != did+"#"+x.PublicKeyMultibase ||
			x.Type != "Multikey" || x.Controller != did {
			t.Errorf("X25519 verification method = %+v", x)
		}
		if did == specDID && x.PublicKeyMultibase != specX25519 {
			t.Errorf("X25519 key = %s, want %s (did:key spec)", x.PublicKeyMultibase, specX25519)
		}
		for name, refs := range map[string][]string{
			"authentication":       doc.Authentication,
			"assertionMethod":      doc.AssertionMethod,
			"capabilityInvocation": doc.CapabilityInvocation,
			"capabilityDelegation": doc.CapabilityDelegation,
		} {
			if !slices.Equal(refs, []string{ed.ID}) {
				t.Errorf("%s = %q, want [%s]", name, refs, ed.ID)
			}
		}
		if !slices.Equal(doc.KeyAgreement, []string{x.ID}) {
			t.Errorf("keyAgreement = %q, want [%s]", doc.KeyAgreement, x.ID)
		}
	}
}

// TestDocumentJSONRoundTrip checks the JSON member names by decoding into a
// generic map.
func TestDocumentJSONRoundTrip(t *testing.T) {
	doc, err := ResolveKeyDocument(specDID)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"@context", "id", "verificationMethod", "authentication", "assertionMethod",
		"capabilityInvocation", "capabilityDelegation", "keyAgreement"} {
		if _, ok := m[k]; !ok {
			t.Errorf("document JSON lacks %q: %s", k, b)
		}
	}
	vm := m["verificationMethod"].([]any)[1].(map[string]any)
	for _, k := range []string{"id", "type", "controller", "publicKeyMultibase"} {
		if _, ok := vm[k]; !ok {
			t.Errorf("verification method JSON lacks %q: %s", k, b)
		}
	}
	var back Document
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	again, _ := json.Marshal(&back)
	if !bytes.Equal(again, b) {
		t.Errorf("JSON does not round-trip:\n%s\n%s", b, again)
	}
}
