package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/vigilml/vigil/control"
	"github.com/vigilml/vigil/workflows"
)

// Two builds of the worker in one deployment, on one dev server, upgraded
// as README's "Upgrading workers" says: build A makes itself current
// (set_current), build B starts beside it and gets nothing until promoted
// with the temporal CLI. What A started and pins stays on A after B becomes
// current, new runs go to B, and the incident workflow (auto-upgrade) moves
// to B.
func TestWorkerVersioningPinsRunsAndUpgradesIncidents(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two worker builds against a Temporal server (about 5 s)")
	}
	cli := temporalCLI(t)
	port := freePort(t)
	f := newHeldRetrain(t, port)
	cfgPath := f.config(t, "vigil.yaml", "{name: vigil-test, set_current: true}")
	trainerLog, release := f.trainerLog, f.release
	ctx := context.Background()

	a := startWorker(t, options{configPath: cfgPath, frontendPort: port, buildID: "build-a"})
	c := a.Client
	wc := &control.Client{C: c, TaskQueue: "vigil"}
	first, err := wc.Trigger(ctx, "churn", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Get(ctx, nil); err != nil {
		t.Fatalf("first monitor run: %v", err)
	}
	waitFor(t, 30*time.Second, "build A's retrain to be training", func() (bool, error) {
		return len(trainerStarts(t, trainerLog)["churn"]) > 0, nil
	})

	// Build B, same config but without set_current.
	cfgB := f.config(t, "vigil-b.yaml", "{name: vigil-test}")
	b := startVersionedWorker(t, options{configPath: cfgB, buildID: "build-b"})
	if b.BuildID != "build-b" {
		t.Fatalf("worker B's build ID %q", b.BuildID)
	}
	beside, err := wc.Trigger(ctx, "churn", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if err := beside.Get(ctx, nil); err != nil {
		t.Fatalf("monitor run started while B was not current: %v", err)
	}
	if out, err := exec.Command(cli, "worker", "deployment", "set-current-version", "--deployment-name", "vigil-test",
		"--build-id", "build-b", "--yes", "--address", a.Config.Temporal.Address).CombinedOutput(); err != nil {
		t.Fatalf("promote build B with the temporal CLI: %v\n%s", err, out)
	}
	promoted := time.Now()
	second, err := wc.Trigger(ctx, "churn", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if err := second.Get(ctx, nil); err != nil {
		t.Fatalf("second monitor run: %v", err)
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	retrain := c.GetWorkflow(ctx, workflows.RetrainWorkflowID("churn"), "")
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var rerr error
	if err := retrain.Get(rctx, nil); errors.Is(err, context.DeadlineExceeded) {
		t.Fatal("the retrain started on build A did not finish after build B became current")
	} else {
		rerr = err // its outcome is the lifecycle's business; where it ran is ours
	}

	incidentOnB := func() (bool, error) {
		return slices.Contains(taskBuilds(t, c, workflows.IncidentWorkflowID("churn"), time.Time{}), "build-b"), nil
	}
	waitFor(t, 20*time.Second, "the incident workflow to run a task on build B", incidentOnB)
	for _, tc := range []struct {
		what, id, runID string
		since           time.Time
		want            string
	}{
		{"monitor run started before the upgrade", workflows.MonitorWorkflowID("churn"), first.GetRunID(), time.Time{}, "build-a"},
		{"monitor run started while B polled, not yet current", workflows.MonitorWorkflowID("churn"), beside.GetRunID(), time.Time{}, "build-a"},
		{"retrain tasks after the upgrade (pinned)", workflows.RetrainWorkflowID("churn"), retrain.GetRunID(), promoted, "build-a"},
		{"monitor run started after the upgrade", workflows.MonitorWorkflowID("churn"), second.GetRunID(), time.Time{}, "build-b"},
	} {
		builds := taskBuilds(t, c, tc.id, tc.since, tc.runID)
		if len(builds) == 0 {
			t.Errorf("%s: no workflow task completed (retrain: %v)", tc.what, rerr)
			continue
		}
		for _, got := range builds {
			if got != tc.want {
				t.Errorf("%s: workflow tasks ran on %v, want all on %s", tc.what, builds, tc.want)
				break
			}
		}
	}
	// The incident workflow's tasks: build A's, then, from its first task
	// after the upgrade on, build B's only.
	if builds := taskBuilds(t, c, workflows.IncidentWorkflowID("churn"), time.Time{}); !slices.Equal(slices.Compact(builds), []string{"build-a", "build-b"}) {
		t.Errorf("incident workflow tasks ran on %v, want build-a's then build-b's", builds)
	}
}

// Turning versioning on under running unversioned workers: runs they
// started have no build to be pinned to and move to the current build at
// their next task, so that first versioned build must replay them.
func TestWorkerVersioningTurnedOnMovesUnversionedRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an unversioned and a versioned worker against a Temporal server (about 5 s)")
	}
	port := freePort(t)
	f := newHeldRetrain(t, port)
	ctx := context.Background()
	a := startWorker(t, options{configPath: f.config(t, "vigil.yaml", ""), frontendPort: port})
	c := a.Client
	wc := &control.Client{C: c, TaskQueue: "vigil"}
	first, err := wc.Trigger(ctx, "churn", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Get(ctx, nil); err != nil {
		t.Fatalf("unversioned monitor run: %v", err)
	}
	waitFor(t, 30*time.Second, "the unversioned retrain to be training", func() (bool, error) {
		return len(trainerStarts(t, f.trainerLog)["churn"]) > 0, nil
	})
	startVersionedWorker(t, options{configPath: f.config(t, "vigil-b.yaml", "{name: vigil-test, set_current: true}"), buildID: "build-b"})
	promoted := time.Now()
	second, err := wc.Trigger(ctx, "churn", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if err := second.Get(ctx, nil); err != nil {
		t.Fatalf("monitor run after versioning was turned on: %v", err)
	}
	if err := os.WriteFile(f.release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	retrain := c.GetWorkflow(ctx, workflows.RetrainWorkflowID("churn"), "")
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := retrain.Get(rctx, nil); errors.Is(err, context.DeadlineExceeded) {
		t.Fatal("the unversioned retrain did not finish after versioning was turned on")
	}
	// "" is an unversioned worker.
	for _, tc := range []struct {
		what, id, runID string
		since           time.Time
		want            []string // the builds tasks ran on, in order
	}{
		{"monitor run before", workflows.MonitorWorkflowID("churn"), first.GetRunID(), time.Time{}, []string{""}},
		{"monitor run after", workflows.MonitorWorkflowID("churn"), second.GetRunID(), time.Time{}, []string{"build-b"}},
		{"retrain started before", workflows.RetrainWorkflowID("churn"), retrain.GetRunID(), time.Time{}, []string{"", "build-b"}},
		{"its tasks after", workflows.RetrainWorkflowID("churn"), retrain.GetRunID(), promoted, []string{"build-b"}},
		{"incident workflow", workflows.IncidentWorkflowID("churn"), "", time.Time{}, []string{"", "build-b"}},
	} {
		if builds := taskBuilds(t, c, tc.id, tc.since, tc.runID); !slices.Equal(slices.Compact(builds), tc.want) {
			t.Errorf("%s: workflow tasks ran on %q, want on %q in that order", tc.what, builds, tc.want)
		}
	}
}

// heldRetrain is a model whose every window breaches a rule that retrains,
// with a trainer that holds the retrain open until release exists.
type heldRetrain struct {
	dir, trainer, trainerLog, release string
	port                              int
}

func newHeldRetrain(t *testing.T, port int) *heldRetrain {
	t.Helper()
	dir := t.TempDir()
	f := &heldRetrain{dir: dir, port: port, trainer: filepath.Join(dir, "train.sh"),
		trainerLog: filepath.Join(dir, "trainer-starts.log"), release: filepath.Join(dir, "release")}
	writeCrashData(t, filepath.Join(dir, "churn")) // accuracy 0.5: a breach that retrains
	if err := os.WriteFile(f.trainer, []byte(`#!/bin/sh
echo "$VIGIL_MODEL $VIGIL_RUN_ID $$" >> "`+f.trainerLog+`"
while [ ! -f "`+f.release+`" ]; do sleep 0.1; done
echo '{"weights": [1]}' > "$VIGIL_OUTPUT_DIR/model.json"
echo '{"accuracy": 0.9}' > "$VIGIL_OUTPUT_DIR/metrics.json"
`), 0o755); err != nil {
		t.Fatal(err)
	}
	return f
}

// config writes a config named file with temporal.deployment (YAML; ""
// leaves it out) and returns its path.
func (f *heldRetrain) config(t *testing.T, file, deployment string) string {
	t.Helper()
	dep := ""
	if deployment != "" {
		dep = "  deployment: " + deployment + "\n"
	}
	path := filepath.Join(f.dir, file)
	yaml := strings.ReplaceAll(fmt.Sprintf(`
temporal:
  address: 127.0.0.1:%d
%sdev: {data_dir: "{{dir}}/state"}
models:
  - name: churn
    task: binary
    schedule: {every: 1h, window: 10m}
    columns: {target: label, prediction: prediction}
    features: [x1, x2]
    source: {uri: "file://{{dir}}/churn/data"}
    reference: {uri: "file://{{dir}}/churn/ref.csv"}
    rules:
      - {name: accuracy-drop, metric: performance.accuracy, below: 0.8, severity: critical, retrain: true}
    retrain:
      trainer: command
      command: [%q]
      train_window: 10m
      validation_window: 1m
      min_improvement: 0
      timeout: 2m
`, f.port, dep, f.trainer), "{{dir}}", f.dir)
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// taskBuilds lists the build ID of every workflow task a run completed at or
// after since (the latest run when runID is omitted).
func taskBuilds(t *testing.T, c client.Client, id string, since time.Time, runID ...string) []string {
	t.Helper()
	run := ""
	if len(runID) > 0 {
		run = runID[0]
	}
	it := c.GetWorkflowHistory(context.Background(), id, run, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var builds []string
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", id, err)
		}
		if at := ev.GetWorkflowTaskCompletedEventAttributes(); at != nil && !ev.GetEventTime().AsTime().Before(since) {
			builds = append(builds, at.GetDeploymentVersion().GetBuildId())
		}
	}
	return builds
}

// startVersionedWorker runs a second worker, without -dev, against the
// server of the config's temporal.address.
func startVersionedWorker(t *testing.T, o options) *running {
	t.Helper()
	o.logLevel, o.uiPort, o.httpPort = "warn", -1, freePort(t)
	ready := make(chan *Worker, 1)
	o.ready = ready
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{stop: cancel, done: make(chan error, 1)}
	go func() { r.done <- run(ctx, o, io.Discard) }()
	select {
	case r.Worker = <-ready:
		t.Cleanup(r.shutdown)
		return r
	case err := <-r.done:
		cancel()
		t.Fatalf("worker did not start: %v", err)
	case <-time.After(90 * time.Second):
		cancel()
		t.Fatal("worker not ready after 90s")
	}
	return nil
}

func TestBuildIDComesFromTheBinaryUnlessGiven(t *testing.T) {
	stamped := func(settings ...string) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) {
			bi := &debug.BuildInfo{}
			for i := 0; i+1 < len(settings); i += 2 {
				bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
			}
			return bi, true
		}
	}
	const rev = "516d4e1c0ffee"
	for _, tc := range []struct {
		name, explicit string
		info           func() (*debug.BuildInfo, bool)
		want, err      string
	}{
		{name: "the VCS revision of a clean checkout", info: stamped("vcs.revision", rev, "vcs.modified", "false"), want: rev},
		{name: "-build-id or VIGIL_BUILD_ID wins", explicit: "v1.4.2", info: stamped("vcs.revision", rev), want: "v1.4.2"},
		{name: "and names a modified build", explicit: "v1.4.2-rc", info: stamped("vcs.revision", rev, "vcs.modified", "true"), want: "v1.4.2-rc"},
		{name: "a modified checkout is refused", info: stamped("vcs.revision", rev, "vcs.modified", "true"),
			err: "built from a modified checkout of " + rev},
		{name: "go run stamps no revision", info: stamped(), err: "has no VCS revision"},
		{name: "no build info", info: func() (*debug.BuildInfo, bool) { return nil, false }, err: "has no build info"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := buildID(tc.explicit, tc.info)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "VIGIL_BUILD_ID") {
					t.Fatalf("buildID = %q, %v; want an error with %q that names VIGIL_BUILD_ID", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("buildID = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
