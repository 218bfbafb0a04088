package node

import (
	"testing"

	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/mempool"
)

// apply applies opts over the defaults New starts from.
func apply(t *testing.T, opts ...Option) (Config, error) {
	t.Helper()
	c := defaults(RoleDevice)
	for _, o := range opts {
		if err := o(&c); err != nil {
			return c, err
		}
	}
	return c, nil
}

// TestRoleLimits: the mempool and signature-cache sizes follow the role
// (WithRole resets them), options override them within bounds, and out of
// bounds is an error.
func TestRoleLimits(t *testing.T) {
	device := mempool.Config{MaxTxs: DeviceMempoolTxs, MaxBytes: DeviceMempoolBytes}
	gateway := mempool.Config{MaxTxs: GatewayMempoolTxs, MaxBytes: GatewayMempoolBytes}
	cases := []struct {
		name    string
		opts    []Option
		mempool mempool.Config
		sigs    int
		fails   bool
	}{
		{"device by default", nil, device, DeviceSigCacheSize, false},
		{"gateway", []Option{WithRole(RoleGateway)}, gateway, GatewaySigCacheSize, false},
		{"bootstrap", []Option{WithRole(RoleBootstrap)}, gateway, GatewaySigCacheSize, false},
		{"WithRole resets earlier limits", []Option{WithMempoolLimits(7, 1<<20), WithSigCacheSize(9), WithRole(RoleGateway)}, gateway, GatewaySigCacheSize, false},
		{"limits after the role", []Option{WithRole(RoleGateway), WithMempoolLimits(7, 1<<20), WithSigCacheSize(9)},
			mempool.Config{MaxTxs: 7, MaxBytes: 1 << 20}, 9, false},
		{"smallest", []Option{WithMempoolLimits(1, types.MaxTxBytes), WithSigCacheSize(1)},
			mempool.Config{MaxTxs: 1, MaxBytes: types.MaxTxBytes}, 1, false},
		{"largest", []Option{WithMempoolLimits(MaxMempoolTxs, MaxMempoolBytes), WithSigCacheSize(MaxSigCacheSize)},
			mempool.Config{MaxTxs: MaxMempoolTxs, MaxBytes: MaxMempoolBytes}, MaxSigCacheSize, false},
		{"WithMempool keeps the role's for zero fields", []Option{WithRole(RoleGateway), WithMempool(mempool.Config{MaxPerSender: 5})},
			mempool.Config{MaxTxs: GatewayMempoolTxs, MaxBytes: GatewayMempoolBytes, MaxPerSender: 5}, GatewaySigCacheSize, false},
		{"zero transactions", []Option{WithMempoolLimits(0, 1<<20)}, device, DeviceSigCacheSize, true},
		{"too many transactions", []Option{WithMempoolLimits(MaxMempoolTxs+1, 1<<20)}, device, DeviceSigCacheSize, true},
		{"less than one transaction's bytes", []Option{WithMempoolLimits(10, types.MaxTxBytes-1)}, device, DeviceSigCacheSize, true},
		{"too many bytes", []Option{WithMempoolLimits(10, MaxMempoolBytes+1)}, device, DeviceSigCacheSize, true},
		{"zero signature cache", []Option{WithSigCacheSize(0)}, device, DeviceSigCacheSize, true},
		{"huge signature cache", []Option{WithSigCacheSize(MaxSigCacheSize + 1)}, device, DeviceSigCacheSize, true},
		{"negative WithMempool", []Option{WithMempool(mempool.Config{MaxTxs: -1})}, device, DeviceSigCacheSize, true},
		{"high-water mark", []Option{WithMempool(mempool.Config{HighWaterPercent: 60})},
			mempool.Config{MaxTxs: DeviceMempoolTxs, MaxBytes: DeviceMempoolBytes, HighWaterPercent: 60}, DeviceSigCacheSize, false},
		{"high-water mark above 100", []Option{WithMempool(mempool.Config{HighWaterPercent: 101})}, device, DeviceSigCacheSize, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := apply(t, c.opts...)
			if c.fails {
				if err == nil {
					t.Fatalf("accepted: mempool %+v, signature cache %d", cfg.Mempool, cfg.SigCacheSize)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Mempool != c.mempool || cfg.sigCacheSize() != c.sigs {
				t.Fatalf("mempool %+v, signature cache %d; want %+v, %d", cfg.Mempool, cfg.sigCacheSize(), c.mempool, c.sigs)
			}
		})
	}
}
