package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/sixdomain/sixdomain/consensus"
	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/node"
)

// findChromium returns the browser to drive: $SIXD_CHROMIUM, else the
// first of chromium, chromium-browser, google-chrome on PATH. Without one
// the test skips, unless SIXD_REQUIRE_BROWSER=1 (CI), when it fails.
func findChromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SIXD_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("SIXD_CHROMIUM=%s: %v", p, err)
		}
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("SIXD_REQUIRE_BROWSER") == "1" {
		t.Fatal("no Chromium found (set SIXD_CHROMIUM or put chromium, chromium-browser or google-chrome on PATH) and SIXD_REQUIRE_BROWSER=1")
	}
	t.Skip("no Chromium found: set SIXD_CHROMIUM or install chromium to run the dashboard's browser test")
	return ""
}

// artifactDir is $SIXD_ARTIFACTS (created), else a test temporary directory.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SIXD_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots and the downloaded proof go to %s", dir)
	return dir
}

// waitJS evaluates expr in the page until ok holds of its value or the
// deadline passes.
func waitJS[T any](t *testing.T, ctx context.Context, timeout time.Duration, what, expr string, ok func(T) bool) T {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
		if err == nil && ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s (last value %v, err %v)", timeout, what, v, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitFile waits for path to exist with content that decodes.
func waitFile(t *testing.T, timeout time.Duration, path string) []byte {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if data, err := os.ReadFile(path); err == nil && len(data) > 0 {
			if _, err := node.DecodeProofJSON(data); err == nil {
				return data
			}
		}
		if time.Now().After(deadline) {
			entries, _ := os.ReadDir(filepath.Dir(path))
			t.Fatalf("timed out after %s waiting for the download %s (directory holds %v)", timeout, path, entries)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func writeArtifact(t *testing.T, dir, name string, data []byte) {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", path, len(data))
}

// finalLog follows a node's real event stream (GET /v1/events?types=final,
// as the page does) and keeps each final event's time to finality by
// height.
type finalLog struct {
	mu  sync.Mutex
	ttf map[int]int64
}

func followFinals(t *testing.T, ctx context.Context, api string) *finalLog {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+api+"/v1/events?types=final", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /v1/events: %v", err)
	}
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "text/event-stream" {
		resp.Body.Close()
		t.Fatalf("GET /v1/events: %s, Content-Type %q", resp.Status, ct)
	}
	l := &finalLog{ttf: map[int]int64{}}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		typ := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				typ = ""
			case strings.HasPrefix(line, "event: "):
				typ = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && typ == node.EventFinal:
				var f node.FinalEvent
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &f); err == nil {
					l.mu.Lock()
					l.ttf[int(f.Height)] = f.TimeToFinalityMS
					l.mu.Unlock()
				}
			}
		}
	}()
	return l
}

// matches reports whether each row (height, "N ms") shows the time to
// finality of that height's final event.
func (l *finalLog) matches(rows [][]string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range rows {
		h, err1 := strconv.Atoi(r[0])
		ms, err2 := strconv.ParseInt(strings.TrimSuffix(r[1], " ms"), 10, 64)
		if want, ok := l.ttf[h]; err1 != nil || err2 != nil || !ok || want != ms {
			return false
		}
	}
	return true
}

// xssValue is a record value that would run script if the page inserted
// it as HTML.
const xssValue = `<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>`

// TestDashboardInBrowser opens the dashboard of a real cluster's device in
// headless Chromium: the page runs without console errors, follows the
// node's real event stream (live, final blocks with their time to
// finality), follows the finalized height, finds records by stream,
// downloads a proof that verifies offline, shows it verified, resolves a
// DID, and fits a phone.
func TestDashboardInBrowser(t *testing.T) {
	chromium := findChromium(t)
	artifacts := artifactDir(t)
	downloads := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	c, err := node.StartCluster(ctx, node.ClusterConfig{ChainID: "dashboard-test", Authorities: 3, Devices: 1,
		Slot: 250 * time.Millisecond, API: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	device, key := c.Nodes[3], c.Keys[3]
	var txs []*types.Tx
	for i := range 3 {
		value := fmt.Sprintf("21.%d", i)
		if i == 2 { // markup in a value is shown as text, never run
			value = xssValue
		}
		tx, err := types.NewDataRecordTx(c.Genesis.ChainID, uint64(i+1), time.Now().UnixMilli(),
			types.DataRecord{Stream: "temperature", ContentType: "text/plain", Value: []byte(value)})
		if err != nil {
			t.Fatal(err)
		}
		tx.Sign(key)
		if _, err := device.Submit(ctx, tx.Encode()); err != nil {
			t.Fatalf("submit: %v", err)
		}
		txs = append(txs, tx)
	}

	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900))...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(alloc, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()

	var (
		mu       sync.Mutex
		problems []string
	)
	if err := chromedp.Listen(bctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				problems = append(problems, "console."+string(ev.Type)+": "+strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			problems = append(problems, fmt.Sprintf("uncaught exception at %s:%d: %s", d.URL, d.LineNumber+1, msg))
		case *cdplog.EventEntryAdded:
			// Browser log entries (failed loads, CSP reports) are logged
			// for the reader; a CSP violation is a failure.
			t.Logf("browser log: %s %s %s %s", ev.Entry.Level, ev.Entry.Source, ev.Entry.URL, ev.Entry.Text)
			if strings.Contains(ev.Entry.Text, "Content Security Policy") {
				problems = append(problems, "CSP violation: "+ev.Entry.Text)
			}
		}
	}); err != nil {
		t.Fatalf("starting Chromium %s: %v", chromium, err)
	}
	if _, err := chromedp.CallBrowser(bctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads}); err != nil {
		t.Fatalf("download behaviour: %v", err)
	}

	finals := followFinals(t, ctx, device.APIAddr().String())
	url := "http://" + device.APIAddr().String() + "/"
	if err := chromedp.Do(bctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.ID("finalized"))); err != nil {
		t.Fatalf("opening %s: %v", url, err)
	}

	// The finalized height shown grows while we watch.
	height := func(s string) int {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return -1
		}
		return n
	}
	first := waitJS(t, bctx, 15*time.Second, "a finalized height on the page", `document.getElementById('finalized').textContent`,
		func(s string) bool { return height(s) > 0 })
	waitJS(t, bctx, 15*time.Second, "the finalized height to grow past "+first, `document.getElementById('finalized').textContent`,
		func(s string) bool { return height(s) > height(first) })
	waitJS(t, bctx, 20*time.Second, "final blocks in the table", `document.querySelectorAll('#blocks tbody tr:not(.empty)').length`,
		func(n int) bool { return n >= 2 })

	// The page follows the node's event stream: the indicator is live and
	// final blocks arrive with the time to finality of the node's final
	// events (blocks read from /v1/blocks at start show none).
	waitJS(t, bctx, 20*time.Second, "the live indicator", `document.getElementById('conn').dataset.state`,
		func(s string) bool { return s == "live" })
	waitJS(t, bctx, 15*time.Second, "two final blocks with the time to finality of their final events",
		`[...document.querySelectorAll('#blocks tbody tr')].map(tr => [...tr.cells].map(td => td.textContent))`+
			`.filter(r => r.length === 7 && / ms$/.test(r[5])).map(r => [r[0], r[5]])`,
		func(rows [][]string) bool { return len(rows) >= 2 && finals.matches(rows) })
	if shot, err := chromedp.Run(bctx, chromedp.CaptureScreenshot()); err != nil {
		t.Fatal(err)
	} else {
		writeArtifact(t, artifacts, "dashboard-live.png", shot)
	}
	waitJS(t, bctx, 20*time.Second, "the three authorities in the peers table",
		`[...document.querySelectorAll('#peers tbody .role')].filter(e => e.textContent === 'authority').length`,
		func(n int) bool { return n == 3 })

	// Search the stream once the records are final.
	for _, tx := range txs {
		deadline := time.Now().Add(20 * time.Second)
		for {
			if _, _, _, err := device.Store().Tx(ctx, tx.Hash()); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("record %s not committed", tx.Hash())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	target := txs[1].Hash().String()
	row := `tr[data-hash="` + target + `"]`
	if err := chromedp.Do(bctx,
		chromedp.SetValue(chromedp.ID("search-kind"), "stream"),
		chromedp.SetValue(chromedp.ID("search-q"), "temperature"),
		chromedp.Click(chromedp.CSS(`#search button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(row)),
	); err != nil {
		t.Fatalf("searching stream temperature: %v", err)
	}
	waitJS(t, bctx, 20*time.Second, "three results", `document.querySelectorAll('#records tbody tr[data-hash]').length`,
		func(n int) bool { return n == 3 })
	xss := `document.querySelector('tr[data-hash="` + txs[2].Hash().String() + `"] td.value').title === ` + strconv.Quote(xssValue) +
		` && document.querySelectorAll('#records img, #records script').length === 0 && window.__xss === undefined`
	waitJS(t, bctx, 20*time.Second, "the markup value shown as text", xss, func(ok bool) bool { return ok })

	// Download the proof through the link, and check it offline.
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(row+` a.proof-link`))); err != nil {
		t.Fatalf("clicking the proof link: %v", err)
	}
	data := waitFile(t, 15*time.Second, filepath.Join(downloads, "proof-"+target+".json"))
	writeArtifact(t, artifacts, "proof-"+target+".json", data)
	proof, err := node.DecodeProofJSON(data) // the strict decoding `sixd proof verify` applies
	if err != nil {
		t.Fatalf("downloaded proof: %v", err)
	}
	header, tx, err := consensus.VerifyProof(c.Genesis, nil, proof)
	if err != nil {
		t.Fatalf("downloaded proof does not verify: %v", err)
	}
	if tx.Hash().String() != target || proof.TxHash.String() != target {
		t.Fatalf("downloaded the proof of %s, want %s", tx.Hash(), target)
	}

	// Verify through the page. The button is scrolled into view first (the
	// sticky header can cover it), and clicked again if a click on a busy
	// machine left no mark at all (not even the "…" of a verification
	// under way).
	verdictExpr := `document.querySelector('` + row + ` .verdict').textContent`
	for attempt := 1; ; attempt++ {
		if err := chromedp.Do(bctx, chromedp.ScrollIntoView(chromedp.CSS(row+` button.verify`)),
			chromedp.Click(chromedp.CSS(row+` button.verify`))); err != nil {
			t.Fatalf("clicking verify: %v", err)
		}
		started := false
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if v, err := chromedp.Run(bctx, chromedp.Evaluate[string](verdictExpr)); err == nil && v != "" {
				started = true
				break
			}
		}
		if started || attempt == 3 {
			break
		}
		t.Logf("verify click %d left no mark; clicking again", attempt)
	}
	verdict := waitJS(t, bctx, 20*time.Second, "the verified mark", `document.querySelector('`+row+` .verdict').textContent`,
		func(s string) bool { return strings.HasPrefix(s, "✓ valid") || strings.HasPrefix(s, "✗") })
	if want := fmt.Sprintf("✓ valid · block %d", header.Height); !strings.HasPrefix(verdict, want) {
		t.Fatalf("page shows %q, want %q…", verdict, want)
	}

	// Resolve the device's DID.
	// As with the verify button, a click on a busy machine can leave no
	// mark: scroll the form into view, click, and click again if nothing
	// appeared within 3 s.
	did := key.Public().DID()
	for attempt := 1; ; attempt++ {
		if err := chromedp.Do(bctx,
			chromedp.ScrollIntoView(chromedp.ID("did-q")),
			chromedp.SetValue(chromedp.ID("did-q"), did),
			chromedp.Click(chromedp.CSS(`#did-form button[type=submit]`)),
		); err != nil {
			t.Fatalf("resolving a DID: %v", err)
		}
		started := false
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if v, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById('did-doc').textContent`)); err == nil && strings.Contains(v, did) {
				started = true
				break
			}
		}
		if started || attempt == 3 {
			break
		}
		t.Logf("DID resolve click %d left no mark; clicking again", attempt)
	}
	waitJS(t, bctx, 20*time.Second, "the DID document", `document.getElementById('did-doc').textContent`,
		func(s string) bool { return strings.Contains(s, did) })

	if err := chromedp.Do(bctx, chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`)); err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	writeArtifact(t, artifacts, "dashboard-desktop.png", shot)

	// A phone: 390×844, nothing wider than the screen.
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(2))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, bctx, 20*time.Second, "the page to fit 390 px", `document.documentElement.scrollWidth`,
		func(w int) bool { return w <= 390 })
	if shot, err = chromedp.Run(bctx, chromedp.CaptureScreenshot()); err != nil {
		t.Fatal(err)
	}
	writeArtifact(t, artifacts, "dashboard-phone.png", shot)
	if shot, err = chromedp.Run(bctx, chromedp.Screenshot(chromedp.CSS(`#records`))); err != nil {
		t.Fatal(err)
	}
	writeArtifact(t, artifacts, "dashboard-phone-records.png", shot)
	if shot, err = chromedp.Run(bctx, chromedp.FullScreenshot(100)); err != nil {
		t.Fatal(err)
	}
	writeArtifact(t, artifacts, "dashboard-phone-full.png", shot)

	// Still live after everything above.
	if state, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById('conn').dataset.state`)); err != nil || state != "live" {
		t.Errorf("the live indicator is %q at the end (%v)", state, err)
	}

	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Error(p)
	}
}
