package node

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sixdomain/sixdomain/contracts"
	"github.com/sixdomain/sixdomain/contracts/examples"
	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/assets"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// assetFixture is what submitAssetFixture committed: a registered issuer
// that issued "credit" and minted 100 to itself, deployed the counter
// (start 5), called inc(2) and then inc(-1), which fails.
type assetFixture struct {
	issuer                               *identity.PrivateKey
	reg, issue, mint, deploy, inc, fails *types.Tx
	addr                                 types.Hash
}

func signedTx(t *testing.T, n *Node, k *identity.PrivateKey, nonce uint64, typ types.TxType, payload []byte) *types.Tx {
	t.Helper()
	tx := &types.Tx{Version: types.TxVersion, ChainID: n.genesis.ChainID, Type: typ, Nonce: nonce,
		Timestamp: time.Now().UnixMilli(), Payload: payload}
	tx.Sign(k)
	return tx
}

func encodeArgs(t *testing.T, args ...any) []byte {
	t.Helper()
	b, err := contracts.EncodeArgs(args...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func submitAssetFixture(t *testing.T, n *Node) *assetFixture {
	t.Helper()
	f := &assetFixture{issuer: newTestKey(t)}
	k := f.issuer
	op := types.DIDOp{Op: types.OpRegister, Subject: k.Public(), Domain: types.DomainOperations, Role: types.EntityUser}
	regTx, err := types.NewDIDTx(n.genesis.ChainID, 1, time.Now().UnixMilli(), &op)
	if err != nil {
		t.Fatal(err)
	}
	regTx.Sign(k)
	f.reg = regTx
	f.issue = signedTx(t, n, k, 2, types.TxAsset, (&assets.Op{Kind: assets.OpIssue, Denom: "credit", Decimals: 2, MaxSupply: 1000,
		Powers: assets.PowerFreeze}).Encode())
	f.mint = signedTx(t, n, k, 3, types.TxAsset, (&assets.Op{Kind: assets.OpMint, Denom: "credit", Amount: 100, To: k.Public().Bytes()}).Encode())
	f.deploy = signedTx(t, n, k, 4, types.TxDeploy, (&types.Deploy{Code: examples.Counter, InitArgs: encodeArgs(t, 5), GasLimit: 1_000_000}).Encode())
	f.addr = types.ContractAddress(k.Public(), 4)
	f.inc = signedTx(t, n, k, 5, types.TxCall, (&types.Call{Address: f.addr, Method: "inc", Args: encodeArgs(t, 2), GasLimit: 1_000_000}).Encode())
	f.fails = signedTx(t, n, k, 6, types.TxCall, (&types.Call{Address: f.addr, Method: "inc", Args: encodeArgs(t, -1), GasLimit: 1_000_000}).Encode())
	all := []*types.Tx{f.reg, f.issue, f.mint, f.deploy, f.inc, f.fails}
	for _, tx := range all {
		if _, err := n.Submit(context.Background(), tx.Encode()); err != nil {
			t.Fatalf("submitting %s: %v", tx.Type, err)
		}
	}
	waitCommitted(t, n, "the asset and contract transactions to be final", all...)
	return f
}

// TestAssetAndContractAPI: over a real node's API, the receipts, the
// contract, its storage, the denomination and balances read what the
// transactions did, the transactions describe their payloads, and bad
// input is a 400 and unknown things a 404.
func TestAssetAndContractAPI(t *testing.T) {
	_, n := testNode(t)
	// The event stream, opened first: tx events carry the receipts.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", apiURL(n, "/v1/events?types=tx"), nil)
	if err != nil {
		t.Fatal(err)
	}
	events, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer events.Body.Close()
	f := submitAssetFixture(t, n)
	did := f.issuer.Public().DID()
	receipts := map[types.Hash]*ReceiptJSON{}
	sc := bufio.NewScanner(events.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for len(receipts) < 2 && sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var st TxStatus
		if err := json.Unmarshal([]byte(data), &st); err != nil {
			t.Fatalf("tx event %s: %v", data, err)
		}
		if st.Hash == f.inc.Hash() || st.Hash == f.fails.Hash() {
			receipts[st.Hash] = st.Receipt
		}
	}
	if r := receipts[f.inc.Hash()]; r == nil || r.Status != ReceiptStatusOK || r.ReturnValue != float64(7) {
		t.Fatalf("tx event of inc: receipt %+v (scan: %v)", r, sc.Err())
	}
	if r := receipts[f.fails.Hash()]; r == nil || r.Status != ReceiptStatusFailed {
		t.Fatalf("tx event of the failing call: receipt %+v", r)
	}

	var rc ReceiptJSON
	if code := getJSON(t, apiURL(n, "/v1/receipts/"+f.inc.Hash().String()), &rc); code != 200 {
		t.Fatalf("receipt: %d", code)
	}
	if rc.Status != ReceiptStatusOK || rc.GasUsed == 0 || len(rc.Events) != 1 || rc.Events[0].Topic != "inc" {
		t.Fatalf("inc receipt %+v", rc)
	}
	if v, ok := rc.ReturnValue.(float64); !ok || v != 7 {
		t.Fatalf("inc returned %v (%T), want 7", rc.ReturnValue, rc.ReturnValue)
	}
	if m, _ := rc.Events[0].Value.(map[string]any); m["count"] != float64(7) || m["caller"] != did {
		t.Fatalf("event value %v", rc.Events[0].Value)
	}
	var bad ReceiptJSON
	getJSON(t, apiURL(n, "/v1/receipts/"+f.fails.Hash().String()), &bad)
	if bad.Status != ReceiptStatusFailed || bad.Reason != "contract_failed" || bad.Error == "" || bad.ReturnValue != nil {
		t.Fatalf("failing call receipt %+v", bad)
	}
	var dep ReceiptJSON
	getJSON(t, apiURL(n, "/v1/receipts/"+f.deploy.Hash().String()), &dep)
	if dep.Address == nil || *dep.Address != f.addr {
		t.Fatalf("deploy receipt %+v, want address %s", dep, f.addr)
	}

	// The transaction answer carries the receipt and the readable payload.
	var st TxStatus
	getJSON(t, apiURL(n, "/v1/txs/"+f.inc.Hash().String()), &st)
	if st.Receipt == nil || st.Receipt.Status != ReceiptStatusOK || st.Tx.Call == nil || st.Tx.Call.Method != "inc" ||
		st.Tx.Call.Address != f.addr || !jsonIs(st.Tx.Call.Args, `[2]`) {
		t.Fatalf("tx answer of the call: %+v (call %+v)", st, st.Tx.Call)
	}
	st = TxStatus{}
	getJSON(t, apiURL(n, "/v1/txs/"+f.mint.Hash().String()), &st)
	if a := st.Tx.Asset; a == nil || a.Op != "mint" || a.Denom != "credit" || a.Amount != 100 || a.To != did || st.Receipt == nil {
		t.Fatalf("tx answer of the mint: %+v", st.Tx.Asset)
	}
	st = TxStatus{}
	getJSON(t, apiURL(n, "/v1/txs/"+f.deploy.Hash().String()), &st)
	if d := st.Tx.Deploy; d == nil || d.Address != f.addr || d.CodeSize != len(examples.Counter) || !jsonIs(d.InitArgs, `[5]`) {
		t.Fatalf("tx answer of the deploy: %+v", st.Tx.Deploy)
	}
	st = TxStatus{}
	getJSON(t, apiURL(n, "/v1/txs/"+f.reg.Hash().String()), &st)
	if st.Receipt != nil {
		t.Fatalf("a registry transaction has a receipt: %+v", st.Receipt)
	}

	var c ContractJSON
	if code := getJSON(t, apiURL(n, "/v1/contracts/0x"+f.addr.String()), &c); code != 200 {
		t.Fatalf("contract: %d", code)
	}
	if c.Code != string(examples.Counter) || c.Creator != did || !jsonIs(c.Exports, `["inc","get"]`) {
		t.Fatalf("contract %+v", c)
	}
	var s StorageJSON
	getJSON(t, apiURL(n, "/v1/contracts/"+f.addr.String()+"/storage?key=count"), &s)
	if !s.Present || s.Value != float64(7) || s.Key != "count" {
		t.Fatalf("storage %+v", s)
	}
	s = StorageJSON{}
	getJSON(t, apiURL(n, "/v1/contracts/"+f.addr.String()+"/storage?key_hex=6e6f7065"), &s)
	if s.Present || s.Key != "nope" {
		t.Fatalf("absent key %+v", s)
	}

	var d DenomJSON
	getJSON(t, apiURL(n, "/v1/assets/credit"), &d)
	if d.Issuer != did || d.MintAuthority != did || d.Supply != 100 || d.MaxSupply != 1000 || d.Decimals != 2 ||
		!jsonIs(d.Powers, `["mint","freeze"]`) || !jsonIs(d.Renounced, `[]`) {
		t.Fatalf("denom %+v", d)
	}
	for _, acct := range []string{did, f.issuer.Public().PeerID().String()} {
		var b BalanceJSON
		if code := getJSON(t, apiURL(n, "/v1/assets/credit/balances/"+url.PathEscape(acct)), &b); code != 200 {
			t.Fatalf("balance of %s: %d", acct, code)
		}
		if b.Balance != 100 || b.Account != did || b.AccountID != types.Hash(f.issuer.Public()) || b.Frozen {
			t.Fatalf("balance of %s: %+v", acct, b)
		}
	}
	var b BalanceJSON
	getJSON(t, apiURL(n, "/v1/assets/credit/balances/0x"+f.addr.String()), &b)
	if b.Balance != 0 || b.Account != "0x"+f.addr.String() {
		t.Fatalf("contract balance %+v", b)
	}

	zero := types.Hash{}.String()
	for path, want := range map[string]int{
		"/v1/receipts/" + zero:                                     404,
		"/v1/receipts/" + f.reg.Hash().String():                    404, // no receipt for a registry operation
		"/v1/receipts/xyz":                                         400,
		"/v1/contracts/" + zero:                                    404,
		"/v1/contracts/0x12":                                       400,
		"/v1/contracts/" + zero + "/storage?key=count":             404,
		"/v1/contracts/" + f.addr.String() + "/storage":            400,
		"/v1/contracts/" + f.addr.String() + "/storage?key_hex=zz": 400,
		"/v1/assets/nope":                                          404,
		"/v1/assets/Bad!":                                          400,
		"/v1/assets/nope/balances/" + did:                          404,
		"/v1/assets/credit/balances/nobody":                        400,
		"/v1/assets/credit/balances/0xabcd":                        400,
	} {
		var e ErrorResponse
		if code := getJSONErr(t, apiURL(n, path), &e); code != want || e.Reason == "" {
			t.Errorf("GET %s: %d %+v, want %d with a reason", path, code, e, want)
		}
	}
}

// getJSONErr GETs url and decodes the answer whatever its status.
func getJSONErr(t *testing.T, u string, into any) int {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(body, into)
	return resp.StatusCode
}

// jsonIs reports whether v encodes as the JSON want.
func jsonIs(v any, want string) bool {
	b, err := json.Marshal(v)
	return err == nil && string(b) == want
}

// TestResolveAccount: DIDs and peer IDs map to the registered DID's ID (or
// the key), 0x addresses to themselves; anything else is refused.
func TestResolveAccount(t *testing.T) {
	reg, bare := newTestKey(t), newTestKey(t)
	id := newTestKey(t).Public() // the DID reg was registered as, before a rotation
	lookup := func(k identity.PublicKey) (*types.DIDRecord, error) {
		if k == reg.Public() {
			return &types.DIDRecord{ID: id, Key: k}, nil
		}
		return nil, nil
	}
	addr := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		in    string
		want  assets.Account
		shown string
		err   bool
	}{
		{reg.Public().DID(), assets.Account(id), reg.Public().DID(), false},
		{reg.Public().PeerID().String(), assets.Account(id), reg.Public().DID(), false},
		{bare.Public().DID(), assets.Account(bare.Public()), bare.Public().DID(), false},
		{"0x" + strings.ToUpper(addr), assets.Account(types.Hash{0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
			0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab}), "0x" + addr, false},
		{"0x" + addr[:62], assets.Account{}, "", true},
		{"0x" + strings.Repeat("zz", 32), assets.Account{}, "", true},
		{"nobody", assets.Account{}, "", true},
		{"did:key:nope", assets.Account{}, "", true},
	} {
		got, shown, err := ResolveAccount(tc.in, lookup)
		if (err != nil) != tc.err || got != tc.want || shown != tc.shown {
			t.Errorf("ResolveAccount(%q) = %x %q %v", tc.in, got, shown, err)
		}
	}
}

// FuzzCBORJSON: any bytes a receipt or storage value may hold turn into
// JSON without a panic.
func FuzzCBORJSON(f *testing.F) {
	for _, v := range [][]any{{1, "a", []byte{1}}, {map[string]any{"k": []any{true, nil}}}} {
		b, err := contracts.EncodeArgs(v...)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0xf9, 0x7e, 0x00})             // NaN
	f.Add([]byte{0x81, 0xfa, 0x7f, 0x80, 0, 0}) // [+Inf] (float32)
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := json.Marshal(cborJSON(b)); err != nil {
			t.Fatalf("cborJSON(%x) does not encode as JSON: %v", b, err)
		}
	})
}
