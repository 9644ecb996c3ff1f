package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"

	"github.com/vigilml/vigil/control"
	"github.com/vigilml/vigil/workflows"
)

// A window of more objects than analysis.shard_objects is profiled by shard
// activities taken from the worker's shard queue and merged into the
// window's report; the shard documents are gone afterwards, with those of
// a run killed long ago, and the query progress counts every shard. With
// VIGIL_RECORD_REPLAY set, the run is kept as the replay history of the
// sharded branch (monitor-sharded.json).
func TestShardedEvaluationOnTheDevServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	dir := shardedWindow(t)
	cfgPath := writeConfig(t, dir, `
dev: {data_dir: "{{dir}}/state"}
storage: {reports: "file://{{dir}}/reports"}
analysis: {shard_objects: 2, shard_slots: 2}
models:
  - name: churn
    schedule: {every: 2h, window: 2h}
    source: {uri: "file://{{dir}}/data", format: csv}
    reference: {uri: "file://{{dir}}/ref.csv"}
    rules:
      - {name: drift, metric: dataset_drift.share, above: 0.5, severity: warning}
`)
	// The documents of a run killed two days ago, which the plan deletes.
	stale := filepath.Join(dir, "reports", "_shards", "churn", "killed-run")
	os.MkdirAll(stale, 0o755)
	os.WriteFile(filepath.Join(stale, "plan.json"), []byte("{}"), 0o644)
	old := time.Now().Add(-48 * time.Hour)
	os.Chtimes(filepath.Join(stale, "plan.json"), old, old)
	w := startWorker(t, options{configPath: cfgPath, noDemo: true})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run, err := (&control.Client{C: w.Client, TaskQueue: "vigil"}).Trigger(ctx, "churn", time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	var res workflows.MonitorResult
	if err := run.Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if res.Rows != 600 || res.ReportURI == "" {
		body, _ := os.ReadFile(strings.TrimPrefix(res.ReportURI, "file://"))
		t.Fatalf("result %+v, want the report of 600 rows\n%.600s", res, body)
	}
	shards := map[string]int{}
	iter := w.Client.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
			shards[a.ActivityType.Name+"@"+a.TaskQueue.Name]++
		}
	}
	if shards["ProfileShard@vigil-shards"] != 3 || shards["MergeShards@vigil"] != 1 || shards["Analyze@vigil"] != 0 {
		t.Errorf("activities scheduled %v, want 3 ProfileShard on vigil-shards and one MergeShards", shards)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "reports", "_shards", "churn", "*")); len(left) > 0 {
		t.Errorf("shard documents left (this run's, or the killed run's): %v", left)
	}
	v, err := w.Client.QueryWorkflow(ctx, run.GetID(), run.GetRunID(), workflows.QueryProgress)
	if err != nil {
		t.Fatal(err)
	}
	var progress workflows.MonitorProgress
	if err := v.Get(&progress); err != nil {
		t.Fatal(err)
	}
	if want := (workflows.MonitorProgress{Stage: workflows.StageDone, Shards: 3, ShardsDone: 3, Rows: 600, Objects: 5, Bytes: progress.Bytes}); progress != want || progress.Bytes == 0 {
		t.Errorf("progress of the finished run %+v, want %+v and the plan's bytes", progress, want)
	}
	if dst := os.Getenv("VIGIL_RECORD_REPLAY"); dst != "" {
		record(t, w, dst, "monitor-sharded.json", run.GetID())
	}
}

// shardedWindow writes a reference and a window of five objects, 600 rows,
// over two hours from 2026-03-01T10:00Z, and returns their directory.
func shardedWindow(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var ref strings.Builder
	ref.WriteString("x,cat\n")
	for i := range 400 {
		fmt.Fprintf(&ref, "%g,%c\n", float64(i%97)/7, 'a'+rune(i%3))
	}
	os.WriteFile(filepath.Join(dir, "ref.csv"), []byte(ref.String()), 0o644)
	for i := range 5 {
		hour := filepath.Join(dir, "data", "2026", "03", "01", fmt.Sprintf("%02d", 10+i/3))
		os.MkdirAll(hour, 0o755)
		var b strings.Builder
		b.WriteString("x,cat\n")
		for j := range 120 {
			fmt.Fprintf(&b, "%g,%c\n", float64((j*7+i)%97)/7+0.5, 'a'+rune(j%3))
		}
		os.WriteFile(filepath.Join(hour, fmt.Sprintf("part-%d.csv", i)), []byte(b.String()), 0o644)
	}
	return dir
}

// A sharded evaluation whose shards fail (here its plan turns unreadable
// once stored, which no retry heals) deletes its shard documents before it
// fails (change drop-failed-shards). With VIGIL_RECORD_REPLAY set, the run
// is kept as the replay history of that branch
// (monitor-sharded-failed.json).
func TestFailedShardedEvaluationOnTheDevServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	dir := shardedWindow(t)
	// One shard at a time: shards after the first read the plan later.
	cfgPath := writeConfig(t, dir, `
dev: {data_dir: "{{dir}}/state"}
storage: {reports: "file://{{dir}}/reports"}
analysis: {shard_objects: 2, shard_slots: 1}
models:
  - name: churn
    schedule: {every: 2h, window: 2h}
    source: {uri: "file://{{dir}}/data", format: csv}
    reference: {uri: "file://{{dir}}/ref.csv"}
`)
	w := startWorker(t, options{configPath: cfgPath, noDemo: true})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	corrupted := make(chan string, 1)
	go func() {
		for ctx.Err() == nil {
			plans, _ := filepath.Glob(filepath.Join(dir, "reports", "_shards", "churn", "*", "plan.json"))
			if len(plans) > 0 {
				os.WriteFile(plans[0], []byte("not a plan"), 0o644)
				corrupted <- plans[0]
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	run, err := (&control.Client{C: w.Client, TaskQueue: "vigil"}).Trigger(ctx, "churn", time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	err = run.Get(ctx, nil)
	if err == nil || !strings.Contains(err.Error(), "profile shard") || !strings.Contains(err.Error(), "VigilStalePlan") {
		t.Fatalf("evaluation error %v, want a shard's VigilStalePlan", err)
	}
	select {
	case <-corrupted:
	default:
		t.Fatal("the plan was never corrupted")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "reports", "_shards", "churn", "*")); len(left) > 0 {
		t.Errorf("shard documents left after the failure: %v", left)
	}
	seen := map[string]int{}
	iter := w.Client.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
			seen[a.ActivityType.Name]++
		}
		if m := ev.GetMarkerRecordedEventAttributes(); m != nil && strings.Contains(m.String(), workflows.ChangeDropFailedShards) {
			seen["marker"]++
		}
	}
	if seen["ProfileShard"] != 3 || seen["DropShards"] != 1 || seen["marker"] != 1 || seen["MergeShards"] != 0 {
		t.Errorf("history %v, want 3 ProfileShard, the change's marker and one DropShards", seen)
	}
	if dst := os.Getenv("VIGIL_RECORD_REPLAY"); dst != "" {
		record(t, w, dst, "monitor-sharded-failed.json", run.GetID())
	}
}
