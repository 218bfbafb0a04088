package configs

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	toml "github.com/pelletier/go-toml/v2"
)

const testPeer = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"

func TestParseRole(t *testing.T) {
	tests := []struct {
		in      string
		want    Role
		wantErr bool
	}{
		{"device", RoleDevice, false},
		{"gateway", RoleGateway, false},
		{"bootstrap", RoleBootstrap, false},
		{"", "", true},
		{"Device", "", true},
		{" device", "", true},
		{"validator", "", true},
	}
	for _, tt := range tests {
		got, err := ParseRole(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseRole(%q) = %q, %v; want %q, err=%v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), "role") {
			t.Errorf("ParseRole(%q) error %q does not mention role", tt.in, err)
		}
	}
	if got := Roles(); !slices.Equal(got, []Role{RoleDevice, RoleGateway, RoleBootstrap, RoleLight}) {
		t.Errorf("Roles() = %v", got)
	}
}

func TestDefault(t *testing.T) {
	tests := []struct {
		role                  Role
		mdns                  bool
		low, high, memMB, fds int
		mempool               MempoolConfig
	}{
		{RoleDevice, true, 16, 32, 64, 128, MempoolConfig{MaxTxs: 10000, MaxBytes: 16 << 20, HighWaterPercent: 80, SigCacheSize: 20000}},
		{RoleGateway, true, 64, 128, 512, 1024, MempoolConfig{MaxTxs: 50000, MaxBytes: 64 << 20, HighWaterPercent: 80, SigCacheSize: 200000}},
		{RoleBootstrap, false, 256, 512, 1024, 4096, MempoolConfig{MaxTxs: 50000, MaxBytes: 64 << 20, HighWaterPercent: 80, SigCacheSize: 200000}},
		{RoleLight, true, 4, 16, 16, 64, MempoolConfig{MaxTxs: 10000, MaxBytes: 16 << 20, HighWaterPercent: 80, SigCacheSize: 20000}},
	}
	for _, tt := range tests {
		t.Run(string(tt.role), func(t *testing.T) {
			c := Default(tt.role)
			if err := c.Validate(); err != nil {
				t.Fatalf("Default(%s).Validate() = %v", tt.role, err)
			}
			p := c.P2P
			if c.Role != tt.role || p.MDNS != tt.mdns || p.ConnLow != tt.low || p.ConnHigh != tt.high ||
				p.MaxMemoryMB != tt.memMB || p.MaxFDs != tt.fds || c.Mempool != tt.mempool {
				t.Errorf("Default(%s) = %+v", tt.role, c)
			}
			if c.KeyFile != "node.key" || c.GenesisFile != "genesis.toml" ||
				!slices.Equal(p.Listen, []string{"/ip4/0.0.0.0/tcp/4001", "/ip4/0.0.0.0/udp/4001/quic-v1"}) && tt.role != RoleLight ||
				!slices.Equal(p.Listen, []string{"/ip4/0.0.0.0/tcp/4001"}) && tt.role == RoleLight ||
				len(p.Bootstrap) != 0 ||
				!reflect.DeepEqual(c.API, APIConfig{Listen: "127.0.0.1:8645", MaxBodyBytes: 65536}) ||
				c.Metrics != (MetricsConfig{}) ||
				c.Ledger != (LedgerConfig{Store: "pebble", Path: "data"}) ||
				c.Log != (LogConfig{Level: "info", Format: "text"}) {
				t.Errorf("Default(%s) shared values wrong: %+v", tt.role, c)
			}
		})
	}

	// Default hands out fresh slices.
	a := Default(RoleDevice)
	a.P2P.Listen[0] = "mutated"
	if Default(RoleDevice).P2P.Listen[0] == "mutated" {
		t.Error("Default shares its Listen slice between calls")
	}

	// An unknown role is kept so that Validate reports it.
	if err := Default("miner").Validate(); err == nil || !strings.Contains(err.Error(), "role") {
		t.Errorf("Default(miner).Validate() = %v, want role error", err)
	}
}

func TestExampleMatchesDefault(t *testing.T) {
	for _, role := range Roles() {
		t.Run(string(role), func(t *testing.T) {
			ex := Example(role)
			if len(ex) == 0 {
				t.Fatal("empty example")
			}
			got, err := Parse(ex)
			if err != nil {
				t.Fatalf("Parse(Example(%s)) = %v", role, err)
			}
			if want := Default(role); !reflect.DeepEqual(got, want) {
				t.Errorf("Example(%s) decodes to\n%+v\nwant Default:\n%+v", role, got, want)
			}
		})
	}
	if Example("miner") != nil {
		t.Error("Example(unknown) != nil")
	}
	// Example returns a copy.
	ex := Example(RoleDevice)
	ex[0] = 'X'
	if Example(RoleDevice)[0] == 'X' {
		t.Error("Example returns shared memory")
	}
}

// Every key of Config is spelled out in every example, with a comment above
// it that states the default.
func TestExampleDocumentsEveryKey(t *testing.T) {
	for _, role := range Roles() {
		t.Run(string(role), func(t *testing.T) {
			ex := Example(role)

			var fromExample map[string]any
			if err := toml.Unmarshal(ex, &fromExample); err != nil {
				t.Fatal(err)
			}
			all := Default(role)
			all.P2P.Bootstrap = []string{} // make go-toml emit the key
			all.API.CORSOrigins = []string{}
			all.P2P.Announce, all.P2P.NoAnnounce = []string{}, []string{}
			enc, err := toml.Marshal(all)
			if err != nil {
				t.Fatal(err)
			}
			var fromStruct map[string]any
			if err := toml.Unmarshal(enc, &fromStruct); err != nil {
				t.Fatal(err)
			}
			if got, want := keyPaths("", fromExample), keyPaths("", fromStruct); !slices.Equal(got, want) {
				t.Errorf("example keys\n%v\nstruct keys\n%v", got, want)
			}

			lines := strings.Split(string(ex), "\n")
			for i, line := range lines {
				tl := strings.TrimSpace(line)
				if tl == "" || strings.HasPrefix(tl, "#") || strings.HasPrefix(tl, "[") {
					continue
				}
				// Walk back over the comment block above the key.
				j := i - 1
				block := ""
				for ; j >= 0 && strings.HasPrefix(strings.TrimSpace(lines[j]), "#"); j-- {
					block = lines[j] + "\n" + block
				}
				if block == "" {
					t.Errorf("line %d %q has no comment above it", i+1, line)
				} else if key, _, _ := strings.Cut(tl, "="); strings.TrimSpace(key) != "role" && !strings.Contains(block, "Default:") {
					t.Errorf("line %d %q: comment does not state the default", i+1, line)
				}
			}
		})
	}
}

func keyPaths(prefix string, m map[string]any) []string {
	var out []string
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			out = append(out, keyPaths(prefix+k+".", sub)...)
			continue
		}
		out = append(out, prefix+k)
	}
	sort.Strings(out)
	return out
}

func TestParsePartialFileTakesRoleDefaults(t *testing.T) {
	doc := `
role = "gateway"
[p2p]
conn_high = 200
listen = ["/ip4/127.0.0.1/tcp/0"]
[log]
format = "json"
`
	got, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := Default(RoleGateway)
	want.P2P.ConnHigh = 200
	want.P2P.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
	want.Log.Format = "json"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}

	// Only role: everything else defaults.
	got, err = Parse([]byte(`role = "bootstrap"`))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, Default(RoleBootstrap)) {
		t.Errorf("role-only file = %+v", got)
	}
}

func TestParseRole_FileErrors(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"missing", `[p2p]` + "\nmdns = false\n", "role"},
		{"unknown", `role = "miner"`, `"miner"`},
		{"wrong type", `role = 3`, "line 1"},
		{"empty file", ``, "role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestParseRejectsUnknownKeys(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		keys []string
	}{
		{"top level", "role = \"device\"\nnode_name = \"x\"\n", []string{`"node_name"`}},
		{"in table", "role = \"device\"\n[p2p]\nconn_lo = 3\n", []string{`"p2p.conn_lo"`}},
		{"unknown table", "role = \"device\"\n[telemetry]\nlisten = \":9090\"\n", []string{`"telemetry"`}},
		{"dotted", "role = \"device\"\napi.listn = \"x\"\n", []string{`"api.listn"`}},
		{"several", "role = \"device\"\n[log]\nlevl = \"info\"\nfmt = \"json\"\n", []string{`"log.levl"`, `"log.fmt"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc))
			if err == nil {
				t.Fatal("unknown key accepted")
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("error %v does not wrap ErrInvalidConfig", err)
			}
			for _, k := range tt.keys {
				if !strings.Contains(err.Error(), k) {
					t.Errorf("error %q does not name %s", err, k)
				}
			}
			if !strings.Contains(err.Error(), "line ") {
				t.Errorf("error %q has no line number", err)
			}
		})
	}
}

func TestValidateFields(t *testing.T) {
	tests := []struct {
		field  string
		mutate func(*Config)
	}{
		{"role", func(c *Config) { c.Role = "miner" }},
		{"role", func(c *Config) { c.Role = "" }},
		{"key_file", func(c *Config) { c.KeyFile = "" }},
		{"genesis_file", func(c *Config) { c.GenesisFile = "" }},
		{"p2p.listen", func(c *Config) { c.P2P.Listen = nil }},
		{"p2p.listen[1]", func(c *Config) { c.P2P.Listen[1] = "/ip4/0.0.0.0/tcpx/1" }},
		{"p2p.listen[0]", func(c *Config) { c.P2P.Listen[0] = "0.0.0.0:4001" }},
		{"p2p.listen[0]", func(c *Config) { c.P2P.Listen[0] = "/ip4/0.0.0.0/tcp/4001/p2p/" + testPeer }},
		{"p2p.bootstrap[0]", func(c *Config) { c.P2P.Bootstrap = []string{"/ip4/192.0.2.1/tcp/4001"} }},
		{"p2p.bootstrap[1]", func(c *Config) {
			c.P2P.Bootstrap = []string{"/ip4/192.0.2.1/tcp/4001/p2p/" + testPeer, "not a multiaddr"}
		}},
		{"p2p.bootstrap[0]", func(c *Config) { c.P2P.Bootstrap = []string{"/ip4/192.0.2.1/tcp/4001/p2p/notapeer"} }},
		{"p2p.bootstrap[0]", func(c *Config) { c.P2P.Bootstrap = []string{"/p2p/" + testPeer} }},
		{"p2p.conn_low", func(c *Config) { c.P2P.ConnLow = 0 }},
		{"p2p.conn_low", func(c *Config) { c.P2P.ConnLow = c.P2P.ConnHigh }},
		{"p2p.conn_high", func(c *Config) { c.P2P.ConnHigh = -1 }},
		{"p2p.max_memory_mb", func(c *Config) { c.P2P.MaxMemoryMB = 0 }},
		{"p2p.max_fds", func(c *Config) { c.P2P.MaxFDs = -5 }},
		{"api.listen", func(c *Config) { c.API.Listen = "8645" }},
		{"api.listen", func(c *Config) { c.API.Listen = "localhost:http" }},
		{"api.listen", func(c *Config) { c.API.Listen = "localhost:70000" }},
		{"api.read_token_file", func(c *Config) { c.API.ReadTokenFile = "read.token" }},
		{"api.read_token_file", func(c *Config) { c.API.TokenFile, c.API.ReadTokenFile = "api.token", "api.token" }},
		{"api.cors_origins[1]", func(c *Config) { c.API.CORSOrigins = []string{"*", "ops.example.com"} }},
		{"api.cors_origins[0]", func(c *Config) { c.API.CORSOrigins = []string{"https://ops.example.com/"} }},
		{"api.cors_origins[0]", func(c *Config) { c.API.CORSOrigins = []string{"ftp://ops.example.com"} }},
		{"api.tls_cert_file", func(c *Config) { c.API.TLSCertFile = "api.crt" }},
		{"api.tls_cert_file", func(c *Config) { c.API.TLSKeyFile = "api.key" }},
		{"metrics.listen", func(c *Config) { c.Metrics.Listen = "9645" }},
		{"metrics.listen", func(c *Config) { c.Metrics.Listen = "127.0.0.1:metrics" }},
		{"api.max_body_bytes", func(c *Config) { c.API.MaxBodyBytes = 1023 }},
		{"api.max_body_bytes", func(c *Config) { c.API.MaxBodyBytes = 64<<20 + 1 }},
		{"ledger.store", func(c *Config) { c.Ledger.Store = "badger" }},
		{"ledger.path", func(c *Config) { c.Ledger.Path = "" }},
		{"mempool.max_txs", func(c *Config) { c.Mempool.MaxTxs = 0 }},
		{"mempool.max_bytes", func(c *Config) { c.Mempool.MaxBytes = -1 }},
		{"mempool.max_txs", func(c *Config) { c.Mempool.MaxTxs = MaxMempoolTxs + 1 }},
		{"mempool.max_bytes", func(c *Config) { c.Mempool.MaxBytes = MinMempoolBytes - 1 }},
		{"mempool.max_bytes", func(c *Config) { c.Mempool.MaxBytes = MaxMempoolBytes + 1 }},
		{"mempool.high_water_percent", func(c *Config) { c.Mempool.HighWaterPercent = 0 }},
		{"mempool.high_water_percent", func(c *Config) { c.Mempool.HighWaterPercent = 101 }},
		{"mempool.sig_cache_size", func(c *Config) { c.Mempool.SigCacheSize = 0 }},
		{"mempool.sig_cache_size", func(c *Config) { c.Mempool.SigCacheSize = MaxSigCacheSize + 1 }},
		{"log.level", func(c *Config) { c.Log.Level = "trace" }},
		{"log.format", func(c *Config) { c.Log.Format = "logfmt" }},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			c := Default(RoleGateway)
			tt.mutate(&c)
			err := c.Validate()
			if err == nil {
				t.Fatalf("invalid %s accepted", tt.field)
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("error %v does not wrap ErrInvalidConfig", err)
			}
			if !strings.Contains(err.Error(), tt.field+":") {
				t.Errorf("error %q does not name %s", err, tt.field)
			}
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
	}{
		{"api disabled", func(c *Config) { c.API.Listen = "" }},
		{"api all interfaces", func(c *Config) { c.API.Listen = ":8645" }},
		{"api ipv6", func(c *Config) { c.API.Listen = "[::1]:8645" }},
		{"body limits", func(c *Config) { c.API.MaxBodyBytes = 1024 }},
		{"body upper", func(c *Config) { c.API.MaxBodyBytes = 64 << 20 }},
		{"memory store without path", func(c *Config) { c.Ledger = LedgerConfig{Store: "memory"} }},
		{"bootstrap peers", func(c *Config) {
			c.P2P.Bootstrap = []string{
				"/ip4/192.0.2.1/tcp/4001/p2p/" + testPeer,
				"/dns4/boot.example.com/udp/4001/quic-v1/p2p/" + testPeer,
				"/dnsaddr/bootstrap.example.com/p2p/" + testPeer,
			}
		}},
		{"ipv6 listen", func(c *Config) { c.P2P.Listen = []string{"/ip6/::/tcp/0"} }},
		{"log", func(c *Config) { c.Log = LogConfig{Level: "debug", Format: "json"} }},
		{"api protected", func(c *Config) {
			c.API = APIConfig{Listen: "0.0.0.0:8645", MaxBodyBytes: 65536, TokenFile: "api.token", ReadTokenFile: "read.token",
				CORSOrigins: []string{"https://ops.example.com", "http://localhost:3000", "*"}, TLSCertFile: "api.crt", TLSKeyFile: "api.key"}
		}},
		{"metrics listener", func(c *Config) { c.Metrics.Listen = "127.0.0.1:9645" }},
		{"metrics all interfaces", func(c *Config) { c.Metrics.Listen = ":9645" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default(RoleDevice)
			tt.mutate(&c)
			if err := c.Validate(); err != nil {
				t.Errorf("Validate() = %v", err)
			}
		})
	}
}

func TestValidateJoinsAllErrors(t *testing.T) {
	c := Default(RoleDevice)
	c.P2P.ConnLow = 0
	c.Ledger.Store = "x"
	c.Log.Level = "loud"
	err := c.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, f := range []string{"p2p.conn_low", "ledger.store", "log.level"} {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("joined error %q does not mention %s", err, f)
		}
	}
	if u, ok := err.(interface{ Unwrap() []error }); !ok || len(u.Unwrap()) != 3 {
		t.Errorf("want 3 joined errors, got %v", err)
	}
}

func TestResolve(t *testing.T) {
	abs := filepath.Join(string(filepath.Separator), "etc", "sixdomain")
	tests := []struct {
		name                       string
		home                       string
		key, genesis, data         string
		wantKey, wantGen, wantData string
	}{
		{"relative", "/home/n", "node.key", "genesis.toml", "data",
			"/home/n/node.key", "/home/n/genesis.toml", "/home/n/data"},
		{"nested and dotted", "/home/n", "keys/../keys/node.key", "./g.toml", "var/data",
			"/home/n/keys/node.key", "/home/n/g.toml", "/home/n/var/data"},
		{"absolute kept", "/home/n", abs + "/node.key", abs + "/genesis.toml", "/var/lib/sixdomain",
			abs + "/node.key", abs + "/genesis.toml", "/var/lib/sixdomain"},
		{"empty kept", "/home/n", "node.key", "genesis.toml", "",
			"/home/n/node.key", "/home/n/genesis.toml", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default(RoleDevice)
			c.KeyFile, c.GenesisFile, c.Ledger.Path = tt.key, tt.genesis, tt.data
			before := c.clone()
			r := c.Resolve(tt.home)
			if r.KeyFile != filepath.FromSlash(tt.wantKey) || r.GenesisFile != filepath.FromSlash(tt.wantGen) ||
				r.Ledger.Path != filepath.FromSlash(tt.wantData) {
				t.Errorf("Resolve = %q %q %q", r.KeyFile, r.GenesisFile, r.Ledger.Path)
			}
			if !reflect.DeepEqual(c, before) {
				t.Error("Resolve modified its receiver")
			}
			r.P2P.Listen[0] = "changed"
			if c.P2P.Listen[0] == "changed" {
				t.Error("Resolve result shares slices with the receiver")
			}
		})
	}

	t.Run("api files", func(t *testing.T) {
		c := Default(RoleDevice)
		c.API.TokenFile, c.API.ReadTokenFile, c.API.TLSCertFile, c.API.TLSKeyFile = "api.token", abs+"/read.token", "tls/api.crt", ""
		c.API.CORSOrigins = []string{"*"}
		r := c.Resolve("/home/n")
		if r.API.TokenFile != filepath.FromSlash("/home/n/api.token") || r.API.ReadTokenFile != abs+"/read.token" ||
			r.API.TLSCertFile != filepath.FromSlash("/home/n/tls/api.crt") || r.API.TLSKeyFile != "" {
			t.Errorf("Resolve = %+v", r.API)
		}
		r.API.CORSOrigins[0] = "changed"
		if c.API.CORSOrigins[0] == "changed" {
			t.Error("Resolve result shares cors_origins with the receiver")
		}
	})

	t.Run("relative home", func(t *testing.T) {
		r := Default(RoleDevice).Resolve("home")
		if !filepath.IsAbs(r.KeyFile) || !strings.HasSuffix(r.KeyFile, filepath.Join("home", "node.key")) {
			t.Errorf("KeyFile = %q, want absolute .../home/node.key", r.KeyFile)
		}
	})
}

func TestRender(t *testing.T) {
	off, on := false, true
	boot := []string{
		"/ip4/192.0.2.1/tcp/4001/p2p/" + testPeer,
		"/dns4/boot-1.example.com/udp/4001/quic-v1/p2p/" + testPeer,
	}
	tests := []struct {
		name  string
		role  Role
		opts  RenderOptions
		apply func(*Config)
	}{
		{"no overrides", RoleDevice, RenderOptions{}, func(*Config) {}},
		{"listen", RoleGateway, RenderOptions{Listen: []string{"/ip4/10.0.0.1/tcp/5001"}},
			func(c *Config) { c.P2P.Listen = []string{"/ip4/10.0.0.1/tcp/5001"} }},
		{"bootstrap", RoleDevice, RenderOptions{Bootstrap: boot},
			func(c *Config) { c.P2P.Bootstrap = boot }},
		{"api listen", RoleBootstrap, RenderOptions{APIListen: "0.0.0.0:9000"},
			func(c *Config) { c.API.Listen = "0.0.0.0:9000" }},
		{"disable api", RoleDevice, RenderOptions{DisableAPI: true},
			func(c *Config) { c.API.Listen = "" }},
		{"api token and metrics", RoleGateway, RenderOptions{APIListen: "0.0.0.0:8645", APITokenFile: "api.token", MetricsListen: "127.0.0.1:9645"},
			func(c *Config) {
				c.API.Listen, c.API.TokenFile, c.Metrics.Listen = "0.0.0.0:8645", "api.token", "127.0.0.1:9645"
			}},
		{"mdns off", RoleGateway, RenderOptions{MDNS: &off},
			func(c *Config) { c.P2P.MDNS = false }},
		{"mdns on", RoleBootstrap, RenderOptions{MDNS: &on},
			func(c *Config) { c.P2P.MDNS = true }},
		{"all", RoleBootstrap, RenderOptions{
			Listen:    []string{"/ip4/0.0.0.0/tcp/4001", "/ip6/::/tcp/4001", "/ip4/0.0.0.0/udp/4001/quic-v1"},
			Bootstrap: boot, APIListen: "[::1]:8645", MDNS: &on,
		}, func(c *Config) {
			c.P2P.Listen = []string{"/ip4/0.0.0.0/tcp/4001", "/ip6/::/tcp/4001", "/ip4/0.0.0.0/udp/4001/quic-v1"}
			c.P2P.Bootstrap = boot
			c.API.Listen = "[::1]:8645"
			c.P2P.MDNS = true
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Render(tt.role, tt.opts)
			if err != nil {
				t.Fatalf("Render = %v", err)
			}
			path := filepath.Join(t.TempDir(), "config.toml")
			if err := WriteFile(path, out); err != nil {
				t.Fatal(err)
			}
			got, err := Load(path)
			if err != nil {
				t.Fatalf("Load(rendered) = %v\n%s", err, out)
			}
			want := Default(tt.role)
			tt.apply(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("rendered file loads as\n%+v\nwant\n%+v", got, want)
			}
			if c, w := comments(out), comments(Example(tt.role)); !slices.Equal(c, w) {
				t.Errorf("Render lost comments:\n%s", out)
			}
			if reflect.DeepEqual(tt.opts, RenderOptions{}) && !bytes.Equal(out, Example(tt.role)) {
				t.Error("Render without overrides differs from Example")
			}
		})
	}
}

func comments(b []byte) []string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "#") {
			out = append(out, l)
		}
	}
	return out
}

func TestRenderErrors(t *testing.T) {
	tests := []struct {
		name string
		role Role
		opts RenderOptions
		want string
	}{
		{"unknown role", "miner", RenderOptions{}, "miner"},
		{"bad listen", RoleDevice, RenderOptions{Listen: []string{"localhost:4001"}}, "p2p.listen[0]"},
		{"bootstrap without peer id", RoleDevice, RenderOptions{Bootstrap: []string{"/ip4/192.0.2.1/tcp/4001"}}, "p2p.bootstrap[0]"},
		{"bad api", RoleDevice, RenderOptions{APIListen: "nope"}, "api.listen"},
		{"bad metrics", RoleDevice, RenderOptions{MetricsListen: "9645"}, "metrics.listen"},
		{"conflict", RoleDevice, RenderOptions{APIListen: "127.0.0.1:1", DisableAPI: true}, "DisableAPI"},
		{"quote injection", RoleDevice, RenderOptions{APIListen: "127.0.0.1:1\"\nrole = \"gateway"}, "api.listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Render(tt.role, tt.opts)
			if err == nil {
				t.Fatalf("Render succeeded:\n%s", out)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestTOMLStringQuoting(t *testing.T) {
	for _, s := range []string{"", "plain", `a"b`, `back\slash`, "tab\tnl\n", "ctl\x01\x7f", "ünïcødé ✓"} {
		doc := "v = " + tomlString(s) + "\na = " + tomlStringArray([]string{s, s + "/long/enough/to/wrap/the/array/over/several/lines/for/sure"}) + "\n"
		var got struct {
			V string   `toml:"v"`
			A []string `toml:"a"`
		}
		if err := toml.Unmarshal([]byte(doc), &got); err != nil {
			t.Errorf("%q: %v\n%s", s, err, doc)
			continue
		}
		if got.V != s || got.A[0] != s {
			t.Errorf("round trip of %q = %q", s, got.V)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	big := append([]byte("role = \"device\"\n"), bytes.Repeat([]byte("# padding padding padding\n"), MaxFileSize/26+1)...)
	tests := []struct {
		name string
		path string
		want []string
		is   error
	}{
		{"missing file", filepath.Join(dir, "nope.toml"), []string{"nope.toml", "no such file"}, fs.ErrNotExist},
		{"directory", dir, []string{"directory"}, nil},
		{"oversize", write("big.toml", big), []string{"big.toml", "1 MiB"}, nil},
		{"bad toml", write("bad.toml", []byte("role = \"device\"\n[p2p\nmdns = true\n")), []string{"bad.toml", "line 2"}, nil},
		{"unterminated string", write("str.toml", []byte("role = \"device")), []string{"line 1"}, nil},
		{"wrong type", write("type.toml", []byte("role = \"device\"\n[p2p]\nconn_low = \"many\"\n")), []string{"line 3"}, nil},
		{"wrong list type", write("list.toml", []byte("role = \"device\"\n[p2p]\nlisten = \"/ip4/0.0.0.0/tcp/1\"\n")), []string{"line 3"}, nil},
		{"duplicate key", write("dup.toml", []byte("role = \"device\"\nrole = \"gateway\"\n")), []string{"line 2"}, nil},
		{"invalid value", write("inv.toml", []byte("role = \"device\"\n[mempool]\nmax_txs = 0\n")), []string{"inv.toml", "mempool.max_txs"}, ErrInvalidConfig},
		{"binary", write("bin.toml", []byte{0xff, 0xfe, 0x00, 0x01}), []string{"bin.toml"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.path)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			t.Log(err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
		})
	}

	// A file of exactly MaxFileSize bytes is still accepted.
	exact := append([]byte("role = \"device\"\n"), bytes.Repeat([]byte("#"), MaxFileSize-len("role = \"device\"\n"))...)
	if _, err := Load(write("exact.toml", exact)); err != nil {
		t.Errorf("Load of a %d byte file = %v", len(exact), err)
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "config.toml")
	if err := WriteFile(p, Example(RoleDevice)); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&^0o644 != 0 || perm&0o600 != 0o600 {
		t.Errorf("mode = %v, want 0644 (minus umask)", perm)
	}
	if b, _ := os.ReadFile(p); !bytes.Equal(b, Example(RoleDevice)) {
		t.Error("content differs")
	}

	err = WriteFile(p, []byte("overwritten"))
	if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), p) {
		t.Errorf("second WriteFile = %v, want ErrExists naming the path", err)
	}
	if b, _ := os.ReadFile(p); !bytes.Equal(b, Example(RoleDevice)) {
		t.Error("existing file was modified")
	}

	if err := WriteFile(filepath.Join(dir, "no", "such", "dir.toml"), nil); err == nil || errors.Is(err, ErrExists) {
		t.Errorf("WriteFile into a missing directory = %v", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, r := range Roles() {
		f.Add(Example(r))
	}
	f.Add([]byte("role = \"device\"\n[p2p]\nlisten = [\"/ip4/1.2.3.4/tcp/1\"]\n"))
	f.Add([]byte("role = 1"))
	f.Add([]byte("[[p2p]]\nrole = \"device\""))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err == nil {
			if verr := c.Validate(); verr != nil {
				t.Fatalf("Parse accepted a config that does not validate: %v", verr)
			}
		}
	})
}

func TestConsensusProposalsValidated(t *testing.T) {
	good := "did:key:z6MktwupdmLXVVqTzCw4i46r4uGyosGXRnR3XjN4Zq7oMMsw"
	for name, tc := range map[string]struct {
		add, drop []string
		ok        bool
	}{
		"empty":         {ok: true},
		"one of each":   {add: []string{good}, drop: []string{"did:key:z6MkiaMbhXHNA4eJVCCj8dbzKzTgYDKf6crKgHVHid1F1WCT"}, ok: true},
		"not a did:key": {add: []string{"12D3KooWQK1wnefoLrcVHbbnf5tLzbopUd3K3bFAoJpA7YJgL5pV"}},
		"add and drop":  {add: []string{good}, drop: []string{good}},
		"listed twice":  {add: []string{good, good}},
	} {
		c := Default(RoleGateway)
		c.Consensus = ConsensusConfig{ProposeAdd: tc.add, ProposeDrop: tc.drop}
		err := c.Validate()
		if tc.ok != (err == nil) {
			t.Errorf("%s: ok=%v, err=%v", name, tc.ok, err)
		}
		if err != nil && !strings.Contains(err.Error(), "consensus.propose_") {
			t.Errorf("%s: error does not name the key: %v", name, err)
		}
	}
}

// TestP2PAddressKeys: announce, no_announce and dht are validated, each
// error naming the key and index; the role defaults of the discovery and
// relay keys.
func TestP2PAddressKeys(t *testing.T) {
	bad := []struct {
		field  string
		mutate func(*Config)
	}{
		{"p2p.announce[0]", func(c *Config) { c.P2P.Announce = []string{"203.0.113.7:4001"} }},
		{"p2p.announce[1]", func(c *Config) {
			c.P2P.Announce = []string{"/ip4/203.0.113.7/tcp/4001", "/ip4/203.0.113.7/tcp/4001/p2p/" + testPeer}
		}},
		{"p2p.announce[0]", func(c *Config) { c.P2P.Announce = []string{"/ip4/10.0.0.0/ipcidr/8"} }},
		{"p2p.no_announce[0]", func(c *Config) { c.P2P.NoAnnounce = []string{"10.0.0.0/8"} }},
		{"p2p.no_announce[0]", func(c *Config) { c.P2P.NoAnnounce = []string{"/ip4/10.0.0.0/ipcidr/33"} }},
		{"p2p.no_announce[0]", func(c *Config) { c.P2P.NoAnnounce = []string{"/ip4/10.0.0.0/ipcidr/8/tcp/1"} }},
		{"p2p.no_announce[0]", func(c *Config) { c.P2P.NoAnnounce = []string{"/ip4/10.0.0.1/tcp/1/p2p/" + testPeer} }},
		{"p2p.dht", func(c *Config) { c.P2P.DHT = "full" }},
		{"p2p.dht", func(c *Config) { c.P2P.DHT = "" }},
		{"p2p.reachability", func(c *Config) { c.P2P.Reachability = "behind-nat" }},
		{"p2p.reachability", func(c *Config) { c.P2P.Reachability = "private"; c.P2P.RelayService = true }},
		{"p2p.reachability", func(c *Config) {
			c.P2P.Reachability = "private"
			c.P2P.Announce = []string{"/ip4/192.0.2.1/tcp/4001"}
		}},
	}
	for _, tt := range bad {
		t.Run("rejects "+tt.field, func(t *testing.T) {
			c := Default(RoleGateway)
			tt.mutate(&c)
			err := c.Validate()
			if err == nil {
				t.Fatalf("invalid %s accepted", tt.field)
			}
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.field+":") {
				t.Errorf("error %q does not wrap ErrInvalidConfig and name %s", err, tt.field)
			}
		})
	}
	good := []struct {
		name   string
		mutate func(*Config)
	}{
		{"announce ip4 and dns", func(c *Config) {
			c.P2P.Announce = []string{"/ip4/203.0.113.7/tcp/4001", "/dns4/boot.example.com/udp/4001/quic-v1"}
		}},
		{"no_announce filters and addresses", func(c *Config) {
			c.P2P.NoAnnounce = []string{"/ip4/10.0.0.0/ipcidr/8", "/ip6/fd00::/ipcidr/8", "/ip4/192.168.1.5/tcp/4001"}
		}},
		{"dht modes", func(c *Config) { c.P2P.DHT = DHTOff }},
		{"relay flags", func(c *Config) {
			c.P2P.RelayService, c.P2P.AutoRelay, c.P2P.HolePunching, c.P2P.KeepChain = true, false, false, true
		}},
	}
	for _, tt := range good {
		t.Run("accepts "+tt.name, func(t *testing.T) {
			c := Default(RoleDevice)
			tt.mutate(&c)
			if err := c.Validate(); err != nil {
				t.Errorf("Validate() = %v", err)
			}
		})
	}
	for _, d := range []struct {
		role                      Role
		dht                       string
		relay, auto, punch, chain bool
	}{
		{RoleDevice, DHTClient, false, true, true, false},
		{RoleGateway, DHTAuto, false, true, true, false},
		{RoleBootstrap, DHTServer, true, false, false, false},
	} {
		p := Default(d.role).P2P
		if p.DHT != d.dht || p.RelayService != d.relay || p.AutoRelay != d.auto || p.HolePunching != d.punch || p.KeepChain != d.chain ||
			p.Announce != nil || p.NoAnnounce != nil {
			t.Errorf("Default(%s).P2P = %+v", d.role, p)
		}
	}
	// announce = [] and an omitted key load alike.
	c, err := Parse([]byte("role = \"device\"\n[p2p]\nannounce = []\nno_announce = [\"/ip4/10.0.0.0/ipcidr/8\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.P2P.Announce != nil || !slices.Equal(c.P2P.NoAnnounce, []string{"/ip4/10.0.0.0/ipcidr/8"}) {
		t.Errorf("parsed %+v", c.P2P)
	}
}
