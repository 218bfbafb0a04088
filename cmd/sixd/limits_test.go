package main

import (
	"log/slog"
	"testing"

	"github.com/sixdomain/sixdomain/configs"
	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/mempool"
	"github.com/sixdomain/sixdomain/node"
)

// TestMempoolLimitsFromConfig: config.toml's [mempool] max_txs, max_bytes,
// high_water_percent and sig_cache_size reach the node; each role's defaults in configs are
// the node's (node.RoleLimits); configs' bounds are the node options'.
func TestMempoolLimitsFromConfig(t *testing.T) {
	if configs.MinMempoolBytes != types.MaxTxBytes || configs.MaxMempoolBytes != node.MaxMempoolBytes ||
		configs.MaxMempoolTxs != node.MaxMempoolTxs || configs.MaxSigCacheSize != node.MaxSigCacheSize {
		t.Fatal("configs' mempool bounds differ from the node options'")
	}
	for _, role := range configs.Roles() {
		m, sigs := node.RoleLimits(node.Role(role))
		if d := configs.Default(role).Mempool; d.MaxTxs != m.MaxTxs || d.MaxBytes != m.MaxBytes || d.SigCacheSize != sigs {
			t.Errorf("%s: configs default %+v, node %+v and %d", role, d, m, sigs)
		}
	}
	cfg := configs.Default(configs.RoleDevice)
	cfg.Ledger.Store = configs.StoreMemory
	cfg.Mempool = configs.MempoolConfig{MaxTxs: 123, MaxBytes: 456_789, HighWaterPercent: 70, SigCacheSize: 321}
	opts, ds, err := nodeOptions(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	var c node.Config
	for _, o := range opts {
		if err := o(&c); err != nil {
			t.Fatal(err)
		}
	}
	if c.Mempool != (mempool.Config{MaxTxs: 123, MaxBytes: 456_789, HighWaterPercent: 70}) || c.SigCacheSize != 321 {
		t.Fatalf("node mempool %+v, signature cache %d", c.Mempool, c.SigCacheSize)
	}
}
