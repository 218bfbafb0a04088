package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Backend runs a testnet's nodes and applies faults to them.
type Backend interface {
	// Start starts every node.
	Start(ctx context.Context) error
	// Kill kills the node with SIGKILL; it restarts by itself after
	// down (its supervisor: the runner in process mode, the restart policy
	// in container mode).
	Kill(ctx context.Context, name string, down time.Duration) error
	// Down stops the node (SIGKILL) and keeps it down until Up, which
	// starts it again and leaves it to its supervisor.
	Down(ctx context.Context, name string) error
	Up(ctx context.Context, name string) error
	// Pause stops the node's process without killing it; Resume continues it.
	Pause(ctx context.Context, name string) error
	Resume(ctx context.Context, name string) error
	// Cut stops all traffic between the nodes of side and the others;
	// Heal restores it.
	Cut(ctx context.Context, side []string) error
	Heal(ctx context.Context) error
	// APIURL is the base URL of the node's API, from the runner, and
	// APIToken the bearer token of its write routes ("" for none).
	APIURL(name string) string
	APIToken() string
	// RSS is the node's resident memory in bytes (0 while it is down).
	RSS(name string) (int64, error)
	// Crashes counts the node's exits that no Kill caused.
	Crashes(name string) int
	Close() error
}

// processes runs each node as a `sixd run` process on its own loopback
// address, supervised: a killed node is started again after its down time,
// and any other exit is counted as a crash and restarted after a second.
// Run as root, each node runs as a user of its own, and a cut drops with
// iptables every packet a node's user sends to an address of the other
// side: matching the sender by user, not by source address, also cuts the
// connections a node dials from 127.0.0.1.
type processes struct {
	bin   string
	nodes map[string]*procNode
	order []string
	cut   *iptablesCut
	ctx   context.Context
	stop  context.CancelFunc
	wg    sync.WaitGroup
}

type procNode struct {
	name, home, api, host string
	logPath               string
	uid                   int // 0: the runner's own user

	mu      sync.Mutex
	proc    *os.Process
	killed  chan time.Duration // a Kill's down time, for the supervisor; < 0: until up
	up      chan struct{}
	crashes int
}

// firstNodeUID is the user of the first node when the runner is root.
const firstNodeUID = 61000

func newProcesses(bin string, t *Testnet, dir string) (*processes, error) {
	p := &processes{bin: bin, nodes: map[string]*procNode{}}
	for i, n := range t.Nodes {
		nd := &procNode{name: n.Name, home: filepath.Join(dir, n.Home), api: n.API, host: n.Host,
			logPath: filepath.Join(dir, n.Name+".log"), killed: make(chan time.Duration, 1), up: make(chan struct{}, 1)}
		if os.Getuid() == 0 {
			nd.uid = firstNodeUID + i
			if err := chownTree(nd.home, nd.uid); err != nil {
				return nil, err
			}
		}
		p.nodes[n.Name] = nd
		p.order = append(p.order, n.Name)
	}
	return p, nil
}

func chownTree(dir string, uid int) error {
	return filepath.WalkDir(dir, func(path string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, uid)
	})
}

func (p *processes) Start(ctx context.Context) error {
	p.ctx, p.stop = context.WithCancel(context.WithoutCancel(ctx))
	for _, name := range p.order {
		n := p.nodes[name]
		if err := p.spawn(n); err != nil {
			return err
		}
		p.wg.Add(1)
		go p.supervise(n)
	}
	return nil
}

func (p *processes) spawn(n *procNode) error {
	logf, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.bin, "run", "--home", n.home)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if n.uid != 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(n.uid), Gid: uint32(n.uid)}
		cmd.Env = append(os.Environ(), "HOME="+n.home)
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("starting %s: %w", n.name, err)
	}
	if err := logf.Close(); err != nil {
		return err
	}
	n.mu.Lock()
	n.proc = cmd.Process
	n.mu.Unlock()
	return nil
}

// supervise waits for the node's process to exit and starts it again:
// after the down time of a Kill, or after a second for any other exit,
// which counts as a crash. It ends when the backend closes.
func (p *processes) supervise(n *procNode) {
	defer p.wg.Done()
	for {
		n.mu.Lock()
		proc := n.proc
		n.mu.Unlock()
		if proc == nil {
			return
		}
		state, err := proc.Wait()
		if p.ctx.Err() != nil {
			return
		}
		down := time.Second
		select {
		case down = <-n.killed:
		default:
			n.mu.Lock()
			n.crashes++
			n.mu.Unlock()
			// The crash is counted above; the note in its log is best effort.
			_ = appendLog(n.logPath, fmt.Sprintf("e2e: %s exited by itself (%v, %v)\n", n.name, state, err))
		}
		n.mu.Lock()
		n.proc = nil
		n.mu.Unlock()
		wait := time.After(down)
		if down < 0 {
			wait = nil // until Up
		}
		select {
		case <-p.ctx.Done():
			return
		case <-wait:
		case <-n.up:
		}
		for p.spawn(n) != nil {
			select {
			case <-p.ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}
}

func appendLog(path, line string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (p *processes) node(name string) (*procNode, error) {
	n, ok := p.nodes[name]
	if !ok {
		return nil, fmt.Errorf("no node %q", name)
	}
	return n, nil
}

func (p *processes) signal(name string, sig syscall.Signal) error {
	n, err := p.node(name)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil {
		return fmt.Errorf("%s is not running", name)
	}
	return n.proc.Signal(sig)
}

func (p *processes) Kill(_ context.Context, name string, down time.Duration) error {
	n, err := p.node(name)
	if err != nil {
		return err
	}
	select {
	case n.killed <- down:
	default:
		return fmt.Errorf("%s: a kill is already pending", name)
	}
	if err := p.signal(name, syscall.SIGKILL); err != nil {
		<-n.killed
		return err
	}
	return nil
}

// Down kills the node and waits until its process is gone; the supervisor
// starts it again on Up.
func (p *processes) Down(ctx context.Context, name string) error {
	if err := p.Kill(ctx, name, -1); err != nil {
		return err
	}
	n := p.nodes[name]
	deadline := time.Now().Add(10 * time.Second)
	for {
		n.mu.Lock()
		gone := n.proc == nil
		n.mu.Unlock()
		if gone {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not exit after SIGKILL", name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *processes) Up(_ context.Context, name string) error {
	n, err := p.node(name)
	if err != nil {
		return err
	}
	select {
	case n.up <- struct{}{}:
	default:
	}
	return nil
}

func (p *processes) Pause(_ context.Context, name string) error {
	return p.signal(name, syscall.SIGSTOP)
}
func (p *processes) Resume(_ context.Context, name string) error {
	return p.signal(name, syscall.SIGCONT)
}

func (p *processes) Cut(ctx context.Context, side []string) error {
	if os.Getuid() != 0 {
		return errors.New("cutting links between processes needs root (each node runs as a user of its own); use container mode, or a manifest without disconnect and partition")
	}
	if p.cut == nil {
		c, err := newIptablesCut(ctx)
		if err != nil {
			return err
		}
		p.cut = c
	}
	in := map[string]bool{}
	for _, s := range side {
		in[s] = true
	}
	var a, b []*procNode
	for _, name := range p.order {
		if in[name] {
			a = append(a, p.nodes[name])
		} else {
			b = append(b, p.nodes[name])
		}
	}
	return p.cut.drop(ctx, a, b)
}

func (p *processes) Heal(ctx context.Context) error {
	if p.cut == nil {
		return nil
	}
	return p.cut.flush(ctx)
}

func (p *processes) APIURL(name string) string { return "http://" + p.nodes[name].api }

// APIToken is empty: the processes' APIs listen on loopback.
func (p *processes) APIToken() string { return "" }

func (p *processes) RSS(name string) (int64, error) {
	n, err := p.node(name)
	if err != nil {
		return 0, err
	}
	n.mu.Lock()
	proc := n.proc
	n.mu.Unlock()
	if proc == nil {
		return 0, nil
	}
	return procRSS(proc.Pid)
}

// procRSS reads VmRSS of /proc/<pid>/status.
func procRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0, err
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("no VmRSS")
}

func (p *processes) Crashes(name string) int {
	n, err := p.node(name)
	if err != nil {
		return 0
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.crashes
}

func (p *processes) Close() error {
	if p.stop != nil {
		p.stop()
	}
	for _, n := range p.nodes {
		n.mu.Lock()
		if n.proc != nil {
			_ = n.proc.Signal(syscall.SIGCONT) // a paused node would not die of SIGTERM
			_ = n.proc.Signal(syscall.SIGKILL) // teardown: it may have exited already
		}
		n.mu.Unlock()
	}
	p.wg.Wait()
	if p.cut != nil {
		return p.cut.close(context.Background())
	}
	return nil
}

// iptablesCut drops packets between nodes through a chain of its own,
// hooked into OUTPUT, removed by close.
type iptablesCut struct{ chain string }

func newIptablesCut(ctx context.Context) (*iptablesCut, error) {
	if _, err := exec.LookPath("iptables"); err != nil {
		return nil, errors.New("cutting links between processes needs iptables; use container mode, or a manifest without disconnect and partition")
	}
	c := &iptablesCut{chain: fmt.Sprintf("SIXD-E2E-%d", os.Getpid())}
	if err := ipt(ctx, "-N", c.chain); err != nil {
		return nil, err
	}
	if err := ipt(ctx, "-I", "OUTPUT", "-j", c.chain); err != nil {
		return nil, errors.Join(err, ipt(ctx, "-X", c.chain))
	}
	return c, nil
}

// drop cuts every node of a from every node of b, both ways: packets a
// node's user sends to the other's address are dropped.
func (c *iptablesCut) drop(ctx context.Context, a, b []*procNode) error {
	for _, x := range a {
		for _, y := range b {
			for _, pair := range [][2]*procNode{{x, y}, {y, x}} {
				if err := ipt(ctx, "-A", c.chain, "-m", "owner", "--uid-owner", fmt.Sprint(pair[0].uid),
					"-d", pair[1].host, "-j", "DROP"); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (c *iptablesCut) flush(ctx context.Context) error { return ipt(ctx, "-F", c.chain) }

func (c *iptablesCut) close(ctx context.Context) error {
	return errors.Join(ipt(ctx, "-D", "OUTPUT", "-j", c.chain), ipt(ctx, "-F", c.chain), ipt(ctx, "-X", c.chain))
}

func ipt(ctx context.Context, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "iptables", append([]string{"-w"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("iptables %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
