package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigilml/vigil/workflows"
)

// What a restarted `worker -dev` does about the ticks it missed, as the
// README's tour says: Temporal's scheduler buffers every missed tick within
// the model's catchup_window, and with Vigil's overlap policy (skip) it
// starts only the oldest of them; the others are skipped as overlapping.
// The regular cadence then resumes. Windows between the oldest missed tick
// and the first tick after the restart are not evaluated (backfill them
// with `starter backfill` if they matter).
func TestRestartCatchesUpTheOldestMissedTick(t *testing.T) {
	if testing.Short() {
		t.Skip("stops a Temporal server for 25 s and restarts it")
	}
	const every = 5 * time.Second
	dir := t.TempDir()
	cfgPath := writeConfig(t, dir, `
dev: {data_dir: "{{dir}}/state"}
models:
  - name: churn
    schedule: {every: 5s, catchup_window: 1h}
    source: {uri: "file://{{dir}}/data"}
    reference: {uri: "file://{{dir}}/ref.csv"}
`)
	// A reference and no traffic: each run ends quickly with status no-data.
	if err := os.WriteFile(filepath.Join(dir, "ref.csv"), []byte("x,prediction\n1,1\n2,0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	port := freePort(t)
	w := startWorker(t, options{configPath: cfgPath, frontendPort: port})
	waitFor(t, 30*time.Second, "a first scheduled run", func() (bool, error) {
		n, err := countWorkflows(ctx, w.Worker, `WorkflowType = "MonitorWorkflow"`)
		return n >= 1, err
	})
	// Stop between ticks with no run open: a run left open by the stop
	// would finish after the restart and make every missed tick overlap
	// (the README says so too), which is not what this test measures.
	// Interval schedules tick on multiples of every since the epoch.
	waitFor(t, 30*time.Second, "a moment between ticks with no run open", func() (bool, error) {
		now := time.Now()
		if off := now.Sub(now.Truncate(every)); off < time.Second || off > 2500*time.Millisecond {
			return false, nil
		}
		n, err := countWorkflows(ctx, w.Worker, `WorkflowType = "MonitorWorkflow" AND ExecutionStatus = "Running"`)
		return n == 0, err
	})
	w.shutdown()
	stopped := time.Now()
	time.Sleep(25 * time.Second)
	w = startWorker(t, options{configPath: cfgPath, frontendPort: port})
	restarted := time.Now()
	missed := int(restarted.Sub(stopped) / every)

	// Wait for two regular ticks after the restart.
	time.Sleep(2*every + 2*time.Second)
	d, err := w.Client.ScheduleClient().GetHandle(ctx, workflows.ScheduleID("churn")).Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var after []time.Time // scheduled (nominal) times of the runs started since the restart
	for _, a := range d.Info.RecentActions {
		if a.ActualTime.After(restarted.Add(-time.Second)) {
			after = append(after, a.ScheduleTime)
		}
	}
	slices.SortFunc(after, func(a, b time.Time) int { return a.Compare(b) })
	var desc []string
	for _, s := range after {
		desc = append(desc, s.Sub(stopped).Round(time.Second).String())
	}
	summary := fmt.Sprintf("restart after %s down (%d ticks missed): runs since the restart at nominal times %s after the stop; skipped as overlapping: %d, missed catchup window: %d",
		restarted.Sub(stopped).Round(time.Second), missed, strings.Join(desc, ", "), d.Info.NumActionsSkippedOverlap, d.Info.NumActionsMissedCatchupWindow)
	t.Log(summary)
	fmt.Fprintln(os.Stderr, summary)
	if len(after) < 2 {
		t.Fatalf("want a catch-up run and regular runs after the restart, got %d runs", len(after))
	}
	if first := after[0]; first.After(stopped.Add(every + time.Second)) {
		t.Errorf("first run after the restart is for %s after the stop, want the oldest missed tick (within %s)", first.Sub(stopped), every)
	}
	if second := after[1]; second.Before(restarted.Add(-time.Second)) {
		t.Errorf("a second missed tick (%s after the stop) was also made up; want only the oldest", second.Sub(stopped))
	}
	if d.Info.NumActionsSkippedOverlap < missed-2 {
		t.Errorf("%d runs skipped as overlapping, want about %d (every missed tick but the oldest)", d.Info.NumActionsSkippedOverlap, missed-1)
	}
}
