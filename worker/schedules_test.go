package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/control"
	"github.com/vigilml/vigil/internal/devserver"
	"github.com/vigilml/vigil/internal/metrics"
	"github.com/vigilml/vigil/workflows"
)

// Against a real server, with evaluations that never finish (no worker polls
// their task queue): under the SKIP overlap policy an unbounded run holds
// its schedule's every later window, while a run bounded by
// schedule.run_timeout times out and the schedule goes on. Either way the
// skipped windows are what the server counts, and the worker exports them.
func TestStuckEvaluationIsBoundedAndSkippedWindowsCounted(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal dev server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := devserver.Start(ctx, devserver.Options{
		DBFile: filepath.Join(t.TempDir(), "temporal.db"), UIPort: -1, Namespace: "default",
		Retention: 24 * time.Hour, SearchAttributes: workflows.SearchAttributes(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	c, err := client.Dial(client.Options{HostPort: srv.Address(), Namespace: "default", Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	sc := c.ScheduleClient()
	model := func(name string, runTimeout time.Duration) *config.Model {
		return &config.Model{Name: name, Schedule: config.Schedule{Every: config.Duration(time.Second),
			CatchupWindow: config.Duration(time.Minute), RunTimeout: config.Duration(runTimeout)}}
	}
	for _, m := range []*config.Model{model("bounded", 3*time.Second), model("unbounded", 0)} {
		if _, err := sc.Create(ctx, control.ScheduleOptions(m, "nobody-polls")); err != nil {
			t.Fatalf("create schedule of %s: %v", m.Name, err)
		}
	}
	if got := control.MonitorRunTimeout(model("unbounded", 0)); got != 35*time.Minute {
		t.Errorf("default run timeout at every: 1s = %s, want 35m", got)
	}
	time.Sleep(10 * time.Second)

	info := func(name string) client.ScheduleInfo {
		d, err := sc.GetHandle(ctx, workflows.ScheduleID(name)).Describe(ctx)
		if err != nil {
			t.Fatalf("describe schedule of %s: %v", name, err)
		}
		return d.Info
	}
	bounded, unbounded := info("bounded"), info("unbounded")
	t.Logf("after 10 s: bounded %d runs, %d skipped; unbounded %d runs, %d skipped",
		bounded.NumActions, bounded.NumActionsSkippedOverlap, unbounded.NumActions, unbounded.NumActionsSkippedOverlap)
	if unbounded.NumActions != 1 || unbounded.NumActionsSkippedOverlap < 5 {
		t.Errorf("unbounded: %d runs, %d windows skipped; want the first run holding every later window", unbounded.NumActions, unbounded.NumActionsSkippedOverlap)
	}
	if bounded.NumActions < 2 || bounded.NumActionsSkippedOverlap < 2 {
		t.Errorf("bounded: %d runs, %d windows skipped; want runs timing out after 3 s and the schedule going on", bounded.NumActions, bounded.NumActionsSkippedOverlap)
	}
	first := bounded.RecentActions[0].StartWorkflowResult
	d, err := c.DescribeWorkflowExecution(ctx, first.WorkflowID, first.FirstExecutionRunID)
	if err != nil {
		t.Fatal(err)
	}
	if st := d.WorkflowExecutionInfo.Status; st != enums.WORKFLOW_EXECUTION_STATUS_TIMED_OUT {
		t.Errorf("the first bounded run is %s, want timed out", st)
	}

	reg := prometheus.NewRegistry()
	pub := metrics.New(reg, metrics.Options{})
	recordScheduleSkips(ctx, sc, []string{"bounded", "unbounded", "not-applied"}, pub, slog.New(slog.DiscardHandler), map[string]int{})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "vigil_schedule_skipped_windows" {
			continue
		}
		for _, m := range mf.GetMetric() {
			lbl := map[string]string{}
			for _, l := range m.GetLabel() {
				lbl[l.GetName()] = l.GetValue()
			}
			got[lbl["model"]+"/"+lbl["reason"]] = m.GetGauge().GetValue()
		}
	}
	if got["unbounded/overlap"] < float64(unbounded.NumActionsSkippedOverlap) || got["bounded/overlap"] < float64(bounded.NumActionsSkippedOverlap) {
		t.Errorf("vigil_schedule_skipped_windows = %v, want at least what describe said", got)
	}
	if _, ok := got["not-applied/overlap"]; ok {
		t.Errorf("a model without a schedule has skip series: %v", got)
	}
}
