package node

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sixdomain/sixdomain/identity"
)

// BenchmarkIdleDeviceRSS measures the resident memory of a device node in
// a process of its own (the test binary running TestHelperProcessNode),
// connected to a one-authority chain that seals empty blocks every second,
// after it has idled for 10 s. Reported as rss_MB; linux only.
//
//	go test -run '^$' -bench IdleDeviceRSS -benchtime 1x ./node/
func BenchmarkIdleDeviceRSS(b *testing.B) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		b.Skip("needs /proc")
	}
	c, err := StartCluster(b.Context(), ClusterConfig{ChainID: "rss-bench", Authorities: 1, Devices: 0, Slot: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	dir := b.TempDir()
	genesisPath := filepath.Join(dir, "genesis.toml")
	if err := os.WriteFile(genesisPath, c.Genesis.MarshalTOML(), 0o644); err != nil {
		b.Fatal(err)
	}
	n := c.Nodes[0]
	peerAddr := n.Host().Addrs()[0].String() + "/p2p/" + n.ID().String()
	var rssMB float64
	for b.Loop() {
		key, _ := identity.Generate(nil)
		env := []string{"SIXD_HELPER_NODE=1", "SIXD_HELPER_SEED=" + hex.EncodeToString(key.Seed()),
			"SIXD_HELPER_GENESIS=" + genesisPath, "SIXD_HELPER_DATA=" + filepath.Join(dir, "data-"+key.Public().PeerID().String()),
			"SIXD_HELPER_PEERS=" + peerAddr}
		child := startChild(b, env)
		time.Sleep(10 * time.Second)
		rssMB = readRSSMB(b, child.cmd.Process.Pid)
		_ = child.cmd.Process.Kill()
		_ = child.cmd.Wait()
	}
	b.ReportMetric(rssMB, "rss_MB")
}

func readRSSMB(b *testing.B, pid int) float64 {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	b.Fatal("no VmRSS")
	return 0
}
