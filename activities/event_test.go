package activities

import (
	"fmt"
	"testing"
	"time"

	"github.com/vigilml/vigil/config"
)

// Every integration sends Event.ReportURL as the alert's report link: the
// dashboard's page of the window under worker.public_url, else the stored
// report's URI.
func TestAlertReportLink(t *testing.T) {
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	in := NotifyInput{Kind: "trigger", Integration: "slack", Incident: Incident{Model: "churn", Rule: "accuracy-drop",
		WindowStart: start, WindowEnd: start.Add(15 * time.Minute), ReportURI: "s3://b/reports/churn/2026/03/01/2026-03-01T10:00:00Z.json"}}
	for _, tc := range []struct{ public, want string }{
		{"https://vigil.example.com", "https://vigil.example.com/models/churn/reports/2026-03-01T10:00:00Z"},
		{"", "s3://b/reports/churn/2026/03/01/2026-03-01T10:00:00Z.json"},
	} {
		cfg := &config.Config{Worker: config.Worker{PublicURL: tc.public}}
		if got := EventOf(in, cfg).ReportURL; got != tc.want {
			t.Errorf("public_url %q: report link %s, want %s", tc.public, got, tc.want)
		}
	}
}

// A rollout alert carries its own summary (the evidence), whatever its kind:
// its resolve is a decision, not a recovered metric.
func TestRolloutAlertSummary(t *testing.T) {
	in := NotifyInput{Kind: "resolve", Integration: "slack", Incident: Incident{Model: "churn", Rule: "rollout",
		Metric: "performance.accuracy", Summary: "shadow v2 vs v1 promoted: better than the champion"}}
	if got := EventOf(in, &config.Config{}).Summary; got != in.Incident.Summary {
		t.Errorf("summary %q, want %q", got, in.Incident.Summary)
	}
	in.Incident.Summary = ""
	if got := EventOf(in, &config.Config{}).Summary; got != "performance.accuracy recovered" {
		t.Errorf("an incident's resolve: summary %q", got)
	}
}

// LoadModel's spec has a rollout only when it stages the challenger: a
// direct one (or none) leaves RetrainSpec.Rollout nil, so direct retrains
// record the same history as before rollouts existed.
func TestSpecCarriesOnlyStagedRollouts(t *testing.T) {
	base := `models:
  - name: churn
    task: binary
    columns: {target: label, prediction: prediction}
    source: {uri: "file:///data/pred"}
    reference: {uri: "file:///data/ref.csv"}
    retrain:
      command: [train]
`
	for _, tc := range []struct {
		yaml string
		want *RolloutSpec
	}{
		{"", nil},
		{"      rollout: {mode: direct}\n", nil},
		{"      rollout: {mode: canary, steps: [25, 100], hold: 2h, evaluation_interval: 30m, margin: 0.01}\n",
			&RolloutSpec{Mode: "canary", Metric: "performance.accuracy", Margin: 0.01, Alpha: 0.05, EvaluationInterval: 30 * time.Minute,
				MinRows: 100, MaxDuration: 7 * 24 * time.Hour, Steps: []int{25, 100}, Hold: 2 * time.Hour}},
	} {
		cfg, err := config.Parse("vigil.yaml", []byte(base+tc.yaml), config.Options{SkipEnv: true})
		if err != nil {
			t.Fatal(err)
		}
		got := specOf(&cfg.Models[0], cfg).Retrain.Rollout
		if (got == nil) != (tc.want == nil) || (got != nil && fmt.Sprint(*got) != fmt.Sprint(*tc.want)) {
			t.Errorf("%q: rollout spec %+v, want %+v", tc.yaml, got, tc.want)
		}
	}
}
