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
	"github.com/vigilml/vigil/audit"
	"github.com/vigilml/vigil/codec"
	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/control"
	"github.com/vigilml/vigil/internal/dial"
	"github.com/vigilml/vigil/store"
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

// connect parses the command line and dials Temporal; the caller closes
// wc.C. (export uses it; the table's commands go through connected.)
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
		// The config is returned too: a command that can work without
		// Temporal (audit) still needs it.
		return cfg, nil, fmt.Errorf("connect to Temporal at %s: %w (is the worker running? try `go run ./worker -dev`)", cfg.Temporal.Address, err)
	}
	wc := &control.Client{C: tc, TaskQueue: cfg.Temporal.TaskQueue}
	if cfg.Audit.Kafka != nil {
		// A silence runs no activity: its audit event goes to the outbox
		// from here, and the worker publishes it.
		wc.OnSilence = audit.SilenceRecorder(audit.NewOutbox(store.New(cfg.Storage), cfg.Storage.Registry), cfg.Temporal.Namespace)
	}
	return cfg, wc, nil
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

// temporalCmd is a command that talks to Temporal. connected() gives it
// what every such command shares: -config, -address and -namespace, the
// -model flag and its check, the connection (closed after run), and one
// usage line.
type temporalCmd struct {
	// usage is the synopsis after "Usage: starter ".
	usage string
	// model is the -model flag's help; "" for commands without one.
	model string
	// check is how -model is checked once connected.
	check modelCheck
	// flags registers the command's own flags and returns what it does
	// with them.
	flags func(fs *flag.FlagSet) action
	// offline runs the command even when Temporal cannot be reached: its
	// session then has no client (wc nil) and dialErr says why.
	offline bool
}

// action is what a temporalCmd does once its flags are parsed.
type action struct {
	// before, if set, checks the flags before connecting.
	before func() error
	run    func(ctx context.Context, s *session) error
}

// modelCheck is what a command requires of -model.
type modelCheck int

const (
	modelUnchecked  modelCheck = iota // passed on as given
	modelRequired                     // must be given
	modelConfigured                   // must name a model of the config
)

// session is what a connected command works with.
type session struct {
	cfg            *config.Config
	wc             *control.Client
	dc             converter.DataConverter // the client's (nil: the default)
	model          string                  // -model
	stdout, stderr io.Writer
	// dialErr is why wc is nil (offline commands only).
	dialErr error
}

// connected turns a temporalCmd into the run function of the command table.
func connected(name string, tc temporalCmd) func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		var c common
		fs := newFlags(name, tc.usage, stderr)
		c.register(fs)
		model := new(string)
		if tc.model != "" {
			fs.StringVar(model, "model", "", tc.model)
		}
		act := tc.flags(fs)
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if act.before != nil {
			if err := act.before(); err != nil {
				return err
			}
		}
		cfg, wc, err := c.dial(ctx)
		if err != nil && (!tc.offline || cfg == nil) {
			return err
		}
		if wc != nil {
			defer wc.C.Close()
		}
		switch tc.check {
		case modelRequired:
			if *model == "" {
				return errors.New("-model is required")
			}
		case modelConfigured:
			if err := requireModel(cfg, *model); err != nil {
				return err
			}
		}
		return act.run(ctx, &session{cfg: cfg, wc: wc, dc: c.dc, model: *model, stdout: stdout, stderr: stderr, dialErr: err})
	}
}

// noFlags is the flags of a command that has only the shared ones.
func noFlags(run func(ctx context.Context, s *session) error) func(*flag.FlagSet) action {
	return func(*flag.FlagSet) action { return action{run: run} }
}

var applyCmd = temporalCmd{
	usage: "apply [-config vigil.yaml] [-prune]",
	flags: func(fs *flag.FlagSet) action {
		prune := fs.Bool("prune", false, "delete the schedules of models no longer in the config")
		return action{run: func(ctx context.Context, s *session) error {
			if err := ensureSearchAttributes(ctx, s.wc, s.cfg); err != nil {
				fmt.Fprintf(s.stderr, "warning: %v\n", err)
			}
			changes, err := control.ApplySchedules(ctx, s.wc.C, s.dc, s.cfg, *prune)
			for _, ch := range changes {
				fmt.Fprintf(s.stdout, "%-9s %s (model %s)\n", ch.Action, ch.ID, ch.Model)
			}
			return err
		}}
	},
}

var listCmd = temporalCmd{
	usage: "list [-config vigil.yaml]",
	flags: noFlags(func(ctx context.Context, s *session) error {
		tw := tabwriter.NewWriter(s.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "MODEL\tEVERY\tSCHEDULE\tNEXT RUN\tLAST STATUS\tLAST RUN\tOPEN INCIDENTS")
		for _, m := range s.cfg.Models {
			sched, next := "missing (run `starter apply`)", "-"
			if d, err := s.wc.C.ScheduleClient().GetHandle(ctx, workflows.ScheduleID(m.Name)).Describe(ctx); err == nil {
				sched = "active"
				if d.Schedule.State.Paused {
					sched = "paused"
				}
				if len(d.Info.NextActionTimes) > 0 {
					next = d.Info.NextActionTimes[0].Local().Format(time.DateTime)
				}
			}
			status, last := lastEvaluation(ctx, s.wc, m.Name)
			open := "-"
			if st, err := s.wc.Incidents(ctx, m.Name); err == nil && st != nil {
				open = fmt.Sprint(countOpen(st))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Name, m.Schedule.Every, sched, next, status, last, open)
		}
		return tw.Flush()
	}),
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
	status = executionStatus(e.Status)
	if p := e.GetSearchAttributes().GetIndexedFields()["VigilStatus"]; p != nil && e.Status == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		var s string
		if err := decodePayload(p, &s); err == nil {
			status = s
		}
	}
	return status, e.GetCloseTime().AsTime().Local().Format(time.DateTime)
}

var triggerCmd = temporalCmd{
	usage: "trigger -model M [-at TIME] [-wait=false]",
	model: "the model to evaluate",
	check: modelConfigured,
	flags: func(fs *flag.FlagSet) action {
		at := fs.String("at", "", "end of the window to evaluate (RFC 3339); default now")
		wait := fs.Bool("wait", true, "wait for the evaluation and print its result")
		return action{run: func(ctx context.Context, s *session) error {
			var end time.Time
			if *at != "" {
				var err error
				if end, err = time.Parse(time.RFC3339, *at); err != nil {
					return fmt.Errorf("-at: want RFC 3339 like 2026-01-02T15:04:05Z: %w", err)
				}
			}
			run, err := s.wc.Trigger(ctx, s.model, end)
			if err != nil {
				return err
			}
			fmt.Fprintf(s.stdout, "started %s (run %s)\n", run.GetID(), run.GetRunID())
			if !*wait {
				return nil
			}
			var res workflows.MonitorResult
			if err := run.Get(ctx, &res); err != nil {
				return err
			}
			fmt.Fprintf(s.stdout, "status %s: %d rows in %s – %s\nreport %s\n", res.Status, res.Rows,
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
				fmt.Fprintf(s.stdout, "  %-7s %s: %s = %s (threshold %s)\n", mark, r.Rule, r.Metric, v, r.Threshold)
			}
			return nil
		}}
	},
}

var backfillCmd = temporalCmd{
	usage: "backfill -model M -from TIME -to TIME",
	model: "the model",
	check: modelConfigured,
	flags: func(fs *flag.FlagSet) action {
		from := fs.String("from", "", "start (RFC 3339)")
		to := fs.String("to", "", "end (RFC 3339)")
		return action{run: func(ctx context.Context, s *session) error {
			start, err1 := time.Parse(time.RFC3339, *from)
			end, err2 := time.Parse(time.RFC3339, *to)
			if err := errors.Join(err1, err2); err != nil || !end.After(start) {
				return fmt.Errorf("-from and -to: want RFC 3339 times with -from before -to (%v)", err)
			}
			// The schedule runs each missed action with its nominal time, so the
			// windows are exactly those the schedule would have evaluated.
			err := s.wc.C.ScheduleClient().GetHandle(ctx, workflows.ScheduleID(s.model)).Backfill(ctx, client.ScheduleBackfillOptions{
				Backfill: []client.ScheduleBackfill{{Start: start, End: end, Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ALL}},
			})
			if err != nil {
				return fmt.Errorf("backfill schedule %s: %w", workflows.ScheduleID(s.model), err)
			}
			n := int(end.Sub(start) / s.cfg.Model(s.model).Schedule.Every.D())
			fmt.Fprintf(s.stdout, "backfill of %s requested: about %d evaluations between %s and %s\n", s.model, n, start.Format(time.RFC3339), end.Format(time.RFC3339))
			return nil
		}}
	},
}

var historyCmd = temporalCmd{
	usage: "history -model M [-limit 20] [-status breach]",
	model: "the model",
	check: modelRequired,
	flags: func(fs *flag.FlagSet) action {
		limit := fs.Int("limit", 20, "how many runs")
		status := fs.String("status", "", "only evaluations with this status (ok, warning, breach, no-data, incomplete, insufficient-data)")
		return action{run: func(ctx context.Context, s *session) error {
			q := fmt.Sprintf("VigilModel = %q", s.model)
			if *status != "" {
				q += fmt.Sprintf(" AND VigilStatus = %q", *status)
			}
			resp, err := s.wc.C.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{PageSize: int32(*limit), Query: q})
			if err != nil {
				return fmt.Errorf("list workflows: %w", err)
			}
			tw := tabwriter.NewWriter(s.stdout, 0, 4, 2, ' ', 0)
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
					executionStatus(e.Status), vs, ver, e.GetExecution().GetWorkflowId())
			}
			return tw.Flush()
		}}
	},
}

var incidentsCmd = temporalCmd{
	usage: "incidents -model M",
	model: "the model",
	flags: noFlags(func(ctx context.Context, s *session) error {
		st, err := s.wc.Incidents(ctx, s.model)
		if err != nil {
			return err
		}
		if st == nil || countOpen(st) == 0 {
			fmt.Fprintf(s.stdout, "%s: no open incident\n", s.model)
			return nil
		}
		for rule, rs := range st.Rules {
			if inc := rs.Open; inc != nil {
				ack := "unacknowledged"
				if inc.AckedBy != "" {
					ack = "acked by " + inc.AckedBy
				}
				fmt.Fprintf(s.stdout, "%s  %s  %s = %.4g (%s)  opened %s  %s  escalated=%v\n", inc.ID, rule, inc.Metric, inc.Value,
					inc.Threshold, inc.OpenedAt.Local().Format(time.DateTime), ack, inc.Escalated)
			}
		}
		return nil
	}),
}

var ackCmd = temporalCmd{
	usage: "ack -model M [-rule R] [-by NAME]",
	model: "the model",
	flags: func(fs *flag.FlagSet) action {
		rule := fs.String("rule", "", "only this rule's incident (default: all open incidents)")
		by := fs.String("by", defaultActor(), "who acknowledges (shown in Slack and the history)")
		return action{run: func(ctx context.Context, s *session) error {
			res, err := s.wc.Ack(ctx, s.model, *rule, *by)
			if err != nil {
				return err
			}
			fmt.Fprintf(s.stdout, "acknowledged %s\n", strings.Join(res.Incidents, ", "))
			return nil
		}}
	},
}

var silenceCmd = temporalCmd{
	usage: "silence -model M -for 2h [-rule R]",
	model: "the model",
	flags: func(fs *flag.FlagSet) action {
		rule := fs.String("rule", "", "only this rule (default: every rule)")
		d := fs.Duration("for", 2*time.Hour, "how long")
		by := fs.String("by", defaultActor(), "who silences")
		return action{run: func(ctx context.Context, s *session) error {
			until, err := s.wc.Silence(ctx, s.model, *rule, *d, *by)
			if err != nil {
				return err
			}
			fmt.Fprintf(s.stdout, "%s silenced until %s\n", s.model, until.Local().Format(time.DateTime))
			return nil
		}}
	},
}

var retrainCmd = temporalCmd{
	usage: "retrain -model M [-reason TEXT] [-wait]",
	model: "the model",
	check: modelConfigured,
	flags: func(fs *flag.FlagSet) action {
		reason := fs.String("reason", "manual", "why (kept in the registry's lineage)")
		wait := fs.Bool("wait", false, "wait for the outcome")
		return action{run: func(ctx context.Context, s *session) error {
			started, runID, err := s.wc.StartRetrain(ctx, s.model, *reason, defaultActor())
			if err != nil {
				return err
			}
			if !started {
				fmt.Fprintf(s.stdout, "a retrain of %s is already running (%s, run %s); not starting another\n", s.model, workflows.RetrainWorkflowID(s.model), runID)
				return nil
			}
			fmt.Fprintf(s.stdout, "started %s (run %s)\n", workflows.RetrainWorkflowID(s.model), runID)
			if !*wait {
				return nil
			}
			var res workflows.RetrainResult
			if err := s.wc.C.GetWorkflow(ctx, workflows.RetrainWorkflowID(s.model), runID).Get(ctx, &res); err != nil {
				return err
			}
			fmt.Fprintf(s.stdout, "%s: challenger %s vs champion %s (%s: %.4f vs %.4f) %s\n", res.Outcome, res.Challenger, res.Champion,
				res.Validation.Metric, res.Validation.Challenger, res.Validation.Champion, res.Reason)
			if res.Validation.ChampionRows == "unattributed" {
				fmt.Fprintf(s.stdout, "note: the logged predictions carry no model_version, so the champion was scored on every prediction of the held-out window, whichever version made it (%s)\n", res.Validation.ReportURI)
			}
			return nil
		}}
	},
}

// decideCmd is approve (approve=true) or reject.
func decideCmd(name string, approve bool) temporalCmd {
	return temporalCmd{
		usage: name + " -model M [-reason TEXT]",
		model: "the model",
		flags: func(fs *flag.FlagSet) action {
			reason := fs.String("reason", "", "why")
			by := fs.String("by", defaultActor(), "who decides")
			return action{run: func(ctx context.Context, s *session) error {
				if err := s.wc.Decide(ctx, s.model, approve, *by, *reason); err != nil {
					return err
				}
				fmt.Fprintf(s.stdout, "%sd the challenger of %s\n", name, s.model)
				return nil
			}}
		},
	}
}

var rollbackCmd = temporalCmd{
	usage: "rollback -model M [-to vN] -reason TEXT",
	model: "the model",
	check: modelConfigured,
	flags: func(fs *flag.FlagSet) action {
		to := fs.String("to", "", "the version to restore (default: the previous production version)")
		reason := fs.String("reason", "", "why (required: it is the audit trail)")
		return action{
			before: func() error {
				if *reason == "" {
					return errors.New("-reason is required")
				}
				return nil
			},
			run: func(ctx context.Context, s *session) error {
				res, err := s.wc.Rollback(ctx, activities.RollbackInput{Model: s.model, To: *to, Reason: *reason, Actor: defaultActor()})
				if err != nil {
					return err
				}
				fmt.Fprintf(s.stdout, "%s: production moved from %s back to %s\n", s.model, res.From, res.To)
				return nil
			},
		}
	},
}

func defaultActor() string {
	for _, k := range []string{"VIGIL_USER", "USER", "USERNAME"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return "starter"
}
