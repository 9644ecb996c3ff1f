package workflows

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/vigilml/vigil/activities"
)

// Histories recorded from real runs (the worker's integration tests with
// VIGIL_RECORD_REPLAY=$PWD/workflows/testdata/replay) must replay without
// non-determinism against the current code. A change that alters the
// sequence of commands of a running workflow fails here; version it with
// workflow.GetVersion (see the README's "Changing workflows").
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob("testdata/replay/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no recorded histories in testdata/replay")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflow(MonitorWorkflow)
			r.RegisterWorkflow(IncidentWorkflow)
			r.RegisterWorkflow(RetrainWorkflow)
			r.RegisterWorkflow(RollbackWorkflow)
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, f); err != nil {
				t.Fatalf("replay %s: %v", f, err)
			}
		})
	}
}

// A replay test that cannot fail proves nothing: changing a workflow's
// commands must break replay of its old history.
func TestReplayDetectsNonDeterminism(t *testing.T) {
	path := "testdata/replay/monitor-breach.json"
	if _, err := os.Stat(path); err != nil {
		t.Skip("no monitor history recorded")
	}
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(changedMonitor, workflow.RegisterOptions{Name: "MonitorWorkflow"})
	if err := r.ReplayWorkflowHistoryFromJSONFile(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)), path); err == nil {
		t.Fatal("replaying a monitor history with changed workflow code succeeded")
	}
}

// changedMonitor is MonitorWorkflow with a step inserted after LoadModel,
// the kind of edit that breaks running workflows.
func changedMonitor(ctx workflow.Context, in MonitorInput) (*MonitorResult, error) {
	ctx = workflow.WithActivityOptions(ctx, activityOptions(30*time.Second, 5))
	var spec activities.ModelSpec
	if err := workflow.ExecuteActivity(ctx, a.LoadModel, activities.LoadModelInput{Model: in.Model}).Get(ctx, &spec); err != nil {
		return nil, err
	}
	if err := workflow.Sleep(ctx, time.Second); err != nil {
		return nil, err
	}
	return &MonitorResult{}, nil
}

// monitor-sharded.json is the history of the sharded branch of
// ChangeShardedAnalysis (worker TestShardedEvaluationOnTheDevServer), a
// success, which asks no ChangeDropFailedShards; monitor-sharded-failed.json
// (worker TestFailedShardedEvaluationOnTheDevServer) is a failed one, with
// that change's marker and DropShards. A re-recording that lost them would
// leave a branch without a replay test.
func TestShardedHistoryCoversShards(t *testing.T) {
	for _, tc := range []struct {
		file        string
		want, never []string
	}{
		{"monitor-sharded.json", []string{`"name":"ProfileShard"`, `"name":"MergeShards"`, `"name":"vigil-shards"`, "EVENT_TYPE_MARKER_RECORDED"},
			[]string{ChangeDropFailedShards}},
		{"monitor-sharded-failed.json", []string{`"name":"ProfileShard"`, `"name":"DropShards"`, "EVENT_TYPE_WORKFLOW_EXECUTION_FAILED"},
			[]string{`"name":"MergeShards"`}},
	} {
		body, err := os.ReadFile(filepath.Join("testdata/replay", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		compact := strings.Join(strings.Fields(string(body)), "")
		for _, want := range tc.want {
			if !strings.Contains(compact, want) {
				t.Errorf("%s has no %s", tc.file, want)
			}
		}
		for _, never := range tc.never {
			if strings.Contains(compact, never) {
				t.Errorf("%s has %s", tc.file, never)
			}
		}
	}
	if markers := changeMarkers(t, "monitor-sharded-failed.json"); markers[ChangeDropFailedShards] != 1 {
		t.Errorf("monitor-sharded-failed.json records markers %v, want one of %s", markers, ChangeDropFailedShards)
	}
}

// changeMarkers counts the version markers of a recorded history by change.
func changeMarkers(t *testing.T, file string) map[string]int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata/replay", file))
	if err != nil {
		t.Fatal(err)
	}
	h, err := client.HistoryFromJSON(bytes.NewReader(data), client.HistoryJSONOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, e := range h.Events {
		if m := e.GetMarkerRecordedEventAttributes(); m != nil {
			for _, p := range m.GetDetails()["change-id"].GetPayloads() {
				var id string
				if err := json.Unmarshal(p.GetData(), &id); err == nil {
					out[id]++
				}
			}
		}
	}
	return out
}

// The rollout histories exercise the rollout branch (the change's marker,
// staging, evaluations and their record), and the direct one does not: so
// replaying them covers both sides of the `rollout` change.
func TestReplayHistoriesCoverBothRolloutBranches(t *testing.T) {
	for _, tc := range []struct {
		file    string
		rollout bool
	}{
		{"retrain-shadow-promoted.json", true},
		{"retrain-shadow-rejected.json", true},
		{"retrain-promoted.json", false},
	} {
		data, err := os.ReadFile(filepath.Join("testdata/replay", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		h, err := client.HistoryFromJSON(bytes.NewReader(data), client.HistoryJSONOptions{})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		for _, e := range h.Events {
			if a := e.GetActivityTaskScheduledEventAttributes(); a != nil {
				seen[a.GetActivityType().GetName()]++
			}
			if m := e.GetMarkerRecordedEventAttributes(); m != nil && strings.Contains(string(m.GetDetails()["change-id"].GetPayloads()[0].GetData()), changeRollout) {
				seen["marker"]++
			}
		}
		got := seen["marker"] == 1 && seen["StageRollout"] == 2 && seen["EvaluateRollout"] >= 1 && seen["RecordRollout"] >= 3
		if got != tc.rollout || (!tc.rollout && seen["StageRollout"]+seen["marker"] > 0) {
			t.Errorf("%s: %v; rollout branch %v, want %v", tc.file, seen, got, tc.rollout)
		}
	}
}
