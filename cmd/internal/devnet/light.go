package devnet

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/node"
	"github.com/sixdomain/sixdomain/node/light"
)

// lights are the devnet's light nodes: light node i records a reading a
// second through device node i mod devices (its gateway), with the other
// device nodes as fallbacks, and keeps its key and store in
// DIR/light-<i>.
type lights struct {
	nodes  []*light.Node
	signed []int
	wg     sync.WaitGroup
}

func startLights(ctx context.Context, c *node.Cluster, o Options, base string, logger *slog.Logger) (*lights, error) {
	ls := &lights{}
	var gws []string
	for i := o.Authorities; i < len(c.Nodes); i++ {
		info := c.Nodes[i].AddrInfo()
		gws = append(gws, info.Addrs[0].String()+"/p2p/"+info.ID.String())
	}
	for i := 0; i < o.Light; i++ {
		dir := filepath.Join(base, fmt.Sprintf("light-%d", i))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			ls.close()
			return nil, err
		}
		key, err := lightKey(filepath.Join(dir, "node.key"))
		if err != nil {
			ls.close()
			return nil, err
		}
		order := append(append([]string{}, gws[i%len(gws):]...), gws[:i%len(gws)]...)
		l, err := light.New(ctx, key, c.Genesis, light.Config{Gateways: order, DataDir: filepath.Join(dir, "data"),
			ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, APIListen: "127.0.0.1:0", Logger: logger.With("light", i),
			FollowInterval: time.Second, PollInterval: 200 * time.Millisecond})
		if err != nil {
			ls.close()
			return nil, fmt.Errorf("light node %d: %w", i, err)
		}
		ls.nodes = append(ls.nodes, l)
		ls.signed = append(ls.signed, 0)
	}
	return ls, nil
}

// lightKey loads the light node's key, or makes and saves one.
func lightKey(path string) (*identity.PrivateKey, error) {
	k, err := identity.LoadKeyFile(path)
	if err == nil {
		return k, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if k, err = identity.Generate(nil); err != nil {
		return nil, err
	}
	return k, identity.SaveKeyFile(path, k)
}

// start records a reading a second on every light node until ctx is
// done; wg.Wait waits for them to stop.
func (ls *lights) start(ctx context.Context) {
	for i, l := range ls.nodes {
		ls.wg.Add(1)
		go func() {
			defer ls.wg.Done()
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for k := 0; ; k++ {
				rec := types.DataRecord{Stream: "light/temp", ContentType: "text/plain", Value: fmt.Appendf(nil, "%.1f", 20+float64(k%50)/10)}
				if _, err := l.Record(ctx, rec); err == nil {
					ls.signed[i]++
				}
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}()
	}
}

// drain waits until every light node's queue is empty, or the deadline.
func (ls *lights) drain(ctx context.Context, deadline time.Time) {
	for time.Now().Before(deadline) && ctx.Err() == nil {
		queued := 0
		for _, l := range ls.nodes {
			queued += l.Status().Queued
		}
		if queued == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// count returns the readings signed, recorded (proven final) and still
// queued, over every light node.
func (ls *lights) count() (signed, recorded, queued int) {
	for i, l := range ls.nodes {
		st := l.Status()
		signed += ls.signed[i]
		recorded += int(st.Recorded)
		queued += st.Queued
	}
	return signed, recorded, queued
}

func (ls *lights) close() {
	for _, l := range ls.nodes {
		_ = l.Close() // best effort at the end of a run
	}
}
