package main

// Issue 9, "Worker crash": the worker runs as a separate process against a
// Temporal server embedded in the test process and is killed with SIGKILL in
// the middle of an evaluation, of a notification (Slack head message or
// PagerDuty trigger in flight) and of a training run, then restarted. Every
// workflow must still complete, with one Slack head message and one
// PagerDuty page per incident and one retrain.
//
//	go test -run TestWorkerSurvivesKill9 -v ./worker                          # 3 kills (CI)
//	VIGIL_CRASH_KILLS=20 go test -run TestWorkerSurvivesKill9 -v -timeout 30m ./worker

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/vigilml/vigil/control"
	"github.com/vigilml/vigil/internal/devserver"
	"github.com/vigilml/vigil/workflows"
)

// Kill phases, in the order a model's incident goes through them.
const (
	phaseEvaluation = "evaluation" // MonitorWorkflow just started
	phaseSlack      = "slack-head" // chat.postMessage of the head message received, not answered
	phasePagerDuty  = "pd-trigger" // PagerDuty trigger received, not answered
	phaseTraining   = "training"   // RetrainWorkflow in step "training", the trainer program running
	crashChannel    = "C0CRASH01"  // a channel ID, so the notifier can find its head message after a restart
	crashSlowAnswer = 800 * time.Millisecond
)

func TestWorkerSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the worker and kills it repeatedly against a Temporal server (about 3 minutes)")
	}
	kills := 3
	if s := os.Getenv("VIGIL_CRASH_KILLS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("VIGIL_CRASH_KILLS=%q: want a positive number", s)
		}
		kills = n
	}
	// Each model (one incident) takes its kills from this cycle; CI's three
	// kills are one evaluation, one notification and one training run.
	cycle := []string{phaseEvaluation, phaseSlack, phaseTraining, phasePagerDuty}
	var plans [][]string
	for left := kills; left > 0; {
		n := min(left, len(cycle))
		plan := slices.Clone(cycle[:n])
		if len(plans)%2 == 1 && n >= 2 { // alternate which notification is hit first
			plan[1] = phasePagerDuty
			if n == 4 {
				plan[3] = phaseSlack
			}
		}
		plans = append(plans, sortPhases(plan))
		left -= n
	}
	began := time.Now()
	dir := t.TempDir()

	// The worker binary, once per test run.
	bin := filepath.Join(dir, "worker")
	build := exec.Command("go", "build", "-o", bin, "github.com/vigilml/vigil/worker")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build worker: %v\n%s", err, out)
	}
	t.Logf("built the worker in %s", time.Since(began).Round(time.Second))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := devserver.Start(ctx, devserver.Options{
		DBFile: filepath.Join(dir, "temporal.db"), FrontendPort: freePort(t), UIPort: -1,
		Namespace: "default", Retention: 24 * time.Hour, SearchAttributes: workflows.SearchAttributes(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := srv.Stop(); err != nil {
			t.Logf("stop temporal: %v", err)
		}
	}()
	c, err := client.Dial(client.Options{HostPort: srv.Address(), Namespace: "default", Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	slack := newFakeSlack(t, fakeOptions{Credential: "xoxb-crash", Channel: crashChannel, Latency: crashSlowAnswer})
	pd := newFakePagerDuty(t, fakeOptions{Credential: "crash-routing-key", Latency: crashSlowAnswer})

	// The trainer: records every start, trains for a few seconds, writes a model.
	trainerLog := filepath.Join(dir, "trainer-starts.log")
	trainer := filepath.Join(dir, "train.sh")
	if err := os.WriteFile(trainer, []byte(`#!/bin/sh
# Logs "start" and "end" lines per process. Orphaned by a killed worker (its
# parent changes), it goes on like a long training job that never notices,
# until it is stopped or a minute has passed.
me="$VIGIL_MODEL $VIGIL_RUN_ID $$"
echo "start $me" >> "$CRASH_TRAINER_LOG"
trap 'echo "end $me stopped" >> "$CRASH_TRAINER_LOG"; exit 143' TERM
trap '' PIPE
parent=$PPID
echo "training $VIGIL_MODEL on $VIGIL_TRAIN_DATA"
for i in 1 2 3; do sleep 1; done
i=0
while [ "$(cut -d' ' -f4 /proc/$$/stat)" != "$parent" ]; do
  i=$((i+1))
  if [ $i -gt 60 ]; then echo "end $me orphan-gave-up" >> "$CRASH_TRAINER_LOG"; exit 1; fi
  sleep 1
done
echo '{"weights": [1]}' > "$VIGIL_OUTPUT_DIR/model.json"
echo '{"accuracy": 0.9}' > "$VIGIL_OUTPUT_DIR/metrics.json"
echo "trained $VIGIL_MODEL"
echo "end $me done" >> "$CRASH_TRAINER_LOG"
`), 0o755); err != nil {
		t.Fatal(err)
	}

	models := make([]string, len(plans))
	var yaml strings.Builder
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	fmt.Fprintf(&yaml, `temporal: {address: %q}
worker: {http_addr: %q}
storage: {reports: "file://{{dir}}/reports", registry: "file://{{dir}}/registry"}
notify:
  slack: {token_env: CRASH_SLACK_TOKEN, channel: %s, api_url: %q}
  pagerduty: {routing_key_env: CRASH_PD_KEY, events_url: %q}
models:
`, srv.Address(), httpAddr, crashChannel, slack.apiURL(), pd.srv.URL)
	for i := range plans {
		models[i] = fmt.Sprintf("crash-%d", i+1)
		writeCrashData(t, filepath.Join(dir, models[i]))
		fmt.Fprintf(&yaml, `  - name: %[1]s
    task: binary
    schedule: {every: 1h, window: 10m}
    columns: {target: label, prediction: prediction}
    features: [x1, x2]
    source: {uri: "file://{{dir}}/%[1]s/data"}
    reference: {uri: "file://{{dir}}/%[1]s/ref.csv"}
    rules:
      # 120 rows per hour partition: always breached.
      - {name: low-traffic, metric: rows.current, below: 100000, severity: critical, escalate_after: 2s, retrain: true}
    retrain:
      trainer: command
      command: ["%[2]s"]
      train_window: 10m
      validation_window: 1m
      min_improvement: 0
      # Bounds how long a training attempt lost with its worker blocks the retry.
      timeout: 12s
`, models[i], trainer)
	}
	cfgPath := writeConfig(t, dir, yaml.String())

	wp := &workerProc{t: t, bin: bin, cfg: cfgPath, http: httpAddr, logPath: filepath.Join(dir, "worker.log"),
		env: []string{"CRASH_SLACK_TOKEN=xoxb-crash", "CRASH_PD_KEY=crash-routing-key", "CRASH_TRAINER_LOG=" + trainerLog}}
	wp.start()
	defer wp.stop()
	defer func() {
		if t.Failed() {
			if b, err := os.ReadFile(wp.logPath); err == nil {
				t.Logf("worker log (tail):\n%s", tail(string(b), 60))
			}
		}
	}()
	wc := &control.Client{C: c, TaskQueue: "vigil"}

	survived := 0
	orphans := map[string]string{} // trainer pid left running by a kill → its model
	lostPD := map[string]int{}     // dedup key → triggers in flight at a kill
	hitSlack := map[string]bool{}  // model → its head message was in flight at a kill
	// model → kills while its retrain ran: each may cost a trainer start
	// (a kill planned for another model's phase lands there too).
	retrainKills := map[string]int{}
	// Every run a trigger started (or joined) must complete: a re-evaluation
	// after a missed kill is one more completed MonitorWorkflow.
	monitorRuns := map[string]bool{}
	trigger := func(model string) {
		run, err := wc.Trigger(ctx, model, time.Time{})
		if err != nil {
			t.Fatalf("trigger %s: %v", model, err)
		}
		monitorRuns[run.GetRunID()] = true
	}
	for i, model := range models {
		trigger(model)
		for _, phase := range plans[i] {
			at := time.Now()
			if (phase == phaseSlack && hitSlack[model]) || (phase == phasePagerDuty && lostPD["vigil/"+model+"/low-traffic"] > 0) {
				t.Logf("%s of %s: already hit by the previous kill", phase, model)
				continue
			}
			what := waitPhase(t, ctx, c, slack, pd, trainerLog, model, phase)
			for try := 1; what == ""; try++ {
				if try > 5 {
					t.Fatalf("%s: the evaluation finished before the kill aimed at it, %d times", model, try)
				}
				t.Logf("%s: the evaluation finished before the kill aimed at it; evaluating again", model)
				trigger(model)
				what = waitPhase(t, ctx, c, slack, pd, trainerLog, model, phase)
			}
			for _, m := range models {
				if d, err := c.DescribeWorkflowExecution(ctx, workflows.RetrainWorkflowID(m), ""); err == nil &&
					d.WorkflowExecutionInfo.Status == enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
					retrainKills[m]++
				}
			}
			wp.kill()
			survived++
			// After kill -9 nothing of the worker runs on: what is still in
			// progress now was in progress at the kill.
			if err := landed(ctx, c, slack, pd, trainerLog, model, phase, orphans); err != nil {
				t.Errorf("kill %d, aimed at %s of %s (%s), missed: %v", survived, phase, model, what, err)
			}
			// A request in flight at the kill loses its answer and is sent again.
			for _, k := range pd.inFlightKeys() {
				lostPD[k]++
			}
			for _, m := range models {
				if slack.inFlight(m) {
					hitSlack[m] = true
				}
			}
			t.Logf("kill %d/%d: %s of %s (%s), %s after the previous step", survived, kills, phase, model, what, time.Since(at).Round(10*time.Millisecond))
			wp.start()
		}
	}

	// Everything completes after the last restart.
	for _, model := range models {
		waitFor(t, 150*time.Second, model+"'s retrain to complete", func() (bool, error) {
			d, err := c.DescribeWorkflowExecution(ctx, workflows.RetrainWorkflowID(model), "")
			if err != nil {
				return false, err
			}
			st := d.WorkflowExecutionInfo.Status
			if st != enums.WORKFLOW_EXECUTION_STATUS_RUNNING && st != enums.WORKFLOW_EXECUTION_STATUS_COMPLETED {
				t.Fatalf("retrain of %s closed as %s:\n%s", model, st, failures(ctx, c, workflows.RetrainWorkflowID(model)))
			}
			return st == enums.WORKFLOW_EXECUTION_STATUS_COMPLETED, nil
		})
		waitFor(t, 150*time.Second, model+"'s incident to reach Slack and PagerDuty", func() (bool, error) {
			qctx, qcancel := context.WithTimeout(ctx, 5*time.Second)
			defer qcancel()
			st, err := wc.Incidents(qctx, model)
			if err != nil || st == nil || st.Rules["low-traffic"] == nil || st.Rules["low-traffic"].Open == nil {
				return false, err
			}
			inc := st.Rules["low-traffic"].Open
			return inc.Escalated && slices.Contains(inc.Notified, "slack") && slices.Contains(inc.Notified, "pagerduty") &&
				inc.Refs["slack"] != "", nil
		})
	}

	// Exactly once, per incident.
	var res workflows.RetrainResult
	dupSlack, dupPD, resent, extraTrainer := 0, 0, 0, 0
	starts := trainerStarts(t, trainerLog)
	stopped := checkTrainerLives(t, trainerLog, orphans)
	// Counted by model, across every incident: a second incident for the
	// same breach would post a second head message under its own ID.
	headsByModel := map[string]int{}
	for _, c := range slack.served() {
		if c.Method == "chat.postMessage" && c.ThreadTS == "" {
			headsByModel[c.Metadata.EventPayload["model"]]++
		}
	}
	if total := slack.heads(""); total != len(models) {
		t.Errorf("%d Slack head messages across all incidents, want %d (one per model)", total, len(models))
	}
	for _, model := range models {
		st, err := wc.Incidents(ctx, model)
		if err != nil {
			t.Fatal(err)
		}
		inc := st.Rules["low-traffic"].Open
		heads := headsByModel[model]
		if heads != 1 || slack.heads(inc.ID) != 1 {
			t.Errorf("%s: %d Slack head messages across its incidents, %d for open incident %s, want 1",
				model, heads, slack.heads(inc.ID), inc.ID)
			dupSlack += max(heads-1, 0)
		}
		if want := crashChannel + ":" + slack.headTS(inc.ID); inc.Refs["slack"] != want {
			t.Errorf("%s: incident refers to Slack message %s, want the head message %s", model, inc.Refs["slack"], want)
		}
		key := "vigil/" + model + "/low-traffic"
		triggers, pages := pd.count(key)
		if pages != 1 {
			t.Errorf("%s: PagerDuty paged %d times for %s, want 1", model, pages, key)
		}
		// A trigger whose answer was lost with the worker is sent again, with
		// the same dedup key: PagerDuty folds it into the open incident.
		if triggers < 1 || triggers > 1+lostPD[key] {
			t.Errorf("%s: %d PagerDuty triggers for %s, want 1 (+1 per kill during a trigger: %d)", model, triggers, key, lostPD[key])
		}
		resent += triggers - 1
		dupPD += max(pages-1, 0)
		if keys := pd.keys(); len(keys) != len(models) {
			t.Errorf("PagerDuty dedup keys %v, want one per model", keys)
		}
		n, err := countWorkflows(ctx, &Worker{Client: c}, fmt.Sprintf(`WorkflowType = "RetrainWorkflow" AND VigilModel = %q`, model))
		if err != nil || n != 1 {
			t.Errorf("%s: %d RetrainWorkflow runs (err %v), want exactly 1", model, n, err)
		}
		if err := c.GetWorkflow(ctx, workflows.RetrainWorkflowID(model), "").Get(ctx, &res); err != nil {
			t.Errorf("%s: retrain: %v", model, err)
		}
		runs := map[string]int{}
		for _, s := range starts[model] {
			runs[s]++
		}
		if len(runs) != 1 {
			t.Errorf("%s: trainer started for %d run ids %v, want 1", model, len(runs), runs)
		}
		// The command backend does not re-attach to a trainer orphaned by a
		// dead worker: the retry starts it again (see the report of issue 9).
		if len(starts[model]) > 1+retrainKills[model] {
			t.Errorf("%s: trainer started %d times with %d kills while its retrain ran", model, len(starts[model]), retrainKills[model])
		}
		extraTrainer += len(starts[model]) - 1
		t.Logf("%s: incident %s, %d Slack head, %d PagerDuty triggers (%d pages), retrain %s (challenger %s), trainer started %d times",
			model, inc.ID, heads, triggers, pages, res.Outcome, res.Challenger, len(starts[model]))
	}
	// No workflow failed, timed out or was terminated; only incident workflows run on.
	// A re-evaluation started after a kill may still be finishing: give open
	// monitors a minute to close before judging the states.
	var list *workflowservice.ListWorkflowExecutionsResponse
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Second) {
		var err error
		list, err = c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "default", PageSize: 1000})
		if err != nil {
			t.Fatal(err)
		}
		open := slices.ContainsFunc(list.Executions, func(e *workflowpb.WorkflowExecutionInfo) bool {
			return e.Type.GetName() == "MonitorWorkflow" && e.Status == enums.WORKFLOW_EXECUTION_STATUS_RUNNING
		})
		if !open || time.Now().After(deadline) {
			break
		}
	}
	monitors := 0
	for _, e := range list.Executions {
		typ, st := e.Type.GetName(), e.Status
		switch {
		case typ == "IncidentWorkflow" && st == enums.WORKFLOW_EXECUTION_STATUS_RUNNING:
		case st == enums.WORKFLOW_EXECUTION_STATUS_COMPLETED:
			// A run the hourly schedule started, should the test cross the
			// hour, is judged by its state alone.
			if typ == "MonitorWorkflow" && monitorRuns[e.Execution.GetRunId()] {
				monitors++
			}
		default:
			t.Errorf("%s %s is %s:\n%s", typ, e.Execution.GetWorkflowId(), st, failures(ctx, c, e.Execution.GetWorkflowId()))
		}
	}
	if monitors != len(monitorRuns) {
		t.Errorf("%d completed MonitorWorkflows, want %d (one per triggered run)", monitors, len(monitorRuns))
	}
	took := time.Since(began).Round(time.Second)
	summary := fmt.Sprintf("crash test: %d kills survived over %d incidents; duplicates: %d Slack head messages, %d PagerDuty pages "+
		"(%d triggers re-sent after a lost answer, same dedup key), %d extra trainer starts, %d orphaned trainers stopped before the retry; took %s",
		survived, len(models), dupSlack, dupPD, resent, extraTrainer, stopped, took)
	t.Log(summary)
	fmt.Fprintln(os.Stderr, summary)
}

// failures lists the failed and timed-out activities and the failure of a
// workflow, from its history.
func failures(ctx context.Context, c client.Client, id string) string {
	var b strings.Builder
	iter := c.GetWorkflowHistory(ctx, id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			return b.String() + err.Error()
		}
		at := ev.GetEventTime().AsTime().Format("15:04:05.000")
		switch {
		case ev.GetActivityTaskScheduledEventAttributes() != nil:
			fmt.Fprintf(&b, "%s scheduled %s\n", at, ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName())
		case ev.GetActivityTaskStartedEventAttributes() != nil:
			a := ev.GetActivityTaskStartedEventAttributes()
			fmt.Fprintf(&b, "%s started (attempt %d) %s\n", at, a.GetAttempt(), a.GetLastFailure().GetMessage())
		case ev.GetActivityTaskTimedOutEventAttributes() != nil:
			fmt.Fprintf(&b, "%s activity timed out: %s\n", at, ev.GetActivityTaskTimedOutEventAttributes().GetFailure().GetMessage())
		case ev.GetActivityTaskFailedEventAttributes() != nil:
			fmt.Fprintf(&b, "%s activity failed: %s\n", at, ev.GetActivityTaskFailedEventAttributes().GetFailure().GetMessage())
		case ev.GetWorkflowExecutionFailedEventAttributes() != nil:
			fmt.Fprintf(&b, "%s workflow failed: %s\n", at, ev.GetWorkflowExecutionFailedEventAttributes().GetFailure().GetMessage())
		}
	}
	return b.String()
}

// sortPhases puts phases in the order an incident reaches them.
func sortPhases(p []string) []string {
	order := map[string]int{phaseEvaluation: 0, phaseSlack: 1, phasePagerDuty: 2, phaseTraining: 3}
	slices.SortFunc(p, func(a, b string) int { return order[a] - order[b] })
	return p
}

// waitPhase returns when model reaches phase, saying what it saw, or "" when
// the evaluation it was to catch had already finished.
func waitPhase(t *testing.T, ctx context.Context, c client.Client, slack *fakeSlack, pd *fakePagerDuty, trainerLog, model, phase string) string {
	t.Helper()
	began := time.Now()
	for time.Since(began) < 150*time.Second {
		switch phase {
		case phaseEvaluation:
			// Prefer a kill while one of its activities runs; settle for a
			// workflow task after 300ms, before the evaluation can finish.
			d, err := c.DescribeWorkflowExecution(ctx, workflows.MonitorWorkflowID(model), "")
			if err == nil && d.WorkflowExecutionInfo.Status != enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
				// Too fast to aim at (a loaded machine polls late): the
				// caller starts another evaluation rather than kill after it.
				return ""
			}
			if err == nil && (len(d.PendingActivities) > 0 || time.Since(began) > 300*time.Millisecond) {
				var acts []string
				for _, a := range d.PendingActivities {
					acts = append(acts, a.ActivityType.GetName())
				}
				return fmt.Sprintf("monitor %s, pending activities %v", d.WorkflowExecutionInfo.Status, acts)
			}
		case phaseSlack:
			if slack.inFlight(model) {
				return "head message posted, answer pending"
			}
		case phasePagerDuty:
			if pd.inFlight("vigil/" + model + "/low-traffic") {
				return "trigger received, answer pending"
			}
		case phaseTraining:
			// Not while a notification is in flight: that kill is its own phase.
			if len(trainerStarts(t, trainerLog)[model]) > 0 && !slack.inFlight(model) && len(pd.inFlightKeys()) == 0 {
				qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				v, err := c.QueryWorkflow(qctx, workflows.RetrainWorkflowID(model), "", workflows.QueryState)
				cancel()
				var st workflows.RetrainState
				if err == nil && v.Get(&st) == nil {
					if st.Step != "training" {
						t.Fatalf("trainer running but retrain in step %q", st.Step)
					}
					return "retrain step training, trainer running"
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never reached phase %s", model, phase)
	return ""
}

// landed checks, right after a kill, that the phase the kill aimed at was
// still in progress. A kill during training records the trainer it left
// running in orphans.
func landed(ctx context.Context, c client.Client, slack *fakeSlack, pd *fakePagerDuty, trainerLog, model, phase string, orphans map[string]string) error {
	switch phase {
	case phaseEvaluation:
		d, err := c.DescribeWorkflowExecution(ctx, workflows.MonitorWorkflowID(model), "")
		if err != nil {
			return err
		}
		if st := d.WorkflowExecutionInfo.Status; st != enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
			return fmt.Errorf("the evaluation had finished: monitor %s", st)
		}
	case phaseSlack:
		if !slack.inFlight(model) {
			return fmt.Errorf("the head message had been answered")
		}
	case phasePagerDuty:
		if !pd.inFlight("vigil/" + model + "/low-traffic") {
			return fmt.Errorf("the trigger had been answered")
		}
	case phaseTraining:
		lives, err := readTrainerLog(trainerLog)
		if err != nil {
			return err
		}
		running := 0
		for _, l := range lives {
			if l.model == model && l.end == "" {
				orphans[l.pid] = model
				running++
			}
		}
		if running == 0 {
			return fmt.Errorf("no trainer of %s was running", model)
		}
	}
	return nil
}

// trainerLife is one trainer process, from the trainer's log.
type trainerLife struct {
	model, run, pid string
	end             string // "", done, stopped, orphan-gave-up
}

// readTrainerLog returns the trainers in the order they started; also reads
// the "model run pid" start lines of worker_test's trainer.
func readTrainerLog(path string) ([]*trainerLife, error) {
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	var lives []*trainerLife
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		switch f := strings.Fields(line); {
		case len(f) == 3:
			lives = append(lives, &trainerLife{model: f[0], run: f[1], pid: f[2]})
		case len(f) == 4 && f[0] == "start":
			lives = append(lives, &trainerLife{model: f[1], run: f[2], pid: f[3]})
		case len(f) == 5 && f[0] == "end":
			for _, l := range lives {
				if l.pid == f[3] && l.model == f[1] && l.end == "" {
					l.end = f[4]
				}
			}
		}
	}
	return lives, nil
}

// checkTrainerLives checks that no trainer started while another of the
// same model still ran, and that every trainer a kill left running was
// stopped (by the retry, before it started its own). It returns how many
// were.
func checkTrainerLives(t *testing.T, path string, orphans map[string]string) (stopped int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	running := map[string][]string{} // model → pids started, not ended
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 4 && f[0] == "start":
			if r := running[f[1]]; len(r) > 0 {
				t.Errorf("%s: trainer pid %s started while pid %v of an earlier attempt still ran", f[1], f[3], r)
			}
			running[f[1]] = append(running[f[1]], f[3])
		case len(f) == 5 && f[0] == "end":
			running[f[1]] = slices.DeleteFunc(running[f[1]], func(p string) bool { return p == f[3] })
		}
	}
	lives, err := readTrainerLog(path)
	if err != nil {
		t.Fatal(err)
	}
	for pid, model := range orphans {
		for _, l := range lives {
			if l.pid != pid || l.model != model {
				continue
			}
			if l.end != "stopped" {
				t.Errorf("%s: trainer pid %s, left running by a kill, ended %q, want stopped by the retry", model, pid, l.end)
			} else {
				stopped++
			}
		}
	}
	return stopped
}

// trainerStarts maps a model to the run ids its trainer was started for.
func trainerStarts(t *testing.T, path string) map[string][]string {
	lives, err := readTrainerLog(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, l := range lives {
		out[l.model] = append(out[l.model], l.run)
	}
	return out
}

// writeCrashData writes a reference and 120 labeled rows into the previous,
// current and next hour partitions, so every window of the test has data.
func writeCrashData(t *testing.T, dir string) {
	t.Helper()
	row := func(w io.Writer, i int) {
		fmt.Fprintf(w, `{"event_id":"e%d","x1":%d,"x2":%g,"label":%d,"prediction":%d}`+"\n", i, i%7, float64(i%11)/10, i%2, (i/2)%2)
	}
	var ref strings.Builder
	ref.WriteString("x1,x2,label,prediction\n")
	for i := range 200 {
		fmt.Fprintf(&ref, "%d,%g,%d,%d\n", i%7, float64(i%11)/10, i%2, (i/2)%2)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ref.csv"), []byte(ref.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for h := -1; h <= 1; h++ {
		hour := now.Add(time.Duration(h) * time.Hour)
		p := filepath.Join(dir, "data", hour.Format("2006/01/02/15"))
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for i := range 120 {
			row(&b, (h+1)*1000+i)
		}
		if err := os.WriteFile(filepath.Join(p, "part-0.jsonl"), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// workerProc is the worker binary, started and killed by the test.
type workerProc struct {
	t       *testing.T
	bin     string
	cfg     string
	http    string
	logPath string
	env     []string
	cmd     *exec.Cmd
	exited  chan struct{}
	starts  int
}

func (w *workerProc) start() {
	w.t.Helper()
	logf, err := os.OpenFile(w.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		w.t.Fatal(err)
	}
	defer logf.Close()
	w.starts++
	fmt.Fprintf(logf, "----- start %d -----\n", w.starts)
	cmd := exec.Command(w.bin, "-config", w.cfg, "-log-level", "info", "-log-format", "text")
	cmd.Env = append(os.Environ(), w.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	w.cmd = cmd
	exited := make(chan struct{})
	w.exited = exited
	go func() { _ = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + w.http + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				w.exited = exited
				return
			}
		}
		select {
		case <-exited:
			w.t.Fatalf("worker exited during start %d (see %s)", w.starts, w.logPath)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("worker not ready 60s after start %d", w.starts)
		}
	}
}

// kill is kill -9.
func (w *workerProc) kill() {
	w.t.Helper()
	if err := w.cmd.Process.Kill(); err != nil {
		w.t.Fatalf("kill worker: %v", err)
	}
	<-w.exited
}

// stop ends the last worker gracefully.
func (w *workerProc) stop() {
	if w.cmd == nil {
		return
	}
	select {
	case <-w.exited:
		return
	default:
	}
	_ = w.cmd.Process.Signal(os.Interrupt)
	select {
	case <-w.exited:
	case <-time.After(20 * time.Second):
		_ = w.cmd.Process.Kill()
		<-w.exited
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// quietLogger keeps the test client's SDK logs out of the test output.
type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}
