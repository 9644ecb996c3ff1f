package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/vigilml/vigil/workflows"
)

// temporalCLI finds the temporal CLI; CI installs it, so there the test
// fails rather than skips when it is missing.
func temporalCLI(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("temporal"); err == nil {
		return p
	}
	if gopath, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "temporal")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("the temporal CLI is not installed (.ci/run installs github.com/temporalio/cli/cmd/temporal@v1.5.1)")
	}
	t.Skip("temporal CLI not installed: go install github.com/temporalio/cli/cmd/temporal@v1.5.1")
	return ""
}

// The README's "Operating with the temporal CLI" section, run verbatim
// (only the address differs) against a real server.
func TestReadmeTemporalCLICommands(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	cli := temporalCLI(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ref.csv"), []byte("x,label,prediction\n1,1,1\n2,0,0\n3,1,0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgPath := writeConfig(t, dir, `
dev: {data_dir: "{{dir}}/state"}
models:
  - name: churn
    task: binary
    schedule: {every: 1h}
    columns: {target: label, prediction: prediction}
    source: {uri: "file://{{dir}}/data"}
    reference: {uri: "file://{{dir}}/ref.csv"}
    rules:
      # No traffic at all is an incident: it opens on the first evaluation.
      - {name: no-traffic, metric: rows.current, below: 1, severity: critical, escalate_after: 1h}
    retrain: {trainer: command, command: ["false"]}
`)
	w := startWorker(t, options{configPath: cfgPath})
	addr := w.Config.Temporal.Address
	temporal := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(cli, append(args, "--address", addr)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("temporal %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	// Listing goes through visibility, which lags writes by a moment.
	eventually := func(want string, args ...string) {
		t.Helper()
		var out string
		waitFor(t, 20*time.Second, "temporal "+strings.Join(args, " ")+" to show "+want, func() (bool, error) {
			out = temporal(args...)
			return strings.Contains(out, want), nil
		})
	}
	eventually("vigil-monitor-churn", "schedule", "list")
	temporal("schedule", "trigger", "--schedule-id", "vigil-monitor-churn")
	ctx := context.Background()
	wc := &workflows.Client{C: w.Client, TaskQueue: "vigil"}
	waitFor(t, 60*time.Second, "the triggered evaluation to open an incident", func() (bool, error) {
		st, err := wc.Incidents(ctx, "churn")
		return err == nil && st != nil && st.Rules["no-traffic"] != nil && st.Rules["no-traffic"].Open != nil, err
	})

	// The evaluation reached Prometheus: the worker's /metrics has its status.
	waitFor(t, 20*time.Second, "the evaluation's metrics", func() (bool, error) {
		resp, err := http.Get("http://" + w.HTTPAddr + "/metrics")
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return strings.Contains(string(body), `vigil_evaluation_status{model="churn",status="breach"} 1`) &&
			strings.Contains(string(body), `vigil_window_rows{kind="current",model="churn"} 0`) &&
			strings.Contains(string(body), `vigil_incidents_open{model="churn",rule="no-traffic",severity="critical"} 1`), err
	})

	if out := temporal("workflow", "query", "--workflow-id", "vigil-incident-churn", "--type", "state"); !strings.Contains(out, `"no-traffic"`) {
		t.Errorf("state query:\n%s", out)
	}
	out := temporal("workflow", "update", "execute", "--workflow-id", "vigil-incident-churn", "--name", "ack", "--input", `{"Actor":"oncall"}`)
	if !strings.Contains(out, "churn/no-traffic") {
		t.Errorf("ack update result:\n%s", out)
	}
	st, err := wc.Incidents(ctx, "churn")
	if err != nil || st.Rules["no-traffic"].Open.AckedBy != "oncall" {
		t.Errorf("incident not acknowledged by the CLI update: %+v %v", st, err)
	}

	temporal("workflow", "start", "--task-queue", "vigil", "--type", "RetrainWorkflow",
		"--workflow-id", "retrain-churn", "--input", `{"Model":"churn","Reason":"manual"}`)

	// What a second start of a running retrain does. This retrain stays
	// running: no worker polls its task queue.
	held := []string{"workflow", "start", "--task-queue", "vigil-held", "--type", "RetrainWorkflow",
		"--workflow-id", "retrain-held", "--input", `{"Model":"held","Reason":"manual"}`}
	firstRun := runID(t, temporal(append(held, "--output", "json")...))
	for _, tc := range []struct {
		name  string
		flags []string
	}{
		// The Go SDK under the CLI answers "already started" with the
		// running execution, whatever the conflict policy: exit 0, the
		// running run's ID, nothing new starts.
		{"default", nil},
		{"--id-conflict-policy Fail", []string{"--id-conflict-policy", "Fail"}},
	} {
		out, err := exec.Command(cli, append(append(held, tc.flags...), "--output", "json", "--address", addr)...).CombinedOutput()
		if err != nil || runID(t, string(out)) != firstRun {
			t.Errorf("second start, %s: %v, want exit 0 with the running execution %s\n%s", tc.name, err, firstRun, out)
		}
	}
	if runs := countRuns(t, w, "retrain-held"); runs != 1 {
		t.Errorf("%d runs of retrain-held after two more starts, want 1", runs)
	}
	waitFor(t, 60*time.Second, "the retrain to close", func() (bool, error) {
		d, err := w.Client.DescribeWorkflowExecution(ctx, "retrain-churn", "")
		return err == nil && d.WorkflowExecutionInfo.Status != enums.WORKFLOW_EXECUTION_STATUS_RUNNING, err
	})
	eventually("vigil-monitor-churn", "workflow", "list", "--query", `VigilModel="churn" AND VigilStatus="breach"`)
	hist := temporal("workflow", "show", "--workflow-id", "vigil-incident-churn", "--output", "json")
	if !strings.Contains(hist, "WorkflowExecutionUpdateAccepted") && !strings.Contains(hist, "EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED") {
		t.Errorf("history does not show the ack update")
	}

	// With VIGIL_RECORD_REPLAY set, keep these histories for the replay tests.
	if dst := os.Getenv("VIGIL_RECORD_REPLAY"); dst != "" {
		list, err := w.Client.ListWorkflow(ctx, listRequest(`WorkflowType = "MonitorWorkflow"`))
		if err != nil || len(list.Executions) == 0 {
			t.Fatalf("no monitor workflow to record: %v", err)
		}
		record(t, w, dst, "monitor-breach.json", list.Executions[0].Execution.WorkflowId)
		record(t, w, dst, "incident-ack.json", "vigil-incident-churn")
		record(t, w, dst, "retrain-train-fails.json", "retrain-churn")
	}
}

// runID reads the run ID from `temporal workflow start --output json`.
func runID(t *testing.T, out string) string {
	t.Helper()
	var v struct {
		RunID string `json:"runId"`
	}
	if i := strings.Index(out, "{"); i < 0 || json.Unmarshal([]byte(out[i:]), &v) != nil || v.RunID == "" {
		t.Errorf("no run ID in %q", out)
	}
	return v.RunID
}

// countRuns counts the runs of a workflow ID, closed or not.
func countRuns(t *testing.T, w *running, id string) int {
	t.Helper()
	var n int
	waitFor(t, 10*time.Second, "visibility to list "+id, func() (bool, error) {
		list, err := w.Client.ListWorkflow(context.Background(), listRequest(`WorkflowId = "`+id+`"`))
		if err != nil {
			return false, err
		}
		n = len(list.Executions)
		return n > 0, nil
	})
	return n
}

// record writes a workflow's history as `temporal workflow show --output
// json` does, for workflows/testdata/replay.
func record(t *testing.T, w *running, dir, name, workflowID string) {
	t.Helper()
	ctx := context.Background()
	iter := w.Client.GetWorkflowHistory(ctx, workflowID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	h := &history.History{}
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		h.Events = append(h.Events, ev)
	}
	b, err := protojson.MarshalOptions{Indent: "  "}.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %s (%d events)", name, len(h.Events))
}
