package node

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// The operator's files this test holds to the node's metrics.
var (
	dashboardFile = filepath.Join("..", "deploy", "grafana", "sixdomain.json")
	alertsFile    = filepath.Join("..", "deploy", "prometheus", "alerts.yml")
	promConfFile  = filepath.Join("..", "deploy", "prometheus", "prometheus.yml")
)

// promqlWords are the PromQL keywords, aggregations and constants that
// look like identifiers (functions are recognised by their parenthesis).
var promqlWords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "atan2": true,
	"sum": true, "min": true, "max": true, "avg": true, "count": true, "stddev": true, "stdvar": true, "group": true,
	"topk": true, "bottomk": true, "quantile": true, "count_values": true, "inf": true, "nan": true,
}

var (
	promStrings   = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")
	promMatchers  = regexp.MustCompile(`\{[^}]*\}`)
	promRanges    = regexp.MustCompile(`\[[^\]]*\]`)
	grafanaVars   = regexp.MustCompile(`\$\{[^}]*\}|\$\w+`)
	promGrouping  = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promIdent     = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*`)
	labelValuesOf = regexp.MustCompile(`label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*,`)
)

// metricNames returns the metric names a PromQL expression (with Grafana
// variables) reads: the identifiers left once strings, label matchers,
// ranges, grouping clauses and variables are removed, that are neither
// keywords nor called like functions, and do not follow a digit.
func metricNames(expr string) []string {
	s := promStrings.ReplaceAllString(expr, " ")
	s = promMatchers.ReplaceAllString(s, " ")
	s = promRanges.ReplaceAllString(s, " ")
	s = grafanaVars.ReplaceAllString(s, " ")
	s = promGrouping.ReplaceAllString(s, " ")
	var out []string
	for _, loc := range promIdent.FindAllStringIndex(s, -1) {
		name := s[loc[0]:loc[1]]
		if loc[0] > 0 && (s[loc[0]-1] >= '0' && s[loc[0]-1] <= '9' || s[loc[0]-1] == '.') {
			continue // 1e3, 0.5e-3
		}
		if promqlWords[strings.ToLower(name)] || strings.HasPrefix(strings.TrimSpace(s[loc[1]:]), "(") {
			continue
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

func TestMetricNames(t *testing.T) {
	for _, tt := range []struct {
		expr string
		want []string
	}{
		{`up{job="sixdomain"} == 0`, []string{"up"}},
		{`sum by (instance, topic) (rate(sixdomain_gossip_dropped_total{job="x", topic=~"a|b"}[5m])) > 1`, []string{"sixdomain_gossip_dropped_total"}},
		{`histogram_quantile(0.99, sum by (le, route) (rate(sixdomain_api_request_duration_seconds_bucket{instance=~"$instance"}[$__rate_interval])))`,
			[]string{"sixdomain_api_request_duration_seconds_bucket"}},
		{`a_total / on (instance) group_left (version) b_info * 1e3`, []string{"a_total", "b_info"}},
		{`increase(x[10m]) == 0 and y > 0 unless z offset 5m`, []string{"x", "y", "z"}},
		{`sum(rate(q{l="by (x)"}[1m])) without (pod)`, []string{"q"}},
	} {
		if got := metricNames(tt.expr); !slices.Equal(got, tt.want) {
			t.Errorf("metricNames(%q) = %v, want %v", tt.expr, got, tt.want)
		}
	}
}

// dashboardMetrics returns the metric names of every expr of the Grafana
// dashboard, and of its label_values() variables.
func dashboardMetrics(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	set := map[string]bool{}
	exprs := 0
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				s, isString := x.(string)
				switch {
				case k == "expr" && isString:
					exprs++
					for _, n := range metricNames(s) {
						set[n] = true
					}
				case (k == "definition" || k == "query") && isString:
					for _, m := range labelValuesOf.FindAllStringSubmatch(s, -1) {
						set[m[1]] = true
					}
				default:
					walk(x)
				}
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	if exprs < 10 {
		t.Fatalf("%s has only %d expressions", dashboardFile, exprs)
	}
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// promServer is a Prometheus server the test runs.
type promServer struct {
	url string
	out *bytes.Buffer
}

func (p *promServer) get(ctx context.Context, path string, into any) error {
	req, err := http.NewRequestWithContext(ctx, "GET", p.url+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %d %s", path, resp.StatusCode, body)
	}
	var env struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil || env.Status != "success" {
		return fmt.Errorf("%s: %v %s", path, err, body)
	}
	return json.Unmarshal(env.Data, into)
}

// startPrometheus runs the prometheus binary with a temporary config that
// scrapes targets every second and loads the alert rules.
func startPrometheus(t *testing.T, bin string, targets []string) *promServer {
	t.Helper()
	dir := t.TempDir()
	rules, err := filepath.Abs(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	quoted := make([]string, len(targets))
	for i, a := range targets {
		quoted[i] = fmt.Sprintf("%q", a)
	}
	conf := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - %q
scrape_configs:
  - job_name: sixdomain
    metrics_path: /debug/metrics/prometheus
    static_configs:
      - targets: [%s]
`, rules, strings.Join(quoted, ", "))
	confFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	out := &bytes.Buffer{}
	cmd := exec.Command(bin, "--config.file="+confFile, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := cmd.Process.Kill(); err != nil {
			t.Logf("killing prometheus: %v", err)
		}
		if err := cmd.Wait(); err != nil && !strings.Contains(err.Error(), "killed") {
			t.Logf("prometheus: %v", err)
		}
		if t.Failed() {
			t.Logf("prometheus output:\n%s", out)
		}
	})
	return &promServer{url: "http://" + addr, out: out}
}

// TestPrometheusScrapesDashboardMetrics runs a real Prometheus against two
// nodes (one through its metrics listener, one through its API) and checks
// that every metric the Grafana dashboard and the alert rules read exists,
// and that the rules load and evaluate.
func TestPrometheusScrapesDashboardMetrics(t *testing.T) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("SIXD_REQUIRE_PROMETHEUS") == "1" {
			t.Fatalf("SIXD_REQUIRE_PROMETHEUS=1 but no prometheus binary on PATH: %v", err)
		}
		t.Skip("no prometheus binary on PATH (apt-get install prometheus); set SIXD_REQUIRE_PROMETHEUS=1 to make this a failure")
	}
	want := dashboardMetrics(t)

	if promtool, err := exec.LookPath("promtool"); err == nil {
		for _, args := range [][]string{{"check", "rules", alertsFile}, {"check", "config", promConfFile}} {
			if out, err := exec.Command(promtool, args...).CombinedOutput(); err != nil {
				t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
	}

	c := startMetricsCluster(t, "prometheus-test")
	// A request of each kind the API panels show.
	for _, path := range []string{"/v1/status", "/v1/blocks/latest", "/v1/nope"} {
		resp, err := http.Get(apiURL(c.Nodes[1], path))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	prom := startPrometheus(t, bin, []string{c.Nodes[0].MetricsAddr().String(), c.Nodes[1].APIAddr().String()})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	poll := func(what string, check func() error) {
		t.Helper()
		var last error
		for {
			if last = check(); last == nil {
				return
			}
			select {
			case <-ctx.Done():
				t.Fatalf("waiting for %s: %v", what, last)
			case <-time.After(250 * time.Millisecond):
			}
		}
	}

	poll("both targets up", func() error {
		var targets struct {
			Active []struct {
				ScrapeURL string `json:"scrapeUrl"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
			} `json:"activeTargets"`
		}
		if err := prom.get(ctx, "/api/v1/targets", &targets); err != nil {
			return err
		}
		if len(targets.Active) != 2 {
			return fmt.Errorf("%d targets", len(targets.Active))
		}
		for _, tg := range targets.Active {
			if tg.Health != "up" {
				return fmt.Errorf("%s is %s: %s", tg.ScrapeURL, tg.Health, tg.LastError)
			}
		}
		return nil
	})

	rules := map[string]bool{} // alert rules' own metric names
	poll("the alert rules to load and evaluate", func() error {
		var data struct {
			Groups []struct {
				Rules []struct {
					Name, Query, Health, LastError, Type string
				} `json:"rules"`
			} `json:"groups"`
		}
		if err := prom.get(ctx, "/api/v1/rules", &data); err != nil {
			return err
		}
		n := 0
		for _, g := range data.Groups {
			for _, r := range g.Rules {
				n++
				if r.Health != "ok" {
					return fmt.Errorf("rule %s: health %q %s", r.Name, r.Health, r.LastError)
				}
				for _, m := range metricNames(r.Query) {
					rules[m] = true
				}
			}
		}
		if n < 6 {
			return fmt.Errorf("%d rules loaded, want 6", n)
		}
		return nil
	})
	for m := range rules {
		if !slices.Contains(want, m) {
			want = append(want, m)
		}
	}
	sort.Strings(want)

	poll("every metric of the dashboard and the alerts", func() error {
		var names []string
		if err := prom.get(ctx, "/api/v1/label/__name__/values", &names); err != nil {
			return err
		}
		var missing []string
		for _, m := range want {
			if !slices.Contains(names, m) {
				missing = append(missing, m)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("Prometheus has no %v", missing)
		}
		return nil
	})
	t.Logf("Prometheus holds all %d metrics the dashboard and alerts read: %v", len(want), want)
}
