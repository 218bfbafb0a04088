package e2e

import (
	"context"
	"crypto/rand"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// containers runs each node as a container of the sixd image (the
// repository's Dockerfile around the given static binary) with its home
// mounted, on one shared network for the mesh; a cut moves one side to a
// network of its own. Each container also sits on a control network of its
// own, which only the runner reaches (for the API), so a cut never hides a
// node from the runner. A kill is SIGKILL to the container's process from
// the host: the restart policy starts it again by itself (at once: the
// down time of a kill does not apply here).
type containers struct {
	project string
	image   string
	dir     string
	names   []string
	mesh    string // the shared network
	cutNet  string // where a cut's side goes
	ip      map[string]string
	token   string // the API's write token in every home

	mu     sync.Mutex
	kills  map[string]int
	cutSet []string
}

// Dockerfile is the image's recipe, relative to the working directory.
var Dockerfile = "Dockerfile"

var dockerName = regexp.MustCompile(`[^a-z0-9-]`)

func newContainers(ctx context.Context, t *Testnet, dir, bin, name string) (*containers, error) {
	if len(t.Nodes) > 16 {
		return nil, errors.New("e2e: container mode runs at most 16 nodes")
	}
	if err := checkStatic(bin); err != nil {
		return nil, err
	}
	if _, err := docker(ctx, "info"); err != nil {
		return nil, fmt.Errorf("e2e: container mode needs a Docker daemon: %w", err)
	}
	project := fmt.Sprintf("sixde2e-%s-%d", dockerName.ReplaceAllString(strings.ToLower(name), "-"), os.Getpid())
	tok := make([]byte, 24)
	if _, err := rand.Read(tok); err != nil {
		return nil, err
	}
	c := &containers{project: project, image: "sixdomain/sixd:" + project, dir: dir, mesh: project + "-mesh",
		cutNet: project + "-cut", ip: map[string]string{}, kills: map[string]int{}, token: hex.EncodeToString(tok)}
	for _, n := range t.Nodes {
		c.names = append(c.names, n.Name)
	}
	// The image: the binary in the repository's Dockerfile.
	build := filepath.Join(dir, "..", "image")
	if err := os.MkdirAll(build, 0o755); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(build, "sixd"), data, 0o755); err != nil {
		return nil, err
	}
	if _, err := docker(ctx, "build", "-q", "-t", c.image, "-f", Dockerfile, build); err != nil {
		return nil, err
	}
	// The homes: the API listens on every address of the container (the
	// runner reaches it on the control network), owned by the image's user.
	for _, n := range t.Nodes {
		cfg := filepath.Join(dir, n.Home, "config.toml")
		b, err := os.ReadFile(cfg)
		if err != nil {
			return nil, err
		}
		// Beyond loopback the node needs a write token: one for the run.
		b = regexp.MustCompile(`(?m)^listen = "127\.0\.0\.1:8645"$`).ReplaceAll(b, []byte(`listen = "0.0.0.0:8645"`))
		b = regexp.MustCompile(`(?m)^token_file = ""$`).ReplaceAll(b, []byte(`token_file = "api.token"`))
		if err := os.WriteFile(cfg, b, 0o644); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, n.Home, "api.token"), []byte(c.token+"\n"), 0o600); err != nil {
			return nil, err
		}
	}
	if os.Getuid() == 0 {
		if out, err := exec.CommandContext(ctx, "chown", "-R", "65532:65532", dir).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("chown %s: %w: %s", dir, err, out)
		}
	}
	return c, nil
}

// checkStatic refuses a binary that needs a dynamic loader (an image FROM
// scratch has none).
func checkStatic(bin string) error {
	f, err := elf.Open(bin)
	if err != nil {
		return fmt.Errorf("e2e: %s: %w", bin, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("e2e: %s is dynamically linked; container mode needs CGO_ENABLED=0 go build", bin)
		}
	}
	return nil
}

func docker(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}

func (c *containers) container(name string) string { return c.project + "-" + name }
func (c *containers) ctl(name string) string       { return c.project + "-ctl-" + name }

func (c *containers) Start(ctx context.Context) error {
	if _, err := docker(ctx, "network", "create", c.mesh); err != nil {
		return err
	}
	if _, err := docker(ctx, "network", "create", c.cutNet); err != nil {
		return err
	}
	for _, n := range c.names {
		if _, err := docker(ctx, "network", "create", c.ctl(n)); err != nil {
			return err
		}
		if _, err := docker(ctx, "run", "-d", "--name", c.container(n), "--hostname", n,
			"--network", c.mesh, "--network-alias", n, "--restart", "always",
			"-v", filepath.Join(c.dir, n)+":/home/sixd", c.image, "run", "--home", "/home/sixd"); err != nil {
			return err
		}
		if _, err := docker(ctx, "network", "connect", c.ctl(n), c.container(n)); err != nil {
			return err
		}
		ip, err := docker(ctx, "inspect", "-f", fmt.Sprintf(`{{(index .NetworkSettings.Networks %q).IPAddress}}`, c.ctl(n)), c.container(n))
		if err != nil {
			return err
		}
		c.ip[n] = ip
	}
	return nil
}

func (c *containers) pid(ctx context.Context, name string) (int, error) {
	out, err := docker(ctx, "inspect", "-f", "{{.State.Pid}}", c.container(name))
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(out)
}

func (c *containers) Kill(ctx context.Context, name string, _ time.Duration) error {
	pid, err := c.pid(ctx, name)
	if err != nil {
		return err
	}
	if pid == 0 {
		return fmt.Errorf("%s is not running", name)
	}
	c.mu.Lock()
	c.kills[name]++
	c.mu.Unlock()
	return syscall.Kill(pid, syscall.SIGKILL)
}

// Down stops the container; a stopped container stays down (Docker's
// restart policy does not apply to it) until Up starts it.
func (c *containers) Down(ctx context.Context, name string) error {
	_, err := docker(ctx, "stop", "-t", "0", c.container(name))
	return err
}

func (c *containers) Up(ctx context.Context, name string) error {
	_, err := docker(ctx, "start", c.container(name))
	return err
}

func (c *containers) Pause(ctx context.Context, name string) error {
	_, err := docker(ctx, "pause", c.container(name))
	return err
}

func (c *containers) Resume(ctx context.Context, name string) error {
	_, err := docker(ctx, "unpause", c.container(name))
	return err
}

func (c *containers) Cut(ctx context.Context, side []string) error {
	c.mu.Lock()
	c.cutSet = append([]string(nil), side...)
	c.mu.Unlock()
	for _, n := range side {
		if _, err := docker(ctx, "network", "disconnect", c.mesh, c.container(n)); err != nil {
			return err
		}
		if len(side) > 1 {
			if _, err := docker(ctx, "network", "connect", "--alias", n, c.cutNet, c.container(n)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *containers) Heal(ctx context.Context) error {
	c.mu.Lock()
	side := c.cutSet
	c.cutSet = nil
	c.mu.Unlock()
	var errs []error
	for _, n := range side {
		if len(side) > 1 {
			if _, err := docker(ctx, "network", "disconnect", c.cutNet, c.container(n)); err != nil {
				errs = append(errs, err)
			}
		}
		if _, err := docker(ctx, "network", "connect", "--alias", n, c.mesh, c.container(n)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (c *containers) APIURL(name string) string { return "http://" + c.ip[name] + ":8645" }

func (c *containers) APIToken() string { return c.token }

func (c *containers) RSS(name string) (int64, error) {
	pid, err := c.pid(context.Background(), name)
	if err != nil || pid == 0 {
		return 0, err
	}
	return procRSS(pid)
}

// Crashes counts the container's restarts that no Kill caused.
func (c *containers) Crashes(name string) int {
	out, err := docker(context.Background(), "inspect", "-f", "{{.RestartCount}}", c.container(name))
	if err != nil {
		return 0
	}
	n, err := strconv.Atoi(out)
	if err != nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return max(0, n-c.kills[name])
}

func (c *containers) Close() error {
	ctx := context.Background()
	var errs []error
	for _, n := range c.names {
		if _, err := docker(ctx, "rm", "-f", "-v", c.container(n)); err != nil && !strings.Contains(err.Error(), "No such container") {
			errs = append(errs, err)
		}
	}
	for _, n := range append([]string{c.mesh, c.cutNet}, mapNames(c.names, c.ctl)...) {
		if _, err := docker(ctx, "network", "rm", n); err != nil && !strings.Contains(err.Error(), "not found") {
			errs = append(errs, err)
		}
	}
	if _, err := docker(ctx, "rmi", "-f", c.image); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func mapNames(names []string, f func(string) string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = f(n)
	}
	return out
}
