// Package deploy holds the container deployment (Dockerfile at the
// repository's top, compose.yml, the systemd unit) and its tests. The tests
// here need Docker: they run only with SIXD_DOCKER_TESTS=1 (make
// test-docker, which .ci/run runs where Docker is present).
package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// compose runs docker compose (v2) or docker-compose (v1) for one project.
type compose struct {
	t       *testing.T
	cmd     []string // the compose command and its -f/-p arguments
	env     []string
	project string
}

func composeCommand(t *testing.T) []string {
	if exec.Command("docker", "compose", "version").Run() == nil {
		return []string{"docker", "compose"}
	}
	if _, err := exec.LookPath("docker-compose"); err == nil {
		return []string{"docker-compose"}
	}
	t.Fatal("neither 'docker compose' nor docker-compose is installed")
	return nil
}

// run runs a command with a deadline and returns its standard output;
// it fails the test on an error.
func run(t *testing.T, env []string, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	out, err := tryRun(env, timeout, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return out
}

func tryRun(env []string, timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%w: %s%s", err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

func (c *compose) run(timeout time.Duration, args ...string) string {
	c.t.Helper()
	return run(c.t, c.env, timeout, c.cmd[0], append(c.cmd[1:], args...)...)
}

// container returns the container ID of service.
func (c *compose) container(service string) string {
	c.t.Helper()
	id := strings.TrimSpace(c.run(time.Minute, "ps", "-q", service))
	if id == "" {
		c.t.Fatalf("no container for %s", service)
	}
	return id
}

// sixd runs the sixd binary inside service's container.
func (c *compose) sixd(service string, timeout time.Duration, args ...string) (string, error) {
	return tryRun(nil, timeout, "docker", append([]string{"exec", c.container(service), "/sixd"}, args...)...)
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

var heightRE = regexp.MustCompile(`(?m)^height:\s+(\d+)`)

// height returns the finalized height service reports, or -1.
func (c *compose) height(service string) int {
	out, err := c.sixd(service, 10*time.Second, "block", "latest")
	if err != nil {
		return -1
	}
	m := heightRE.FindStringSubmatch(out)
	if m == nil {
		return -1
	}
	h, err := strconv.Atoi(m[1])
	if err != nil {
		return -1
	}
	return h
}

type testnetNode struct {
	Name   string `json:"name"`
	Role   string `json:"role"`
	DID    string `json:"did"`
	PeerID string `json:"peer_id"`
}

// TestComposeNetwork builds the image (no base image pulled), lays out a
// testnet, starts deploy/compose.yml, and checks that every device's
// readings are committed through its gateway; that the two devices, which
// share no network, found each other through the bootstrap node's DHT and
// are connected through its relay; then it cuts device-1 off its network
// and reconnects it: it catches up, and /readyz tracks it.
func TestComposeNetwork(t *testing.T) {
	if os.Getenv("SIXD_DOCKER_TESTS") != "1" {
		t.Skip("needs Docker: run with SIXD_DOCKER_TESTS=1 (make test-docker)")
	}
	if err := exec.Command("docker", "info").Run(); err != nil {
		t.Fatalf("docker info: %v (is the daemon running?)", err)
	}
	dir := t.TempDir()
	project := fmt.Sprintf("sixdtest%d", os.Getpid())
	image := "sixdomain/sixd:" + project

	// The image: a static binary in an image FROM scratch.
	ctxDir := filepath.Join(dir, "image")
	bin := filepath.Join(ctxDir, "sixd")
	run(t, []string{"CGO_ENABLED=0"}, 10*time.Minute, "go", "build", "-trimpath", "-o", bin, "../cmd/sixd")
	run(t, nil, 5*time.Minute, "docker", "build", "-q", "-t", image, "-f", "../Dockerfile", ctxDir)
	t.Cleanup(func() {
		if _, err := tryRun(nil, time.Minute, "docker", "rmi", "-f", image); err != nil {
			t.Logf("removing image: %v", err)
		}
	})

	// The homes, as an operator lays them out.
	testnet := filepath.Join(dir, "testnet")
	run(t, nil, time.Minute, bin, "testnet", "--out", testnet, "--bootstrap", "1", "--authorities", "3",
		"--gateways", "2", "--devices", "2", "--devices-private", "--slot", "500ms")
	if os.Getuid() == 0 {
		run(t, nil, time.Minute, "chown", "-R", "65532:65532", testnet)
	}
	var layout struct {
		Nodes []testnetNode `json:"nodes"`
	}
	data, err := os.ReadFile(filepath.Join(testnet, "testnet.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &layout); err != nil {
		t.Fatal(err)
	}

	c := &compose{t: t, cmd: append(composeCommand(t), "-f", "compose.yml", "-p", project), project: project,
		env: []string{"SIXD_TESTNET=" + testnet, "SIXD_IMAGE=" + image}}
	if os.Getuid() != 0 {
		c.env = append(c.env, fmt.Sprintf("SIXD_USER=%d:%d", os.Getuid(), os.Getgid()))
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range layout.Nodes {
				if out, err := tryRun(c.env, time.Minute, c.cmd[0], append(c.cmd[1:], "logs", "--tail", "30", n.Name)...); err == nil {
					t.Logf("%s", out)
				}
			}
		}
		if _, err := tryRun(c.env, 2*time.Minute, c.cmd[0], append(c.cmd[1:], "down", "-v", "--remove-orphans")...); err != nil {
			t.Logf("compose down: %v", err)
		}
	})
	c.run(3*time.Minute, "up", "-d")

	// Every container becomes healthy (the image's HEALTHCHECK).
	for _, n := range layout.Nodes {
		id := c.container(n.Name)
		waitFor(t, 90*time.Second, n.Name+" healthy", func() bool {
			out, err := tryRun(nil, 10*time.Second, "docker", "inspect", "-f", "{{.State.Health.Status}}", id)
			return err == nil && strings.TrimSpace(out) == "healthy"
		})
	}
	waitFor(t, 60*time.Second, "a final block", func() bool { return c.height("authority-0") > 0 })

	// Readings from every device commit, and an authority holds them.
	for _, n := range layout.Nodes {
		if n.Role != "device" {
			continue
		}
		// A device submits once it is ready: synced and connected.
		waitFor(t, 90*time.Second, n.Name+" ready", func() bool {
			_, err := c.sixd(n.Name, 10*time.Second, "healthcheck", "--ready")
			return err == nil
		})
		var out string
		waitFor(t, 2*time.Minute, n.Name+"'s reading committed", func() bool {
			var err error
			out, err = c.sixd(n.Name, 40*time.Second, "tx", "record", "--stream", n.Name+"/temp", "--value", "21.5", "--wait", "--timeout", "30s")
			return err == nil && strings.Contains(out, "committed in block")
		})
		waitFor(t, 30*time.Second, n.Name+"'s reading on authority-0", func() bool {
			o, err := c.sixd("authority-0", 10*time.Second, "records", "--sender", n.DID)
			return err == nil && strings.Contains(o, "21.5")
		})
	}

	// The devices share no network: each found the other through the
	// bootstrap node's DHT and holds a connection to it through the relay.
	ids := map[string]testnetNode{}
	for _, n := range layout.Nodes {
		ids[n.Name] = n
	}
	for _, pair := range [][2]string{{"device-0", "device-1"}, {"device-1", "device-0"}} {
		waitFor(t, 90*time.Second, pair[0]+" connected to "+pair[1]+" through the relay", func() bool {
			out, err := c.sixd(pair[0], 10*time.Second, "peers", "--json")
			if err != nil {
				return false
			}
			var resp struct {
				Peers []struct {
					PeerID string   `json:"peer_id"`
					Addrs  []string `json:"addrs"`
				} `json:"peers"`
			}
			if json.Unmarshal([]byte(out), &resp) != nil {
				return false
			}
			for _, p := range resp.Peers {
				if p.PeerID != ids[pair[1]].PeerID {
					continue
				}
				for _, a := range p.Addrs {
					if strings.Contains(a, "/p2p-circuit") {
						return true
					}
				}
			}
			return false
		})
	}

	// Cut device-1 off its only network: the chain goes on without it.
	dev := c.container("device-1")
	network := project + "_site-1"
	run(t, nil, time.Minute, "docker", "network", "disconnect", network, dev)
	cutAt := c.height("device-1")
	waitFor(t, 60*time.Second, "the chain to move on without device-1", func() bool {
		return c.height("authority-0") >= cutAt+4
	})
	if h := c.height("device-1"); h > cutAt+1 {
		t.Fatalf("device-1 cut off at height %d still follows the chain: now %d", cutAt, h)
	}
	// Cut off, it is not ready (no peers, or behind).
	waitFor(t, 90*time.Second, "device-1's /readyz to answer not ready", func() bool {
		_, err := c.sixd("device-1", 10*time.Second, "healthcheck", "--ready")
		return err != nil
	})
	// Reconnected (under its service name), it catches up and is ready
	// again.
	run(t, nil, time.Minute, "docker", "network", "connect", "--alias", "device-1", network, dev)
	target := c.height("authority-0")
	waitFor(t, 90*time.Second, fmt.Sprintf("device-1 to catch up to %d", target), func() bool {
		return c.height("device-1") >= target
	})
	waitFor(t, 60*time.Second, "device-1's /readyz to answer ready", func() bool {
		_, err := c.sixd("device-1", 10*time.Second, "healthcheck", "--ready")
		return err == nil
	})
}
