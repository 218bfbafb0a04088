package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/node"
)

// fastGenesis rewrites the genesis of home with 200 ms slots and, if
// admitted, admission = "admitted".
func fastGenesis(t *testing.T, home string, admitted bool) {
	t.Helper()
	path := filepath.Join(home, "genesis.toml")
	g, err := types.LoadGenesis(path)
	if err != nil {
		t.Fatal(err)
	}
	g.SlotMillis = 200
	if admitted {
		g.Admission = types.AdmissionAdmitted
	}
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, g.MarshalTOML(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// resolveJSON runs `did resolve --json` and decodes the answer.
func resolveJSON(t *testing.T, api string, args ...string) node.DIDResolution {
	t.Helper()
	var res node.DIDResolution
	out := mustRun(t, append([]string{"did", "resolve", "--api", api, "--json"}, args...)...)
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("did resolve --json: %v\n%s", err, out)
	}
	return res
}

// field returns the value of a "name:  value" line of a summary.
func field(t *testing.T, out, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `:\s+(.*)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no %q line in:\n%s", name, out)
	}
	return m[1]
}

// TestDIDRegistryCommands registers a DID on an open chain, changes it and
// resolves it now and in the past.
func TestDIDRegistryCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	auth := initHome(t, "gateway")
	fastGenesis(t, auth, false)
	api := startNode(t, auth)
	dev := initHome(t, "device")
	devDID := idJSON(t, dev).DID
	run := func(args ...string) string {
		t.Helper()
		return mustRun(t, append(args, "--home", dev, "--api", api)...)
	}

	// Before registration: a bare did:key.
	out := mustRun(t, "did", "resolve", devDID, "--api", api)
	if !strings.HasPrefix(field(t, out, "registered"), "no") {
		t.Errorf("resolve before registration:\n%s", out)
	}

	out = run("did", "register", "--domain", "sensing", "--role", "device", "--service", "p2p=LibP2P,/ip4/127.0.0.1/tcp/4001", "--wait")
	if !strings.Contains(out, "committed in block") || !strings.Contains(out, "registered "+devDID) {
		t.Errorf("did register:\n%s", out)
	}
	out = mustRun(t, "did", "resolve", devDID, "--api", api)
	for name, want := range map[string]string{"DID": devDID, "registered as": devDID, "state": "active", "domain": "sensing",
		"role": "device", "key": devDID, "admitted": "no", "controllers": devDID + " (threshold 1)",
		"services": "#p2p LibP2P /ip4/127.0.0.1/tcp/4001"} {
		if got := field(t, out, name); got != want {
			t.Errorf("resolve: %s = %q, want %q", name, got, want)
		}
	}
	if v := field(t, out, "version"); !strings.HasPrefix(v, "1 (block ") {
		t.Errorf("version = %q", v)
	}
	wantFail(t, []string{"did", "register", "--domain", "sensing", "--role", "device", "--home", dev, "--api", api}, "registered already")

	// A service, deactivation and reactivation.
	run("did", "service", "add", "--id", "mqtt", "--type", "MQTTBridge", "--endpoint", "mqtts://broker.example:8883", "--wait")
	wantFail(t, []string{"did", "service", "add", "--id", "mqtt", "--type", "X", "--endpoint", "y", "--home", dev, "--api", api}, `service "mqtt" already`)
	wantFail(t, []string{"did", "service", "remove", "--id", "nope", "--home", dev, "--api", api}, `no service "nope"`)
	wantFail(t, []string{"did", "service", "add", "--id", "Bad_ID", "--type", "X", "--endpoint", "y", "--home", dev, "--api", api}, "service id")
	out = run("did", "deactivate", devDID, "--wait")
	if !strings.Contains(out, devDID+" deactivated") {
		t.Errorf("did deactivate:\n%s", out)
	}
	if got := field(t, mustRun(t, "did", "resolve", devDID, "--api", api), "state"); got != "deactivated" {
		t.Errorf("state after deactivate = %q", got)
	}
	wantFail(t, []string{"tx", "record", "--stream", "s", "--value", "1", "--home", dev, "--api", api}, "deactivated", "HTTP 403")
	run("did", "reactivate", devDID, "--wait")
	before := resolveJSON(t, api, devDID)
	if before.DIDDocumentMetadata.VersionID != "4" || before.DIDDocumentMetadata.Deactivated || len(before.DIDDocument.Service) != 2 {
		t.Fatalf("before rotation: %+v", before.DIDDocumentMetadata)
	}
	// The authority is no controller of the device's DID.
	wantFail(t, []string{"did", "deactivate", devDID, "--home", auth, "--api", api}, "not the current key of a controller")

	// Rotation to a new key.
	newKey := filepath.Join(t.TempDir(), "new.key")
	mustRun(t, "keys", "import-seed", rfc8032Seed, "--out", newKey)
	out = run("did", "rotate", "--new-key", newKey, "--wait")
	if !strings.Contains(out, devDID+": key "+devDID+" -> "+rfc8032DID) || !strings.Contains(out, "Switch the node to "+newKey) {
		t.Errorf("did rotate:\n%s", out)
	}
	out = mustRun(t, "did", "resolve", devDID, "--api", api)
	if field(t, out, "key") != rfc8032DID || field(t, out, "other keys") != devDID || !strings.HasPrefix(field(t, out, "version"), "5 ") {
		t.Errorf("resolve after rotation:\n%s", out)
	}
	// The new key names the same DID.
	if got := field(t, mustRun(t, "did", "resolve", rfc8032DID, "--api", api), "registered as"); got != devDID {
		t.Errorf("resolve <new key>: registered as %q", got)
	}
	// In the past, the old key.
	at := before.DIDDocumentMetadata.Updated
	out = mustRun(t, "did", "resolve", devDID, "--at", at, "--api", api)
	if field(t, out, "key") != devDID || !strings.HasPrefix(field(t, out, "version"), "4 ") || !strings.HasPrefix(field(t, out, "next version"), "5 at ") {
		t.Errorf("resolve --at %s:\n%s", at, out)
	}
	if got := resolveJSON(t, api, devDID, "--version", "1"); len(got.DIDDocument.Service) != 1 {
		t.Errorf("resolve --version 1: services %+v", got.DIDDocument.Service)
	}
	// The old key may send no more.
	wantFail(t, []string{"tx", "record", "--stream", "s", "--value", "1", "--home", dev, "--api", api}, "rotated", "HTTP 403")

	// Errors.
	wantFail(t, []string{"did", "resolve", devDID, "--at", "2000-01-01T00:00:00Z", "--api", api}, devDID+" was not registered at 2000-01-01T00:00:00Z")
	wantFail(t, []string{"did", "resolve", devDID, "--version", "9", "--api", api}, "has no version 9")
	wantFail(t, []string{"did", "resolve", devDID, "--at", "yesterday", "--api", api}, "--at", "RFC 3339")
	wantFail(t, []string{"did", "resolve", "hello", "--api", api}, "neither a did:key")
	wantFail(t, []string{"did", "register", "--domain", "kitchen", "--role", "device", "--home", auth, "--api", api}, "--domain")
	wantFail(t, []string{"did", "register", "--domain", "sensing", "--role", "device", "--threshold", "2", "--home", auth, "--api", api}, "--threshold needs --controller")
	wantFail(t, []string{"did", "register", "--domain", "sensing", "--role", "device", "--service", "nocomma", "--home", auth, "--api", api}, "id=TYPE,ENDPOINT")
	wantFail(t, []string{"did", "revoke", rfc8032Seed, "--home", auth, "--api", api}, "neither a did:key")
}

// TestDIDOnboarding runs the onboarding flow on a chain with admitted
// admission: an authority onboards a device and a gateway, empowers the
// gateway, which onboards another device; then the authority revokes.
func TestDIDOnboarding(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	auth := initHome(t, "gateway")
	fastGenesis(t, auth, true)
	api := startNode(t, auth)
	genesis := filepath.Join(auth, "genesis.toml")
	authDID := idJSON(t, auth).DID
	dev := initHome(t, "device", "--genesis", genesis)
	devDID := idJSON(t, dev).DID
	record := []string{"tx", "record", "--stream", "temp", "--value", "21.5", "--home", dev, "--api", api}

	// Not admitted: refused.
	wantFail(t, record, "not admitted", "HTTP 403")
	wantFail(t, []string{"did", "register", "--domain", "sensing", "--role", "device", "--home", dev, "--api", api},
		"not admitted", "sixd did request")

	// The device's request, onboarded by the authority.
	dir := t.TempDir()
	req := filepath.Join(dir, "dev.json")
	mustRun(t, "did", "request", "--home", dev, "--domain", "sensing", "--role", "device", "--out", req)
	out := mustRun(t, "did", "onboard", req, "--home", auth, "--api", api, "--wait")
	if !strings.Contains(out, devDID+" (sensing device) admitted by "+authDID) || strings.Count(out, "committed in block") != 2 {
		t.Errorf("did onboard:\n%s", out)
	}
	mustRun(t, append(record, "--wait")...)
	out = mustRun(t, "did", "resolve", devDID, "--api", api)
	if field(t, out, "admitted") != "yes, by "+authDID {
		t.Errorf("resolve after onboarding:\n%s", out)
	}
	wantFail(t, []string{"did", "onboard", req, "--home", auth, "--api", api}, "registered already")

	// Bad requests.
	data, _ := os.ReadFile(req)
	var r didRequest
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	other := r
	other.ChainID = "other-chain"
	badFile := filepath.Join(dir, "bad.json")
	writeJSON := func(v any) {
		b, _ := json.Marshal(v)
		if err := os.WriteFile(badFile, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeJSON(other)
	wantFail(t, []string{"did", "onboard", badFile, "--home", auth, "--api", api}, `is for chain "other-chain"`)
	op, err := types.DecodeDIDOp(r.Op)
	if err != nil {
		t.Fatal(err)
	}
	op.Role = types.EntityGateway // changed after the device signed
	tampered := r
	tampered.Op = op.Encode()
	writeJSON(tampered)
	wantFail(t, []string{"did", "onboard", badFile, "--home", auth, "--api", api}, "does not verify")
	op.Role = types.EntityDevice
	op.Approvals = nil
	unsigned := r
	unsigned.Op = op.Encode()
	writeJSON(unsigned)
	wantFail(t, []string{"did", "onboard", badFile, "--home", auth, "--api", api}, "not signed by "+devDID)
	_, errOut, err := runCmdIn(t, "not json", "did", "onboard", "-", "--home", auth, "--api", api)
	if err == nil {
		t.Fatal("did onboard of garbage succeeded")
	}
	checkErrLine(t, errOut, "not an onboarding request")

	// A gateway: onboarded, then empowered to admit sensing devices, which
	// it onboards itself (the request comes on stdin).
	gw := initHome(t, "gateway", "--genesis", genesis)
	gwDID := idJSON(t, gw).DID
	gwReq := mustRun(t, "did", "request", "--home", gw, "--domain", "resource-access", "--role", "gateway")
	dev2 := initHome(t, "device", "--genesis", genesis)
	dev2DID := idJSON(t, dev2).DID
	dev2Req := mustRun(t, "did", "request", "--home", dev2, "--domain", "sensing", "--role", "device")
	if stdout, stderr, err := runCmdIn(t, gwReq, "did", "onboard", "-", "--home", auth, "--api", api, "--wait"); err != nil {
		t.Fatalf("onboard gateway: %v\n%s%s", err, stdout, stderr)
	}
	// Admitted, but without the right to admit yet.
	_, errOut, err = runCmdIn(t, dev2Req, "did", "onboard", "-", "--home", gw, "--api", api)
	if err == nil {
		t.Fatal("a gateway without onboarding rights onboarded a device")
	}
	checkErrLine(t, errOut, "may not admit entities of the sensing domain", "--onboard sensing")
	out = mustRun(t, "did", "admit", gwDID, "--onboard", "sensing,physical", "--home", auth, "--api", api, "--wait")
	if !strings.Contains(out, gwDID+" admitted by "+authDID) {
		t.Errorf("did admit:\n%s", out)
	}
	if got := field(t, mustRun(t, "did", "resolve", gwDID, "--api", api), "may admit"); got != "sensing, physical" {
		t.Errorf("gateway may admit %q", got)
	}
	stdout, stderr, err := runCmdIn(t, dev2Req, "did", "onboard", "-", "--home", gw, "--api", api, "--wait")
	if err != nil || !strings.Contains(stdout, dev2DID+" (sensing device) admitted by "+gwDID) {
		t.Fatalf("gateway onboards device: %v\n%s%s", err, stdout, stderr)
	}
	mustRun(t, "tx", "record", "--stream", "hum", "--value", "40", "--home", dev2, "--api", api, "--wait")
	// The gateway may not grant rights, nor revoke what it did not admit.
	wantFail(t, []string{"did", "admit", dev2DID, "--onboard", "sensing", "--home", gw, "--api", api}, "only an authority")
	wantFail(t, []string{"did", "revoke", devDID, "--home", gw, "--api", api}, "neither an authority nor the admitter")
	out = mustRun(t, "did", "revoke", dev2DID, "--home", gw, "--api", api, "--wait")
	if !strings.Contains(out, dev2DID+" revoked by "+gwDID) {
		t.Errorf("gateway revokes its device:\n%s", out)
	}

	// The authority revokes the first device: it may send no more.
	mustRun(t, "did", "revoke", devDID, "--home", auth, "--api", api, "--wait")
	wantFail(t, record, "revoked", "HTTP 403")
	if got := field(t, mustRun(t, "did", "resolve", devDID, "--api", api), "state"); got != "revoked" {
		t.Errorf("state after revoke = %q", got)
	}
	wantFail(t, []string{"did", "revoke", devDID, "--home", auth, "--api", api}, "revoked already")
	// And admits it again.
	mustRun(t, "did", "admit", devDID, "--home", auth, "--api", api, "--wait")
	mustRun(t, append(record, "--wait")...)
}

// TestEncryptedRecords sends a record encrypted to one DID and decrypts it.
func TestEncryptedRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	auth := initHome(t, "gateway")
	fastGenesis(t, auth, false)
	api := startNode(t, auth)
	authDID := idJSON(t, auth).DID
	b := initHome(t, "device")
	bDID := idJSON(t, b).DID
	other := initHome(t, "device")

	out := mustRun(t, "tx", "record", "--home", auth, "--api", api, "--stream", "door/log", "--value", "opened by badge 4711",
		"--content-type", "text/plain", "--encrypt-to", idJSON(t, b).PeerID, "--wait")
	hash := strings.SplitN(out, "\n", 2)[0]
	// The node shows it as an envelope: neither value nor content type in clear.
	var st node.TxStatus
	c, _ := newAPIClient(api)
	if err := c.getJSON(t.Context(), "/v1/txs/"+hash, &st); err != nil {
		t.Fatal(err)
	}
	if st.Tx.Record.ContentType != types.EnvelopeContentType || strings.Contains(string(st.Tx.Record.ValueHex), "4711") || st.Tx.Record.Value != "" {
		t.Errorf("record as the node shows it: %+v", st.Tx.Record)
	}

	if got := mustRun(t, "records", "decrypt", hash, "--home", b, "--api", api); got != "opened by badge 4711" {
		t.Errorf("records decrypt = %q", got)
	}
	var d decryptedRecord
	if err := json.Unmarshal([]byte(mustRun(t, "records", "decrypt", hash, "--key", filepath.Join(b, "node.key"), "--api", api, "--json")), &d); err != nil {
		t.Fatal(err)
	}
	if d.Value == nil || *d.Value != "opened by badge 4711" || d.ContentType != "text/plain" || d.Stream != "door/log" ||
		d.Sender != authDID || d.Height == 0 || d.Status != "committed" {
		t.Errorf("records decrypt --json = %+v", d)
	}
	wantFail(t, []string{"records", "decrypt", hash, "--home", other, "--api", api},
		"this key ("+idJSON(t, other).DID+") is not among the record's 1 recipients")
	wantFail(t, []string{"records", "decrypt", hash, "--home", auth, "--api", api}, "not among the record's 1 recipients")

	// Two recipients, binary value.
	out = mustRun(t, "tx", "record", "--home", auth, "--api", api, "--stream", "s", "--value", "\x00\x01\xff",
		"--encrypt-to", bDID, "--encrypt-to", authDID, "--wait")
	hash2 := strings.SplitN(out, "\n", 2)[0]
	if got := mustRun(t, "records", "decrypt", hash2, "--home", auth, "--api", api); got != "\x00\x01\xff" {
		t.Errorf("records decrypt (binary) = %q", got)
	}
	var bin decryptedRecord
	if err := json.Unmarshal([]byte(mustRun(t, "records", "decrypt", hash2, "--home", b, "--api", api, "--json")), &bin); err != nil {
		t.Fatal(err)
	}
	if bin.Value != nil || string(bin.ValueHex) != "\x00\x01\xff" || bin.ContentType != "" {
		t.Errorf("records decrypt --json of a binary value = %+v", bin)
	}

	// A plain record is not encrypted.
	out = mustRun(t, "tx", "record", "--home", auth, "--api", api, "--stream", "s", "--value", "clear", "--wait")
	plain := strings.SplitN(out, "\n", 2)[0]
	wantFail(t, []string{"records", "decrypt", plain, "--home", b, "--api", api}, "transaction "+plain+" is not an encrypted record")
	wantFail(t, []string{"records", "decrypt", "xyz", "--home", b, "--api", api}, "64 hex digits")
	wantFail(t, []string{"tx", "record", "--home", auth, "--api", api, "--stream", "s", "--value", "v", "--encrypt-to", "nobody"}, "--encrypt-to", "neither a did:key")
}

// TestEncryptedKeyFile encrypts a node key and uses it with and without
// the passphrase.
func TestEncryptedKeyFile(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	t.Setenv(envPassphrase, "")
	t.Setenv(envPassphraseFile, "")
	home := initHome(t, "gateway")
	fastGenesis(t, home, false)
	api := startNode(t, home)
	did := idJSON(t, home).DID
	keyFile := filepath.Join(home, "node.key")

	wantFail(t, []string{"keys", "encrypt", "--home", home, "--scrypt-n", "1024"}, "no passphrase", "--passphrase-file", envPassphrase)
	wantFail(t, []string{"keys", "encrypt", "--home", home, "--scrypt-n", "3000"}, "--scrypt-n must be a power of two")
	wantFail(t, []string{"keys", "encrypt", "--home", home, "--scrypt-n", "131072"}, "--scrypt-n")
	t.Setenv(envPassphrase, "correct horse")
	out := mustRun(t, "keys", "encrypt", "--home", home, "--scrypt-n", "1024")
	if !strings.Contains(out, "encrypted "+keyFile) {
		t.Errorf("keys encrypt:\n%s", out)
	}
	if _, err := identity.LoadKeyFile(keyFile); !errors.Is(err, identity.ErrKeyEncrypted) {
		t.Fatalf("LoadKeyFile after keys encrypt: %v", err)
	}
	wantFail(t, []string{"keys", "encrypt", "--home", home}, "encrypted already")

	// With the passphrase: id and tx record work.
	if got := idJSON(t, home).DID; got != did {
		t.Errorf("id with passphrase = %s", got)
	}
	mustRun(t, "tx", "record", "--home", home, "--api", api, "--stream", "s", "--value", "1", "--wait")
	// From a file with a trailing newline, which wins over the variable.
	passFile := filepath.Join(t.TempDir(), "pass")
	if err := os.WriteFile(passFile, []byte("correct horse\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(envPassphrase, "wrong")
	t.Setenv(envPassphraseFile, passFile)
	mustRun(t, "tx", "record", "--home", home, "--api", api, "--stream", "s", "--value", "2", "--wait")

	// Without: a clear error.
	t.Setenv(envPassphraseFile, "")
	t.Setenv(envPassphrase, "")
	wantFail(t, []string{"id", "--home", home}, "node key "+keyFile+" is encrypted; set SIXD_PASSPHRASE_FILE or SIXD_PASSPHRASE")
	wantFail(t, []string{"tx", "record", "--home", home, "--api", api, "--stream", "s", "--value", "3"}, "is encrypted; set SIXD_PASSPHRASE_FILE")
	// Wrong.
	t.Setenv(envPassphrase, "wrong")
	wantFail(t, []string{"id", "--home", home}, "passphrase from $SIXD_PASSPHRASE does not decrypt it")
	wantFail(t, []string{"keys", "decrypt", "--home", home}, "does not decrypt")
	t.Setenv(envPassphraseFile, filepath.Join(t.TempDir(), "missing"))
	wantFail(t, []string{"id", "--home", home}, envPassphraseFile)

	// Decrypt with --passphrase-file.
	t.Setenv(envPassphraseFile, "")
	t.Setenv(envPassphrase, "")
	out = mustRun(t, "keys", "decrypt", "--home", home, "--passphrase-file", passFile)
	if !strings.Contains(out, "decrypted "+keyFile) {
		t.Errorf("keys decrypt:\n%s", out)
	}
	if k, err := identity.LoadKeyFile(keyFile); err != nil || k.Public().DID() != did {
		t.Fatalf("LoadKeyFile after keys decrypt: %v", err)
	}
	wantFail(t, []string{"keys", "decrypt", "--home", home, "--passphrase-file", passFile}, "not encrypted")
	wantFail(t, []string{"keys", "encrypt", "--home", home, "--key", keyFile}, "not both")

	// init --encrypt-key.
	enc := filepath.Join(t.TempDir(), "enc")
	wantFail(t, []string{"init", "--role", "device", "--home", enc, "--encrypt-key"}, "--encrypt-key needs a passphrase")
	if _, err := os.Stat(enc); !os.IsNotExist(err) {
		t.Errorf("failed init created %s", enc)
	}
	t.Setenv(envPassphraseFile, passFile)
	out = mustRun(t, "init", "--role", "device", "--home", enc, "--encrypt-key")
	if !strings.Contains(out, "(encrypted;") {
		t.Errorf("init --encrypt-key:\n%s", out)
	}
	if _, err := identity.LoadKeyFile(filepath.Join(enc, "node.key")); !errors.Is(err, identity.ErrKeyEncrypted) {
		t.Errorf("init --encrypt-key wrote a key that LoadKeyFile reads: %v", err)
	}
	idJSON(t, enc)
}

// TestRequestOffline checks that did request needs no node and refuses
// bad flags.
func TestRequestOffline(t *testing.T) {
	home := initHome(t, "device", "--chain-id", "offline-chain")
	did := idJSON(t, home).DID
	out := mustRun(t, "did", "request", "--home", home, "--domain", "physical", "--role", "device",
		"--controller", rfc8032DID, "--controller", did, "--threshold", "2", "--service", "coap=CoAP,coap://[2001:db8::7]:5683")
	var r didRequest
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	op, err := types.DecodeDIDOp(r.Op)
	if err != nil {
		t.Fatal(err)
	}
	if r.ChainID != "offline-chain" || r.DID != did || op.Op != types.OpRegister || op.Subject.DID() != did ||
		len(op.Controllers) != 2 || op.Threshold != 2 || op.Domain != types.DomainPhysicalEntities || len(op.Services) != 1 ||
		len(op.Approvals) != 1 || op.VerifyApprovals("offline-chain") != nil || op.VerifyApprovals("other") == nil {
		t.Errorf("request = %+v, op = %+v", r, op)
	}
	wantFail(t, []string{"did", "request", "--home", home, "--domain", "physical"}, `"role" not set`)
	wantFail(t, []string{"did", "request", "--home", home, "--domain", "physical", "--role", "toaster"}, "--role")
	wantFail(t, []string{"did", "request", "--home", home, "--domain", "physical", "--role", "device", "--controller", did, "--threshold", "2"}, "--threshold must be 1 to 1")
	wantFail(t, []string{"did", "request", "--home", t.TempDir(), "--domain", "physical", "--role", "device"}, "node.key")
}
