package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sixdomain/sixdomain/identity"
)

// runCmd runs the sixd root command in-process with args and returns what
// it wrote to stdout and stderr.
func runCmd(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return runCmdIn(t, "", args...)
}

// runCmdIn is runCmd with stdin.
func runCmdIn(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	root := newRootCmd()
	root.SetArgs(args)
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&out)
	root.SetErr(&errb)
	err = root.ExecuteContext(ctx)
	return out.String(), errb.String(), err
}

// mustRun runs args and fails the test on an error.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := runCmd(t, args...)
	if err != nil {
		t.Fatalf("sixd %s: %v\nstderr: %s", strings.Join(args, " "), err, errOut)
	}
	return out
}

// wantFail runs args, expects an error, and checks that stderr is one line
// "sixd: ..." containing each of want.
func wantFail(t *testing.T, args []string, want ...string) string {
	t.Helper()
	_, errOut, err := runCmd(t, args...)
	if err == nil {
		t.Fatalf("sixd %s: succeeded, want an error", strings.Join(args, " "))
	}
	checkErrLine(t, errOut, want...)
	return errOut
}

func checkErrLine(t *testing.T, stderr string, want ...string) {
	t.Helper()
	if !strings.HasPrefix(stderr, "sixd: ") || !strings.HasSuffix(stderr, "\n") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("stderr = %q, want one line \"sixd: ...\"", stderr)
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr = %q, want it to contain %q", stderr, w)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// initHome runs `sixd init` for a loopback node without mDNS and returns
// its home.
func initHome(t *testing.T, role string, extra ...string) string {
	t.Helper()
	home := filepath.Join(t.TempDir(), "home")
	args := append([]string{"init", "--role", role, "--home", home, "--listen", "/ip4/127.0.0.1/tcp/0",
		"--api", "127.0.0.1:0", "--mdns=false"}, extra...)
	mustRun(t, args...)
	return home
}

func idJSON(t *testing.T, home string) idOutput {
	t.Helper()
	var o idOutput
	if err := json.Unmarshal([]byte(mustRun(t, "id", "--home", home, "--json")), &o); err != nil {
		t.Fatal(err)
	}
	return o
}

func TestInit(t *testing.T) {
	home := filepath.Join(t.TempDir(), "a", "home")
	out := mustRun(t, "init", "--role", "device", "--home", home, "--chain-id", "test-chain")
	for _, want := range []string{"peer ID:", "did:key:z6Mk", filepath.Join(home, "config.toml"), filepath.Join(home, "node.key"), filepath.Join(home, "genesis.toml")} {
		if !strings.Contains(out, want) {
			t.Errorf("init output lacks %q:\n%s", want, out)
		}
	}
	for name, mode := range map[string]os.FileMode{"": 0o700, "config.toml": 0o644, "node.key": 0o600, "genesis.toml": 0o644} {
		fi, err := os.Stat(filepath.Join(home, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got&^0o022 != mode&^0o022 || got&0o077 > mode&0o077 {
			t.Errorf("%s: mode %04o, want %04o", filepath.Join(home, name), got, mode)
		}
	}
	key, err := identity.LoadKeyFile(filepath.Join(home, "node.key"))
	if err != nil {
		t.Fatal(err)
	}
	_, g, err := readGenesis(filepath.Join(home, "genesis.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if g.ChainID != "test-chain" || len(g.Authorities) != 1 || g.Authorities[0] != key.Public().DID() {
		t.Errorf("genesis = %+v, want chain test-chain with the node as only authority", g)
	}
	cfg, err := loadConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Role != "device" || !cfg.P2P.MDNS {
		t.Errorf("config = %+v", cfg)
	}
	before, _ := os.ReadFile(filepath.Join(home, "node.key"))

	// A second init refuses, naming the file, and changes nothing.
	wantFail(t, []string{"init", "--role", "gateway", "--home", home}, "config.toml", "already exists")
	after, _ := os.ReadFile(filepath.Join(home, "node.key"))
	if !bytes.Equal(before, after) {
		t.Error("second init changed node.key")
	}

	// Bad input.
	other := filepath.Join(t.TempDir(), "b")
	wantFail(t, []string{"init", "--role", "fridge", "--home", other}, `unknown role "fridge"`)
	wantFail(t, []string{"init", "--home", other}, `"role" not set`)
	wantFail(t, []string{"init", "--role", "device", "--home", other, "--chain-id", "Bad Chain"}, "--chain-id")
	wantFail(t, []string{"init", "--role", "device", "--home", other, "--listen", "not-a-multiaddr"}, "p2p.listen")
	wantFail(t, []string{"init", "--role", "device", "--home", other, "--bootstrap", "/ip4/1.2.3.4/tcp/1"}, "p2p.bootstrap")
	wantFail(t, []string{"init", "--role", "device", "--home", other, "--genesis", filepath.Join(home, "config.toml")}, "genesis")
	wantFail(t, []string{"init", "--role", "device", "--home", other, "--genesis", filepath.Join(home, "genesis.toml"), "--chain-id", "x"}, "--chain-id")
	wantFail(t, []string{"init", "--role", "device", "--home", other, "extra"}, "no arguments")
	if _, err := os.Stat(other); !os.IsNotExist(err) {
		t.Errorf("failed inits created %s (err %v)", other, err)
	}

	// Joining an existing chain copies its genesis byte for byte.
	joined := filepath.Join(t.TempDir(), "c")
	out = mustRun(t, "init", "--role", "gateway", "--home", joined, "--genesis", filepath.Join(home, "genesis.toml"),
		"--api", "", "--mdns=false", "--bootstrap", "/ip4/127.0.0.1/tcp/4001/p2p/"+key.Public().PeerID().String())
	if !strings.Contains(out, "not an authority") {
		t.Errorf("init output does not say the node is not an authority:\n%s", out)
	}
	g1, _ := os.ReadFile(filepath.Join(home, "genesis.toml"))
	g2, _ := os.ReadFile(filepath.Join(joined, "genesis.toml"))
	if !bytes.Equal(g1, g2) {
		t.Error("genesis not copied verbatim")
	}
	cfg, err = loadConfig(joined)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.API.Listen != "" || cfg.P2P.MDNS || len(cfg.P2P.Bootstrap) != 1 {
		t.Errorf("overrides not applied: %+v", cfg)
	}
}

func TestIDAndDIDDoc(t *testing.T) {
	home := initHome(t, "gateway")
	o := idJSON(t, home)
	if !strings.HasPrefix(o.DID, "did:key:z6Mk") || !strings.HasPrefix(o.PeerID, "12D3KooW") {
		t.Fatalf("id = %+v", o)
	}
	if len(o.ListenAddrs) != 1 || o.ListenAddrs[0] != "/ip4/127.0.0.1/tcp/0/p2p/"+o.PeerID {
		t.Errorf("listen addrs = %q", o.ListenAddrs)
	}
	text := mustRun(t, "id", "--home", home)
	if !strings.Contains(text, o.DID) || !strings.Contains(text, o.PeerID) {
		t.Errorf("id text output:\n%s", text)
	}

	var doc identity.Document
	if err := json.Unmarshal([]byte(mustRun(t, "did", "doc", o.DID)), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.ID != o.DID || len(doc.VerificationMethod) != 2 || doc.Authentication[0] != o.DID+"#"+strings.TrimPrefix(o.DID, "did:key:") {
		t.Errorf("document = %+v", doc)
	}
	var fromPeer identity.Document
	if err := json.Unmarshal([]byte(mustRun(t, "did", "doc", o.PeerID)), &fromPeer); err != nil {
		t.Fatal(err)
	}
	if fromPeer.ID != o.DID {
		t.Errorf("did doc <peer ID> has id %s, want %s", fromPeer.ID, o.DID)
	}

	wantFail(t, []string{"did", "doc", "did:key:z6MkBROKEN"}, "malformed did:key")
	wantFail(t, []string{"did", "doc", "did:web:example.com"}, "malformed did:key", `"web"`)
	wantFail(t, []string{"did", "doc", "hello"}, "neither a did:key")
	wantFail(t, []string{"did", "doc"}, "one did:key or peer ID")
	wantFail(t, []string{"did", "nope"}, `unknown command "nope"`)
	wantFail(t, []string{"id", "--home", filepath.Join(t.TempDir(), "missing")}, "node.key")
}

const (
	rfc8032Seed = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
	rfc8032DID  = "did:key:z6MktwupdmLXVVqTzCw4i46r4uGyosGXRnR3XjN4Zq7oMMsw"
)

func TestKeysImportSeed(t *testing.T) {
	dir := t.TempDir()
	out := mustRun(t, "keys", "import-seed", rfc8032Seed, "--out", filepath.Join(dir, "k1"))
	if !strings.Contains(out, rfc8032DID) {
		t.Errorf("output lacks %s:\n%s", rfc8032DID, out)
	}
	k, err := identity.LoadKeyFile(filepath.Join(dir, "k1"))
	if err != nil {
		t.Fatal(err)
	}
	if k.Public().DID() != rfc8032DID {
		t.Errorf("key file holds %s", k.Public().DID())
	}
	if fi, _ := os.Stat(filepath.Join(dir, "k1")); fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %04o", fi.Mode().Perm())
	}

	// Refuses to overwrite.
	wantFail(t, []string{"keys", "import-seed", rfc8032Seed, "--out", filepath.Join(dir, "k1")}, "already exists")

	// From stdin, into a home that init then keeps using.
	home := filepath.Join(dir, "home")
	stdout, stderr, err := runCmdIn(t, "0x"+strings.ToUpper(rfc8032Seed)+"\n", "keys", "import-seed", "-", "--home", home)
	if err != nil || !strings.Contains(stdout, rfc8032DID) {
		t.Fatalf("import-seed from stdin: %v\n%s%s", err, stdout, stderr)
	}
	out = mustRun(t, "init", "--role", "device", "--home", home)
	if !strings.Contains(out, rfc8032DID) || !strings.Contains(out, "existing key kept") {
		t.Errorf("init after import-seed:\n%s", out)
	}
	if o := idJSON(t, home); o.DID != rfc8032DID {
		t.Errorf("id after import-seed = %s", o.DID)
	}

	// Bad seeds are refused without echoing them.
	for _, bad := range []string{"xyz", rfc8032Seed[:62], rfc8032Seed + "00", strings.Replace(rfc8032Seed, "9", "g", 1), ""} {
		errOut := wantFail(t, []string{"keys", "import-seed", bad, "--out", filepath.Join(dir, "bad")}, "bad Ed25519 seed")
		if len(bad) > 8 && strings.Contains(errOut, bad) {
			t.Errorf("error echoes the seed: %s", errOut)
		}
	}
	_, errOut, err := runCmdIn(t, "not hex at all", "keys", "import-seed", "-", "--out", filepath.Join(dir, "bad"))
	if err == nil {
		t.Fatal("bad seed on stdin accepted")
	}
	checkErrLine(t, errOut, "bad Ed25519 seed")
	if _, err := os.Stat(filepath.Join(dir, "bad")); !os.IsNotExist(err) {
		t.Error("a refused seed left a key file")
	}
	wantFail(t, []string{"keys", "import-seed", rfc8032Seed, "--out", filepath.Join(dir, "k2"), "--home", dir}, "not both")
	wantFail(t, []string{"keys", "import-seed"}, "64 hex digits")
}

func TestVersion(t *testing.T) {
	out := mustRun(t, "version")
	for _, want := range []string{"sixd ", "go:", "go-libp2p:", "go-libp2p-pubsub:"} {
		if !strings.Contains(out, want) {
			t.Errorf("version output lacks %q:\n%s", want, out)
		}
	}
}

func TestRootErrors(t *testing.T) {
	wantFail(t, []string{"frobnicate"}, `unknown command "frobnicate"`)
	wantFail(t, []string{"--no-such-flag"}, "unknown flag")
	wantFail(t, []string{"block", "1", "2"}, "at most one argument")
	wantFail(t, []string{"block", "-5"}, "unknown shorthand flag") // pflag reads -5 as a flag
	wantFail(t, []string{"block", "zero", "--api", "http://127.0.0.1:1"}, "want a height")
	wantFail(t, []string{"block", "0", "--api", "http://127.0.0.1:1"}, "want a height")
	wantFail(t, []string{"block", "--api", "ftp://x"}, "scheme")
	wantFail(t, []string{"records", "--api", "http://127.0.0.1:1"}, `"sender" not set`)
	wantFail(t, []string{"records", "--sender", rfc8032DID, "--limit", "0", "--api", "http://127.0.0.1:1"}, "--limit")
	wantFail(t, []string{"proof", "get", "abc", "--api", "http://127.0.0.1:1"}, "64 hex digits")
	wantFail(t, []string{"proof", "verify", filepath.Join(t.TempDir(), "none.json"), "--genesis", filepath.Join(t.TempDir(), "none.toml")}, "genesis")
	out, _, err := runCmd(t)
	if err != nil || !strings.Contains(out, "Available Commands") {
		t.Errorf("sixd with no arguments: %v\n%s", err, out)
	}
}
