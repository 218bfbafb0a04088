package benchcompare

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrLocalnet: the CometBFT localnet could not be set up or did not make
// blocks.
var ErrLocalnet = errors.New("cometbft localnet")

// localnet is a running CometBFT testnet: one process per validator.
type localnet struct {
	procs []*exec.Cmd
	done  []chan struct{} // closed when procs[i] has exited
	logs  []*os.File
	rpc   []string // http://127.0.0.<i+1>:<port+1>
	log   *slog.Logger
}

// startLocalnet writes a fresh testnet of n validators in dir (removed
// first), sets each config.toml for loopback, the in-process kvstore and
// timeout_commit, starts one process per validator and waits until node 0
// has made two blocks. On any error every process started is stopped.
func startLocalnet(ctx context.Context, bin, dir string, n, port int, slot time.Duration, log *slog.Logger) (*localnet, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	gen := exec.CommandContext(ctx, bin, "testnet", "--v", strconv.Itoa(n), "--o", dir,
		"--starting-ip-address", "127.0.0.1", "--p2p-port", strconv.Itoa(port), "--populate-persistent-peers")
	if out, err := gen.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%w: cometbft testnet: %w: %s", ErrLocalnet, err, out)
	}
	l := &localnet{log: log}
	for i := range n {
		ip := fmt.Sprintf("127.0.0.%d", i+1)
		if err := checkFree(ip, port, port+1); err != nil {
			return nil, err
		}
		home := filepath.Join(dir, fmt.Sprintf("node%d", i))
		cfgPath := filepath.Join(home, "config", "config.toml")
		raw, err := os.ReadFile(cfgPath)
		if err != nil {
			return nil, err
		}
		cfg, err := editConfig(string(raw), ip, port, slot)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrLocalnet, cfgPath, err)
		}
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			return nil, err
		}
		l.rpc = append(l.rpc, fmt.Sprintf("http://%s:%d", ip, port+1))
	}
	for i := range n {
		home := filepath.Join(dir, fmt.Sprintf("node%d", i))
		lf, err := os.Create(filepath.Join(dir, fmt.Sprintf("node%d.log", i)))
		if err != nil {
			l.stop()
			return nil, err
		}
		cmd := exec.Command(bin, "start", "--home", home)
		cmd.Stdout, cmd.Stderr = lf, lf
		cmd.SysProcAttr = childAttr()
		if err := cmd.Start(); err != nil {
			lf.Close()
			l.stop()
			return nil, fmt.Errorf("%w: start node %d: %w", ErrLocalnet, i, err)
		}
		done := make(chan struct{})
		go func() {
			_ = cmd.Wait()
			close(done)
		}()
		l.procs = append(l.procs, cmd)
		l.done = append(l.done, done)
		l.logs = append(l.logs, lf)
	}
	if err := l.waitBlocks(ctx, 2, 90*time.Second); err != nil {
		l.stop()
		return nil, err
	}
	return l, nil
}

// editConfig sets what the benchmark needs in a validator's config.toml:
// the in-process kvstore, its own loopback address for p2p and RPC, the
// commit timeout, and the loopback-friendly p2p settings.
func editConfig(cfg, ip string, port int, slot time.Duration) (string, error) {
	for _, e := range []struct{ section, key, value string }{
		{"", "proxy_app", `"kvstore"`},
		{"rpc", "laddr", fmt.Sprintf(`"tcp://%s:%d"`, ip, port+1)},
		{"p2p", "laddr", fmt.Sprintf(`"tcp://%s:%d"`, ip, port)},
		{"p2p", "addr_book_strict", "false"},
		{"p2p", "allow_duplicate_ip", "true"},
		{"consensus", "timeout_commit", strconv.Quote(slot.String())},
	} {
		var err error
		if cfg, err = setTOML(cfg, e.section, e.key, e.value); err != nil {
			return "", err
		}
	}
	return cfg, nil
}

// setTOML replaces the value of key in [section] ("" for the top level) of
// a TOML text, keeping everything else, comments included. The key must be
// there already: the config CometBFT writes lists every key.
func setTOML(text, section, key, value string) (string, error) {
	lines := strings.Split(text, "\n")
	cur := ""
	for i, line := range lines {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") {
			cur = strings.Trim(t, "[] ")
			continue
		}
		if cur != section || strings.HasPrefix(t, "#") {
			continue
		}
		k, _, ok := strings.Cut(t, "=")
		if ok && strings.TrimSpace(k) == key {
			lines[i] = key + " = " + value
			return strings.Join(lines, "\n"), nil
		}
	}
	where := "the top level"
	if section != "" {
		where = "[" + section + "]"
	}
	return "", fmt.Errorf("no key %q in %s", key, where)
}

// checkFree fails when a port the localnet needs is taken on ip.
func checkFree(ip string, ports ...int) error {
	for _, p := range ports {
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(p)))
		if err != nil {
			return fmt.Errorf("%w: %s:%d is not free (choose another with --port): %w", ErrLocalnet, ip, p, err)
		}
		ln.Close()
	}
	return nil
}

// waitBlocks polls node 0's /status until its latest height reaches h and
// every validator answers.
func (l *localnet) waitBlocks(ctx context.Context, h int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	c := newRPCClient(len(l.rpc), 2)
	defer c.close()
	for {
		ready := true
		for i, url := range l.rpc {
			height, err := c.status(ctx, url)
			if err != nil || (i == 0 && height < h) {
				ready = false
				break
			}
		}
		if ready {
			return nil
		}
		if i, exited := l.exited(); exited {
			return fmt.Errorf("%w: node %d exited: %s (log %s)", ErrLocalnet, i, l.procs[i].ProcessState, l.logs[i].Name())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: no block %d within %s (logs: %s)", ErrLocalnet, h, timeout, filepath.Dir(l.logs[0].Name()))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// exited reports the first validator that is no longer running.
func (l *localnet) exited() (int, bool) {
	for i, d := range l.done {
		select {
		case <-d:
			return i, true
		default:
		}
	}
	return 0, false
}

// stop ends every validator: SIGTERM, then SIGKILL for one still running
// after ten seconds. It returns when all of them have exited.
func (l *localnet) stop() {
	for _, p := range l.procs {
		_ = p.Process.Signal(syscall.SIGTERM)
	}
	for i, p := range l.procs {
		select {
		case <-l.done[i]:
		case <-time.After(10 * time.Second):
			l.log.Warn("cometbft node did not stop on SIGTERM; killing it", "node", i)
			_ = p.Process.Kill()
			<-l.done[i]
		}
	}
	for _, f := range l.logs {
		f.Close()
	}
	l.procs, l.done, l.logs = nil, nil, nil
}
