package main

// These tests run the whole worker against a real Temporal server embedded
// in the test process (SQLite in a temp dir): schedules, workflows,
// activities, the store, the analysis engine, the registry and the trainer
// all run for real. They are the only tests that link the Temporal server.

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/vigilml/vigil/activities"
	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/control"
	"github.com/vigilml/vigil/train/demo"
	"github.com/vigilml/vigil/train/registry"
	"github.com/vigilml/vigil/workflows"
)

// TestMain lets the test binary be the demo's trainer, as the worker binary
// is in dev mode: the command backend runs `<this binary> demo-train`.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "demo-train" {
		if err := demo.RunTrainer(os.Args[2:], os.Getenv, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "demo-train:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// freePort returns a port that is free now, below Linux's ephemeral range
// (32768–60999): tests restart servers on the same port after seconds of
// downtime, and a port from that range can meanwhile become the local port
// of any outgoing connection on the machine (a CI run failed so, with
// "bind: address already in use" on a restart).
func freePort(t *testing.T) int {
	t.Helper()
	for range 200 {
		port := 20000 + rand.IntN(12000)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		l.Close()
		return port
	}
	t.Fatal("no free port between 20000 and 32000")
	return 0
}

type running struct {
	*Worker
	stop func()
	done chan error
	once sync.Once
}

// startWorker runs the worker with -dev on dataDir and waits until ready.
func startWorker(t *testing.T, o options) *running {
	t.Helper()
	if o.logLevel == "" {
		o.logLevel = "warn"
	}
	if o.uiPort == 0 {
		o.uiPort = -1
	}
	r, err := launchWorker(t, o, 90*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// launchWorker runs the worker with -dev (free ports unless set) and waits up
// to timeout for it to be ready. An error means it exited while starting.
func launchWorker(t *testing.T, o options, timeout time.Duration) (*running, error) {
	t.Helper()
	o.dev = true
	if o.frontendPort == 0 {
		o.frontendPort = freePort(t)
	}
	o.httpPort = freePort(t)
	ready := make(chan *Worker, 1)
	o.ready = ready
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{stop: cancel, done: make(chan error, 1)}
	go func() { r.done <- run(ctx, o, io.Discard) }()
	select {
	case r.Worker = <-ready:
		t.Cleanup(r.shutdown)
		return r, nil
	case err := <-r.done:
		cancel()
		return nil, fmt.Errorf("worker did not start: %w", err)
	case <-time.After(timeout):
		cancel()
		t.Fatalf("worker not ready after %s", timeout)
		return nil, nil
	}
}

func (r *running) shutdown() {
	r.once.Do(func() {
		r.stop()
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
		}
	})
}

func writeConfig(t *testing.T, dir, yaml string) string {
	t.Helper()
	path := filepath.Join(dir, "vigil.yaml")
	yaml = strings.ReplaceAll(yaml, "{{dir}}", dir)
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDevServerRestartKeepsSchedulesAndHistory(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	dir := t.TempDir()
	cfgPath := writeConfig(t, dir, `
dev: {data_dir: "{{dir}}/state"}
models:
  - name: churn
    schedule: {every: 1h}
    source: {uri: "file://{{dir}}/data"}
    reference: {uri: "file://{{dir}}/ref.csv"}
`)
	ctx := context.Background()
	port := freePort(t)
	w := startWorker(t, options{configPath: cfgPath, frontendPort: port, uiPort: freePort(t)})

	resp, err := http.Get(w.Dev.UIURL() + "/")
	if err != nil {
		t.Fatalf("web UI: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("web UI answered %s", resp.Status)
	}
	h, err := http.Get("http://" + w.HTTPAddr + "/readyz")
	if err != nil || h.StatusCode != http.StatusOK {
		t.Fatalf("/readyz: %v %v", err, h)
	}
	h.Body.Close()
	if _, err := w.Client.ScheduleClient().GetHandle(ctx, workflows.ScheduleID("churn")).Describe(ctx); err != nil {
		t.Fatalf("dev mode applies the schedule: %v", err)
	}
	// Leave a workflow in the history, then restart on the same file.
	run, err := (&control.Client{C: w.Client, TaskQueue: "vigil"}).Trigger(ctx, "churn", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	// The SQLite file runs in WAL mode (header bytes 18 and 19 are 2).
	header := make([]byte, 20)
	if f, err := os.Open(filepath.Join(dir, "state", "temporal.db")); err != nil {
		t.Fatal(err)
	} else {
		_, err = io.ReadFull(f, header)
		f.Close()
		if err != nil || header[18] != 2 || header[19] != 2 {
			t.Errorf("temporal.db is not in WAL mode: header bytes 18-19 = %v (err %v)", header[18:20], err)
		}
	}
	stopping := time.Now()
	w.shutdown()
	t.Logf("shutdown took %s", time.Since(stopping).Round(time.Millisecond))

	started := time.Now()
	w2 := startWorker(t, options{configPath: cfgPath, frontendPort: port})
	t.Logf("restart on the same SQLite file took %s", time.Since(started).Round(time.Millisecond))
	if time.Since(started) > 30*time.Second {
		t.Errorf("restart took %s: static membership should make it quick", time.Since(started))
	}
	d, err := w2.Client.ScheduleClient().GetHandle(ctx, workflows.ScheduleID("churn")).Describe(ctx)
	if err != nil {
		t.Fatalf("schedule lost in restart: %v", err)
	}
	if got := d.Schedule.Spec.Intervals[0].Every; got != time.Hour {
		t.Errorf("schedule interval after restart = %s", got)
	}
	if _, err := w2.Client.DescribeWorkflowExecution(ctx, run.GetID(), run.GetRunID()); err != nil {
		t.Errorf("workflow history lost in restart: %v", err)
	}
	ns, err := w2.Client.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	if got := ns.Config.WorkflowExecutionRetentionTtl.AsDuration(); got != 30*24*time.Hour {
		t.Errorf("retention = %s, want the 30-day dev default", got)
	}
}

// Issue 9, "Temporal server restart": the dev server and worker stop and
// start again on the same SQLite file with an incident open (Slack head
// message and page sent) and a retrain in the middle of training. The
// schedule fires again, the incident is the same one with the same refs
// (no second head message or page), the retrain completes exactly once, and
// the incident resolves once the data recovers.
func TestDevServerRestartResumesIncidentsAndRetrains(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts a Temporal server with a retrain in flight (about 40 s)")
	}
	began := time.Now()
	const rule = "accuracy-drop"
	slack := newFakeSlack(t, fakeOptions{Credential: "xoxb-restart", Channel: "C0RESTART1"})
	pd := newFakePagerDuty(t, fakeOptions{Credential: "restart-routing-key"})
	t.Setenv("RESTART_SLACK_TOKEN", "xoxb-restart")
	t.Setenv("RESTART_PD_KEY", "restart-routing-key")
	dir := t.TempDir()
	writeCrashData(t, filepath.Join(dir, "churn")) // accuracy 0.5 in every window
	trainerLog := filepath.Join(dir, "trainer-starts.log")
	trainer := filepath.Join(dir, "train.sh")
	if err := os.WriteFile(trainer, []byte(`#!/bin/sh
echo "$VIGIL_MODEL $VIGIL_RUN_ID $$" >> "`+trainerLog+`"
sleep 3
echo '{"weights": [1]}' > "$VIGIL_OUTPUT_DIR/model.json"
echo '{"accuracy": 0.9}' > "$VIGIL_OUTPUT_DIR/metrics.json"
`), 0o755); err != nil {
		t.Fatal(err)
	}
	cfgPath := writeConfig(t, dir, fmt.Sprintf(`
dev: {data_dir: "{{dir}}/state"}
notify:
  slack: {token_env: RESTART_SLACK_TOKEN, channel: C0RESTART1, api_url: %q}
  pagerduty: {routing_key_env: RESTART_PD_KEY, events_url: %q}
models:
  - name: churn
    task: binary
    schedule: {every: 3s, window: 10m}
    columns: {target: label, prediction: prediction}
    features: [x1, x2]
    source: {uri: "file://{{dir}}/churn/data"}
    reference: {uri: "file://{{dir}}/churn/ref.csv"}
    rules:
      - {name: %s, metric: performance.accuracy, below: 0.8, severity: critical, escalate_after: 1s, retrain: true}
    retrain:
      trainer: command
      command: [%q]
      train_window: 10m
      validation_window: 1m
      min_improvement: 0
      # Bounds how long the training attempt lost in the restart blocks the retry.
      timeout: 8s
`, slack.apiURL(), pd.srv.URL, rule, trainer))
	ctx := context.Background()
	port := freePort(t)
	w := startWorker(t, options{configPath: cfgPath, frontendPort: port})
	wc := &control.Client{C: w.Client, TaskQueue: "vigil"}
	if _, err := wc.Trigger(ctx, "churn", time.Time{}); err != nil {
		t.Fatal(err)
	}
	incident := func(wc *control.Client) (*workflows.RuleState, error) {
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		st, err := wc.Incidents(qctx, "churn")
		if err != nil || st == nil || st.Rules[rule] == nil {
			return nil, err
		}
		return st.Rules[rule], nil
	}
	var before activities.Incident
	waitFor(t, 40*time.Second, "an incident told to Slack and paged", func() (bool, error) {
		rs, err := incident(wc)
		if rs == nil || rs.Open == nil || len(rs.Open.Notified) < 2 {
			return false, err
		}
		before = *rs.Open
		return true, nil
	})
	waitFor(t, 30*time.Second, "the retrain to be training", func() (bool, error) {
		if len(trainerStarts(t, trainerLog)["churn"]) == 0 {
			return false, nil
		}
		qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		v, err := w.Client.QueryWorkflow(qctx, workflows.RetrainWorkflowID("churn"), "", workflows.QueryState)
		var st workflows.RetrainState
		return err == nil && v.Get(&st) == nil && st.Step == "training", err
	})

	stopping := time.Now()
	w.shutdown()
	stopped := time.Now()
	w = startWorker(t, options{configPath: cfgPath, frontendPort: port})
	restarted := time.Now()
	wc = &control.Client{C: w.Client, TaskQueue: "vigil"}

	// The schedule fires again. An evaluation whose Analyze was running at
	// the stop (the schedule fires every 3 s) holds the next ones back
	// (overlap: skip) until its lost attempt times out: Analyze's heartbeat
	// timeout is a minute, and its retry waits 5 s.
	var fired time.Duration
	waitFor(t, 90*time.Second, "the schedule to fire after the restart", func() (bool, error) {
		d, err := w.Client.ScheduleClient().GetHandle(ctx, workflows.ScheduleID("churn")).Describe(ctx)
		if err != nil {
			return false, err
		}
		for _, a := range d.Info.RecentActions {
			if a.ActualTime.After(restarted) {
				fired = a.ActualTime.Sub(restarted)
				return true, nil
			}
		}
		return false, nil
	})
	// The incident is the same one, with the same references.
	rs, err := incident(wc)
	if err != nil || rs == nil || rs.Open == nil {
		t.Fatalf("incident after the restart: %+v (err %v), want still open", rs, err)
	}
	if after := rs.Open; after.ID != before.ID || !maps.Equal(after.Refs, before.Refs) || !slices.Equal(after.Notified, before.Notified) {
		t.Errorf("incident after the restart: %s refs %v notified %v; before: %s refs %v notified %v",
			after.ID, after.Refs, after.Notified, before.ID, before.Refs, before.Notified)
	}
	// The retrain completes, once.
	waitFor(t, 60*time.Second, "the retrain to complete", func() (bool, error) {
		d, err := w.Client.DescribeWorkflowExecution(ctx, workflows.RetrainWorkflowID("churn"), "")
		if err != nil {
			return false, err
		}
		if st := d.WorkflowExecutionInfo.Status; st != enums.WORKFLOW_EXECUTION_STATUS_RUNNING && st != enums.WORKFLOW_EXECUTION_STATUS_COMPLETED {
			t.Fatalf("retrain closed as %s:\n%s", st, failures(ctx, w.Client, workflows.RetrainWorkflowID("churn")))
		}
		return d.WorkflowExecutionInfo.Status == enums.WORKFLOW_EXECUTION_STATUS_COMPLETED, nil
	})
	retrained := time.Since(restarted)
	var res workflows.RetrainResult
	if err := w.Client.GetWorkflow(ctx, workflows.RetrainWorkflowID("churn"), "").Get(ctx, &res); err != nil || res.Outcome != workflows.OutcomePromoted {
		t.Fatalf("retrain: %+v (err %v), want promoted", res, err)
	}
	if n, err := countWorkflows(ctx, w.Worker, `WorkflowType = "RetrainWorkflow"`); err != nil || n != 1 {
		t.Errorf("%d RetrainWorkflows (err %v), want 1", n, err)
	}
	blobs, err := w.Store.Blobs(ctx, w.Config.Storage.Registry)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := registry.New(blobs).Model(ctx, "churn")
	if err != nil {
		t.Fatal(err)
	}
	promotions := 0
	for _, mv := range doc.History {
		if mv.Alias == registry.AliasProduction {
			promotions++
		}
	}
	if len(doc.Versions) != 1 || promotions != 1 {
		t.Errorf("registry: %d versions, %d production moves, want 1 and 1", len(doc.Versions), promotions)
	}
	starts := trainerStarts(t, trainerLog)["churn"]
	if len(starts) < 1 || len(starts) > 2 || slices.Compact(slices.Clone(starts))[0] != starts[len(starts)-1] {
		t.Errorf("trainer started for runs %v, want one run, started at most twice (once more after the restart)", starts)
	}

	// The data recovers: the incident resolves where it was sent.
	writeAccurateData(t, filepath.Join(dir, "churn"))
	waitFor(t, 30*time.Second, "the incident to resolve", func() (bool, error) {
		rs, err := incident(wc)
		return rs != nil && rs.Open == nil && rs.Resolved == 1, err
	})
	waitFor(t, 10*time.Second, "the resolution to reach Slack and PagerDuty", func() (bool, error) {
		return slices.Contains(pd.actions(), "resolve") && len(slackUpdates(slack)) >= 1, nil
	})
	if n := slack.heads(""); n != 1 {
		t.Errorf("Slack got %d head messages, want 1", n)
	}
	for _, u := range slackUpdates(slack) {
		if "C0RESTART1:"+u.TS != before.Refs["slack"] {
			t.Errorf("chat.update of %s, want the head %s", u.TS, before.Refs["slack"])
		}
	}
	if got := pd.actions(); !slices.Equal(got, []string{"trigger", "resolve"}) {
		t.Errorf("PagerDuty events %v, want trigger, resolve", got)
	}
	summary := fmt.Sprintf("server restart: stopped in %s, ready again in %s; schedule fired %s after; incident %s kept (1 Slack head, 1 page); "+
		"retrain completed %s after the restart (trainer started %d times, 1 version, 1 promotion); resolved after recovery; took %s",
		stopped.Sub(stopping).Round(10*time.Millisecond), restarted.Sub(stopped).Round(10*time.Millisecond), fired.Round(100*time.Millisecond),
		before.ID, retrained.Round(100*time.Millisecond), len(starts), time.Since(began).Round(time.Second))
	t.Log(summary)
	fmt.Fprintln(os.Stderr, summary)
}

// writeAccurateData rewrites writeCrashData's partitions with predictions
// that match the labels: accuracy 1.
func writeAccurateData(t *testing.T, dir string) {
	t.Helper()
	now := time.Now().UTC()
	for h := -1; h <= 1; h++ {
		p := filepath.Join(dir, "data", now.Add(time.Duration(h)*time.Hour).Format("2006/01/02/15"))
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for i := range 120 {
			n := (h+1)*1000 + i
			fmt.Fprintf(&b, `{"event_id":"e%d","x1":%d,"x2":%g,"label":%d,"prediction":%d}`+"\n", n, n%7, float64(n%11)/10, n%2, n%2)
		}
		if err := os.WriteFile(filepath.Join(p, "part-0.jsonl"), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestApplyIsIdempotentAndFollowsTheConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	dir := t.TempDir()
	yaml := `
dev: {data_dir: "{{dir}}/state"}
models:
  - {name: a, schedule: {every: 10m}, source: {uri: "file://{{dir}}/a"}, reference: {uri: "file://{{dir}}/a.csv"}}
  - {name: b, schedule: {every: 5m}, source: {uri: "file://{{dir}}/b"}, reference: {uri: "file://{{dir}}/b.csv"}}
`
	w := startWorker(t, options{configPath: writeConfig(t, dir, yaml)})
	ctx := context.Background()
	cfg := w.Config

	changes, err := control.ApplySchedules(ctx, w.Client, nil, cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range changes {
		if c.Action != "unchanged" {
			t.Errorf("second apply changed %s: %s", c.ID, c.Action)
		}
	}

	changed, err := config.Parse("v.yaml", []byte(strings.NewReplacer("{{dir}}", dir, "every: 10m", "every: 2m, jitter: 30s").Replace(yaml)+"    \n"), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	changed.Models = changed.Models[:1] // b removed from the config
	changes, err = control.ApplySchedules(ctx, w.Client, nil, changed, true)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range changes {
		got[c.Model] = c.Action
	}
	if got["a"] != "updated" || got["b"] != "deleted" {
		t.Errorf("apply after edit = %v, want a updated and b deleted", got)
	}
	d, err := w.Client.ScheduleClient().GetHandle(ctx, workflows.ScheduleID("a")).Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if every, jitter := d.Schedule.Spec.Intervals[0].Every, d.Schedule.Spec.Jitter; every != 2*time.Minute || jitter != 30*time.Second {
		t.Errorf("cadence after update = %s with jitter %s, want 2m with 30s", every, jitter)
	}
	// Each run is bounded (two cadences, at least 35m), so a stuck one
	// cannot skip windows for hours.
	if act, ok := d.Schedule.Action.(*client.ScheduleWorkflowAction); !ok || act.WorkflowRunTimeout != 35*time.Minute {
		t.Errorf("scheduled action %+v, want a run timeout of 35m", d.Schedule.Action)
	}
	again, err := control.ApplySchedules(ctx, w.Client, nil, changed, true)
	if err != nil || len(again) != 1 || again[0].Action != "unchanged" {
		t.Errorf("apply of the same edit again = %+v, %v; want a unchanged", again, err)
	}
	if _, err := w.Client.ScheduleClient().GetHandle(ctx, workflows.ScheduleID("b")).Describe(ctx); err == nil {
		t.Error("pruned schedule still exists")
	}
	// Exactly one schedule per remaining model.
	iter, err := w.Client.ScheduleClient().List(ctx, client.ScheduleListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for iter.HasNext() {
		if _, err := iter.Next(); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 1 {
		t.Errorf("%d schedules, want 1", n)
	}
}

// sendTraffic writes one prediction record into the model's current hour
// under dir/data and evaluates the model now: a rows.current rule recovers.
func sendTraffic(t *testing.T, ctx context.Context, wc *control.Client, dir, model string) {
	t.Helper()
	now := time.Now().UTC()
	part := filepath.Join(dir, "data", now.Format("2006/01/02/15"))
	if err := os.MkdirAll(part, 0o755); err != nil {
		t.Fatal(err)
	}
	rec := fmt.Sprintf(`{"event_id":"e1","time":%q,"x":2,"prediction":1}`+"\n", now.Add(-time.Second).Format(time.RFC3339Nano))
	if err := os.WriteFile(filepath.Join(part, "a.jsonl"), []byte(rec), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := wc.Trigger(ctx, model, now); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s (last error: %v)", timeout, what, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func countWorkflows(ctx context.Context, w *Worker, query string) (int, error) {
	resp, err := w.Client.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: query})
	if err != nil {
		return 0, err
	}
	return int(resp.Count), nil
}

func listRequest(query string) *workflowservice.ListWorkflowExecutionsRequest {
	return &workflowservice.ListWorkflowExecutionsRequest{Query: query}
}
