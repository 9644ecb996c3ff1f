package metrics_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilml/vigil/internal/metrics"
)

const deployDir = "../../deploy"

// exported is every vigil_* metric name a Publisher exports after a real
// report and every kind of event, histograms with their _bucket, _sum and
// _count series.
func exported(t *testing.T) map[string]bool {
	t.Helper()
	reg := prometheus.NewRegistry()
	p := metrics.New(reg, metrics.Options{StatsD: nopStatsD{}})
	rep := churnReport(t)
	p.Cadence("churn", 15*time.Minute)
	p.ScheduleSkipped("churn", 2, 0)
	p.Evaluation("churn", "v3", "warning", rep, now, time.Second)
	p.EvaluationFailed("churn", "analyze")
	p.IncidentOpened("churn", "accuracy-drop", "critical")
	p.IncidentResolved("churn", "accuracy-drop", "critical")
	p.IncidentOpened("churn", "drift", "warning")
	p.Notification("slack", "trigger", nil)
	p.NotificationUndelivered("slack", "trigger")
	p.NotificationDropped("slack", "trigger")
	p.Retrain("churn", "promoted")
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		n := mf.GetName()
		names[n] = true
		if mf.GetMetric()[0].Histogram != nil {
			names[n+"_bucket"], names[n+"_sum"], names[n+"_count"] = true, true, true
		}
	}
	return names
}

type nopStatsD struct{}

func (nopStatsD) Gauge(string, float64, []string, float64) error        { return nil }
func (nopStatsD) Count(string, int64, []string, float64) error          { return nil }
func (nopStatsD) Distribution(string, float64, []string, float64) error { return nil }

var vigilName = regexp.MustCompile(`\bvigil_[a-z_]+`)

// queries collects every string under the given keys anywhere in a decoded
// JSON/YAML document.
func queries(v any, keys ...string) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && slices.Contains(keys, k) {
				out = append(out, s)
			}
			out = append(out, queries(e, keys...)...)
		}
	case []any:
		for _, e := range x {
			out = append(out, queries(e, keys...)...)
		}
	}
	return out
}

// checkNames fails for every vigil_* name in the queries that the Publisher
// does not export, and returns the names used.
func checkNames(t *testing.T, file string, qs []string, have map[string]bool) map[string]bool {
	t.Helper()
	used := map[string]bool{}
	for _, q := range qs {
		for _, name := range vigilName.FindAllString(q, -1) {
			used[name] = true
			if !have[name] {
				t.Errorf("%s: query %q names %s, which the Publisher does not export", file, q, name)
			}
		}
	}
	return used
}

func TestGrafanaDashboardQueriesOnlyExportedMetrics(t *testing.T) {
	have := exported(t)
	file := filepath.Join(deployDir, "grafana/dashboards/vigil.json")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var dash map[string]any
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	qs := queries(dash, "expr", "query", "definition")
	used := checkNames(t, file, qs, have)
	// The panels the issue asks for are there.
	for _, name := range []string{"vigil_model_performance", "vigil_feature_drift_score", "vigil_model_latency_ms",
		"vigil_window_rows", "vigil_incidents_open", "vigil_retrains_total"} {
		if !used[name] {
			t.Errorf("%s: no query uses %s", file, name)
		}
	}
	panels, _ := dash["panels"].([]any)
	ids := map[float64]bool{}
	for _, p := range panels {
		p := p.(map[string]any)
		id, _ := p["id"].(float64)
		if ids[id] {
			t.Errorf("%s: duplicate panel id %v", file, id)
		}
		ids[id] = true
		if p["type"] != "row" && len(queries(p, "expr")) == 0 {
			t.Errorf("%s: panel %q has no query", file, p["title"])
		}
	}
}

func TestAlertRulesNameOnlyExportedMetrics(t *testing.T) {
	file := filepath.Join(deployDir, "prometheus/rules/vigil.rules.yml")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var rules map[string]any
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	used := checkNames(t, file, queries(rules, "expr"), exported(t))
	for _, name := range []string{"vigil_last_evaluation_timestamp_seconds", "vigil_model_cadence_seconds", "vigil_dataset_drift_share"} {
		if !used[name] {
			t.Errorf("%s: no rule uses %s", file, name)
		}
	}
}

// TestPromtool checks the Prometheus config and rules and runs the rule unit
// tests with promtool (CI installs it: apt-get install -y prometheus).
func TestPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not on PATH (apt-get install prometheus): deploy/prometheus rules not checked")
	}
	dir := filepath.Join(deployDir, "prometheus")
	for _, args := range [][]string{
		{"check", "config", "prometheus.yml"},
		{"check", "rules", "rules/vigil.rules.yml"},
		{"test", "rules", "rules/vigil.rules.test.yml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
