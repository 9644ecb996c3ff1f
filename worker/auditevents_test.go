package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/vigilml/vigil/audit"
	"github.com/vigilml/vigil/control"
	"github.com/vigilml/vigil/store"
)

// A worker whose config has audit.kafka publishes its audit trail to the
// topic: the evaluation, the incident it opens, and a silence sent the way
// `starter silence` sends it; a config without audit.kafka publishes nothing
// (the other tests).
func TestWorkerPublishesAuditEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a dev worker and a Kafka cluster")
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "vigil.audit"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dir := t.TempDir()
	writeCrashData(t, filepath.Join(dir, "churn")) // accuracy 0.5 in every window
	cfgPath := writeConfig(t, dir, fmt.Sprintf(`
dev: {data_dir: "{{dir}}/state"}
audit:
  kafka: {brokers: [%q], topic: vigil.audit}
models:
  - name: churn
    task: binary
    schedule: {every: 1h, window: 10m}
    columns: {target: label, prediction: prediction}
    features: [x1, x2]
    source: {uri: "file://{{dir}}/churn/data"}
    reference: {uri: "file://{{dir}}/churn/ref.csv"}
    rules:
      - {name: accuracy-drop, metric: performance.accuracy, below: 0.8, severity: critical}
`, c.ListenAddrs()[0]))
	w := startWorker(t, options{configPath: cfgPath})
	ctx := context.Background()
	wc := &control.Client{C: w.Client, TaskQueue: "vigil",
		OnSilence: audit.SilenceRecorder(audit.NewOutbox(store.New(w.Config.Storage), w.Config.Storage.Registry), w.Config.Temporal.Namespace)}
	if _, err := wc.Trigger(ctx, "churn", time.Time{}); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("vigil.audit"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	events := map[string]map[string]any{}
	var types []string
	read := func(want string) {
		t.Helper()
		pctx, cancel := context.WithTimeout(ctx, 90*time.Second)
		defer cancel()
		for events[want] == nil {
			fs := cl.PollFetches(pctx)
			if pctx.Err() != nil {
				t.Fatalf("no %s event after 90 s; got %v", want, types)
			}
			fs.EachRecord(func(r *kgo.Record) {
				var ev map[string]any
				if err := json.Unmarshal(r.Value, &ev); err != nil || string(r.Key) != "churn" {
					t.Errorf("record key %q, value %s: want a JSON event keyed churn", r.Key, r.Value)
					return
				}
				typ := ev["type"].(string)
				types = append(types, typ)
				events[typ] = ev
			})
		}
	}
	read(audit.IncidentOpened)
	until, err := wc.Silence(ctx, "churn", "accuracy-drop", time.Hour, "alice")
	if err != nil {
		t.Fatal(err)
	}
	read(audit.IncidentSilenced)
	if i, j := slices.Index(types, audit.EvaluationCompleted), slices.Index(types, audit.IncidentOpened); i < 0 || i > j {
		t.Errorf("events %v: want the evaluation before the incident it opened", types)
	}
	eval := events[audit.EvaluationCompleted]["data"].(map[string]any)
	if eval["status"] != "breach" || !strings.HasSuffix(fmt.Sprint(eval["report_uri"]), ".json") || eval["workflow"] == nil {
		t.Errorf("evaluation.completed data: %v", eval)
	}
	sil := events[audit.IncidentSilenced]["data"].(map[string]any)
	inc, _ := sil["incident"].(map[string]any)
	if sil["actor"] != "alice" || inc["rule"] != "accuracy-drop" || inc["silenced_until"] != until.UTC().Format(time.RFC3339Nano) {
		t.Errorf("incident.silenced data: %v; want alice's silence of accuracy-drop until %s", sil, until.UTC().Format(time.RFC3339Nano))
	}
}
