package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/vigilml/vigil/activities"
	"github.com/vigilml/vigil/codec"
	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/control"
	"github.com/vigilml/vigil/internal/dial"
	"github.com/vigilml/vigil/workflows"
)

// common holds the flags of every command that talks to Temporal.
type common struct {
	configPath string
	address    string
	namespace  string
	// dc is the client's data converter once dialled (nil: the default).
	dc converter.DataConverter
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.configPath, "config", "", configUsage)
	fs.StringVar(&c.address, "address", "", "Temporal frontend host:port (default: temporal.address of the config)")
	fs.StringVar(&c.namespace, "namespace", "", "Temporal namespace (default: temporal.namespace of the config)")
}

// load reads the config without requiring the worker's secrets: the CLI
// never sends notifications itself (except `notify test`).
func (c *common) load() (*config.Config, error) {
	return loadConfig(c.configPath, config.Options{SkipEnv: true})
}

// connect parses the command line and dials Temporal; the caller closes wc.C.
func (c *common) connect(ctx context.Context, fs *flag.FlagSet, args []string) (*config.Config, *control.Client, error) {
	if err := parseFlags(fs, args); err != nil {
		return nil, nil, err
	}
	return c.dial(ctx)
}

func (c *common) dial(ctx context.Context) (*config.Config, *control.Client, error) {
	cfg, err := c.load()
	if err != nil {
		return nil, nil, err
	}
	if c.address != "" {
		cfg.Temporal.Address = c.address
	}
	if c.namespace != "" {
		cfg.Temporal.Namespace = c.namespace
	}
	opts, err := clientOptions(cfg, os.Getenv)
	if err != nil {
		return nil, nil, err
	}
	c.dc = opts.DataConverter
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	tc, err := client.DialContext(dctx, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to Temporal at %s: %w (is the worker running? try `go run ./worker -dev`)", cfg.Temporal.Address, err)
	}
	return cfg, &control.Client{C: tc, TaskQueue: cfg.Temporal.TaskQueue}, nil
}

// clientOptions are the CLI's Temporal client options. With
// temporal.encryption the CLI encrypts what it sends and decrypts what it
// reads, so it needs the worker's keys in its environment.
func clientOptions(cfg *config.Config, getenv func(string) string) (client.Options, error) {
	opts, err := dial.Options(cfg.Temporal, getenv)
	if err != nil {
		return opts, fmt.Errorf("%s: %w", cfg.File, err)
	}
	opts.Logger = quietLogger{}
	if e := cfg.Temporal.Encryption; e != nil {
		c, err := codec.FromEnv(getenv, e.KeyEnv, e.PreviousKeyEnvs...)
		if err != nil {
			return opts, fmt.Errorf("%s: temporal.encryption: %w (the CLI needs the worker's encryption keys)", cfg.File, err)
		}
		opts.DataConverter = codec.NewDataConverter(c)
	}
	return opts, nil
}

func newFlags(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: starter %s\n\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

func requireModel(cfg *config.Config, name string) error {
	if name == "" {
		return errors.New("-model is required")
	}
	if cfg.Model(name) == nil {
		var names []string
		for _, m := range cfg.Models {
			names = append(names, m.Name)
		}
		return fmt.Errorf("model %q is not in %s (models: %s)", name, cfg.File, strings.Join(names, ", "))
	}
	return nil
}

func cmdValidate(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("validate", "validate [-config vigil.yaml] [-skip-env]", stderr)
	path := fs.String("config", "vigil.yaml", "the config file to check")
	skipEnv := fs.Bool("skip-env", false, "do not require the *_env variables to be set (CI without secrets)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(*path, config.Options{SkipEnv: *skipEnv})
	var errs config.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			fmt.Fprintln(stdout, e)
		}
		return fmt.Errorf("%d problem(s) in %s", len(errs), *path)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: ok (%d models)\n", *path, len(cfg.Models))
	return nil
}

func cmdApply(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlags("apply", "apply [-config vigil.yaml] [-prune]", stderr)
	c.register(fs)
	prune := fs.Bool("prune", false, "delete the schedules of models no longer in the config")
	cfg, wc, err := c.connect(ctx, fs, args)
	if err != nil {
		return err
	}
	defer wc.C.Close()
	if err := ensureSearchAttributes(ctx, wc, cfg); err != nil {
		fmt.Fprintf(stderr, "warning: %v\n", err)
	}
	changes, err := control.ApplySchedules(ctx, wc.C, c.dc, cfg, *prune)
	for _, ch := range changes {
		fmt.Fprintf(stdout, "%-9s %s (model %s)\n", ch.Action, ch.ID, ch.Model)
	}
	return err
}

func cmdList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlags("list", "list [-config vigil.yaml]", stderr)
	c.register(fs)
	cfg, wc, err := c.connect(ctx, fs, args)
	if err != nil {
		return err
	}
	defer wc.C.Close()
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tEVERY\tSCHEDULE\tNEXT RUN\tLAST STATUS\tLAST RUN\tOPEN INCIDENTS")
	for _, m := range cfg.Models {
		sched, next := "missing (run `starter apply`)", "-"
		if d, err := wc.C.ScheduleClient().GetHandle(ctx, workflows.ScheduleID(m.Name)).Describe(ctx); err == nil {
			sched = "active"
			if d.Schedule.State.Paused {
				sched = "paused"
			}
			if len(d.Info.NextActionTimes) > 0 {
				next = d.Info.NextActionTimes[0].Local().Format(time.DateTime)
			}
		}
		status, last := lastEvaluation(ctx, wc, m.Name)
		open := "-"
		if st, err := wc.Incidents(ctx, m.Name); err == nil && st != nil {
			open = fmt.Sprint(countOpen(st))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Name, m.Schedule.Every, sched, next, status, last, open)
	}
	return tw.Flush()
}

func countOpen(st *workflows.IncidentState) int {
	n := 0
	for _, rs := range st.Rules {
		if rs.Open != nil {
			n++
		}
	}
	return n
}

// lastEvaluation finds the newest closed MonitorWorkflow of a model.
func lastEvaluation(ctx context.Context, wc *control.Client, model string) (status, when string) {
	resp, err := wc.C.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		PageSize: 1,
		Query:    fmt.Sprintf(`WorkflowType = "MonitorWorkflow" AND VigilModel = %q AND ExecutionStatus != "Running"`, model),
	})
	if err != nil || len(resp.Executions) == 0 {
		return "-", "-"
	}
	e := resp.Executions[0]
	status = strings.ToLower(strings.TrimPrefix(e.Status.String(), "WORKFLOW_EXECUTION_STATUS_"))
	if p := e.GetSearchAttributes().GetIndexedFields()["VigilStatus"]; p != nil && e.Status == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		var s string
		if err := decodePayload(p, &s); err == nil {
			status = s
		}
	}
	return status, e.GetCloseTime().AsTime().Local().Format(time.DateTime)
}

func cmdTrigger(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlags("trigger", "trigger -model M [-at TIME] [-wait=false]", stderr)
	c.register(fs)
	model := fs.String("model", "", "the model to evaluate")
	at := fs.String("at", "", "end of the window to evaluate (RFC 3339); default now")
	wait := fs.Bool("wait", true, "wait for the evaluation and print its result")
	cfg, wc, err := c.connect(ctx, fs, args)
	if err != nil {
		return err
	}
	defer wc.C.Close()
	if err := requireModel(cfg, *model); err != nil {
		return err
	}
	var end time.Time
	if *at != "" {
		if end, err = time.Parse(time.RFC3339, *at); err != nil {
			return fmt.Errorf("-at: want RFC 3339 like 2026-01-02T15:04:05Z: %w", err)
		}
	}
	run, err := wc.Trigger(ctx, *model, end)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "started %s (run %s)\n", run.GetID(), run.GetRunID())
	if !*wait {
		return nil
	}
	var res workflows.MonitorResult
	if err := run.Get(ctx, &res); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "status %s: %d rows in %s – %s\nreport %s\n", res.Status, res.Rows,
		res.WindowStart.Format(time.RFC3339), res.WindowEnd.Format(time.RFC3339), res.ReportURI)
	for _, r := range res.Results {
		v := "no value"
		if r.HasValue {
			v = fmt.Sprintf("%.4g", r.Value)
		}
		mark := "ok"
		if r.Breached {
			mark = "BREACH"
		}
		fmt.Fprintf(stdout, "  %-7s %s: %s = %s (threshold %s)\n", mark, r.Rule, r.Metric, v, r.Threshold)
	}
	return nil
}

func cmdBackfill(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlags("backfill", "backfill -model M -from TIME -to TIME", stderr)
	c.register(fs)
	model := fs.String("model", "", "the model")
	from := fs.String("from", "", "start (RFC 3339)")
	to := fs.String("to", "", "end (RFC 3339)")
	cfg, wc, err := c.connect(ctx, fs, args)
	if err != nil {
		return err
	}
	defer wc.C.Close()
	if err := requireModel(cfg, *model); err != nil {
		return err
	}
	start, err1 := time.Parse(time.RFC3339, *from)
	end, err2 := time.Parse(time.RFC3339, *to)
	if err := errors.Join(err1, err2); err != nil || !end.After(start) {
		return fmt.Errorf("-from and -to: want RFC 3339 times with -from before -to (%v)", err)
	}
	// The schedule runs each missed action with its nominal time, so the
	// windows are exactly those the schedule would have evaluated.
	err = wc.C.ScheduleClient().GetHandle(ctx, workflows.ScheduleID(*model)).Backfill(ctx, client.ScheduleBackfillOptions{
		Backfill: []client.ScheduleBackfill{{Start: start, End: end, Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ALL}},
	})
	if err != nil {
		return fmt.Errorf("backfill schedule %s: %w", workflows.ScheduleID(*model), err)
	}
	n := int(end.Sub(start) / cfg.Model(*model).Schedule.Every.D())
	fmt.Fprintf(stdout, "backfill of %s requested: about %d evaluations between %s and %s\n", *model, n, start.Format(time.RFC3339), end.Format(time.RFC3339))
	return nil
}

func cmdHistory(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlags("history", "history -model M [-limit 20] [-status breach]", stderr)
	c.register(fs)
	model := fs.String("model", "", "the model")
	limit := fs.Int("limit", 20, "how many runs")
	status := fs.String("status", "", "only evaluations with this status (ok, warning, breach, no-data, incomplete, insufficient-data)")
	_, wc, err := c.connect(ctx, fs, args)
	if err != nil {
		return err
	}
	defer wc.C.Close()
	if *model == "" {
		return errors.New("-model is required")
	}
	q := fmt.Sprintf("VigilModel = %q", *model)
	if *status != "" {
		q += fmt.Sprintf(" AND VigilStatus = %q", *status)
	}
	resp, err := wc.C.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{PageSize: int32(*limit), Query: q})
	if err != nil {
		return fmt.Errorf("list workflows: %w", err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STARTED\tTYPE\tSTATUS\tVIGIL STATUS\tVERSION\tWORKFLOW ID")
	for _, e := range resp.Executions {
		vs, ver := "-", "-"
		fields := e.GetSearchAttributes().GetIndexedFields()
		if p := fields["VigilStatus"]; p != nil {
			_ = decodePayload(p, &vs)
		}
		if p := fields["VigilModelVersion"]; p != nil {
			_ = decodePayload(p, &ver)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.GetStartTime().AsTime().Local().Format(time.DateTime), e.GetType().GetName(),
			strings.ToLower(strings.TrimPrefix(e.Status.String(), "WORKFLOW_EXECUTION_STATUS_")), vs, ver, e.GetExecution().GetWorkflowId())
	}
	return tw.Flush()
}

func cmdIncidents(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlags("incidents", "incidents -model M", stderr)
	c.register(fs)
	model := fs.String("model", "", "the model")
	_, wc, err := c.connect(ctx, fs, args)
	if err != nil {
		return err
	}
	defer wc.C.Close()
	st, err := wc.Incidents(ctx, *model)
	if err != nil {
		return err
	}
	if st == nil || countOpen(st) == 0 {
		fmt.Fprintf(stdout, "%s: no open incident\n", *model)
		return nil
	}
	for rule, rs := range st.Rules {
		if inc := rs.Open; inc != nil {
			ack := "unacknowledged"
			if inc.AckedBy != "" {
				ack = "acked by " + inc.AckedBy
			}
			fmt.Fprintf(stdout, "%s  %s  %s = %.4g (%s)  opened %s  %s  escalated=%v\n", inc.ID, rule, inc.Metric, inc.Value,
				inc.Threshold, inc.OpenedAt.Local().Format(time.DateTime), ack, inc.Escalated)
		}
	}
	return nil
}

func cmdAck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlags("ack", "ack -model M [-rule R] [-by NAME]", stderr)
	c.register(fs)
	model := fs.String("model", "", "the model")
	rule := fs.String("rule", "", "only this rule's incident (default: all open incidents)")
	by := fs.String("by", defaultActor(), "who acknowledges (shown in Slack and the history)")
	_, wc, err := c.connect(ctx, fs, args)
	if err != nil {
		return err
	}
	defer wc.C.Close()
	res, err := wc.Ack(ctx, *model, *rule, *by)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "acknowledged %s\n", strings.Join(res.Incidents, ", "))
	return nil
}

func cmdSilence(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlags("silence", "silence -model M -for 2h [-rule R]", stderr)
	c.register(fs)
	model := fs.String("model", "", "the model")
	rule := fs.String("rule", "", "only this rule (default: every rule)")
	d := fs.Duration("for", 2*time.Hour, "how long")
	by := fs.String("by", defaultActor(), "who silences")
	_, wc, err := c.connect(ctx, fs, args)
	if err != nil {
		return err
	}
	defer wc.C.Close()
	until, err := wc.Silence(ctx, *model, *rule, *d, *by)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s silenced until %s\n", *model, until.Local().Format(time.DateTime))
	return nil
}

func cmdRetrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlags("retrain", "retrain -model M [-reason TEXT] [-wait]", stderr)
	c.register(fs)
	model := fs.String("model", "", "the model")
	reason := fs.String("reason", "manual", "why (kept in the registry's lineage)")
	wait := fs.Bool("wait", false, "wait for the outcome")
	cfg, wc, err := c.connect(ctx, fs, args)
	if err != nil {
		return err
	}
	defer wc.C.Close()
	if err := requireModel(cfg, *model); err != nil {
		return err
	}
	started, runID, err := wc.StartRetrain(ctx, *model, *reason, defaultActor())
	if err != nil {
		return err
	}
	if !started {
		fmt.Fprintf(stdout, "a retrain of %s is already running (%s, run %s); not starting another\n", *model, workflows.RetrainWorkflowID(*model), runID)
		return nil
	}
	fmt.Fprintf(stdout, "started %s (run %s)\n", workflows.RetrainWorkflowID(*model), runID)
	if !*wait {
		return nil
	}
	var res workflows.RetrainResult
	if err := wc.C.GetWorkflow(ctx, workflows.RetrainWorkflowID(*model), runID).Get(ctx, &res); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: challenger %s vs champion %s (%s: %.4f vs %.4f) %s\n", res.Outcome, res.Challenger, res.Champion,
		res.Validation.Metric, res.Validation.Challenger, res.Validation.Champion, res.Reason)
	if res.Validation.ChampionRows == "unattributed" {
		fmt.Fprintf(stdout, "note: the logged predictions carry no model_version, so the champion was scored on every prediction of the held-out window, whichever version made it (%s)\n", res.Validation.ReportURI)
	}
	return nil
}

func cmdApprove(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return decide(ctx, "approve", true, args, stdout, stderr)
}

func cmdReject(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return decide(ctx, "reject", false, args, stdout, stderr)
}

func decide(ctx context.Context, name string, approve bool, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlags(name, name+" -model M [-reason TEXT]", stderr)
	c.register(fs)
	model := fs.String("model", "", "the model")
	reason := fs.String("reason", "", "why")
	by := fs.String("by", defaultActor(), "who decides")
	_, wc, err := c.connect(ctx, fs, args)
	if err != nil {
		return err
	}
	defer wc.C.Close()
	if err := wc.Decide(ctx, *model, approve, *by, *reason); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%sd the challenger of %s\n", name, *model)
	return nil
}

func cmdRollback(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlags("rollback", "rollback -model M [-to vN] -reason TEXT", stderr)
	c.register(fs)
	model := fs.String("model", "", "the model")
	to := fs.String("to", "", "the version to restore (default: the previous production version)")
	reason := fs.String("reason", "", "why (required: it is the audit trail)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *reason == "" {
		return errors.New("-reason is required")
	}
	cfg, wc, err := c.dial(ctx)
	if err != nil {
		return err
	}
	defer wc.C.Close()
	if err := requireModel(cfg, *model); err != nil {
		return err
	}
	res, err := wc.Rollback(ctx, activities.RollbackInput{Model: *model, To: *to, Reason: *reason, Actor: defaultActor()})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: production moved from %s back to %s\n", *model, res.From, res.To)
	return nil
}

func defaultActor() string {
	for _, k := range []string{"VIGIL_USER", "USER", "USERNAME"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return "starter"
}
