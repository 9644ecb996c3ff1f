package main

// These tests run the whole worker against a real Temporal server embedded
// in the test process (SQLite in a temp dir): schedules, workflows,
// activities, the store, the analysis engine, the registry and the trainer
// all run for real. They are the only tests that link the Temporal server.

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/train/demo"
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

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
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
	run, err := (&workflows.Client{C: w.Client, TaskQueue: "vigil"}).Trigger(ctx, "churn", time.Time{})
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

	changes, err := workflows.ApplySchedules(ctx, w.Client, nil, cfg, false)
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
	changes, err = workflows.ApplySchedules(ctx, w.Client, nil, changed, true)
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
	again, err := workflows.ApplySchedules(ctx, w.Client, nil, changed, true)
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
