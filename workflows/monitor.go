package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/vigilml/vigil/activities"
)

// MonitorInput is what the Schedule (or `starter trigger`) passes.
type MonitorInput struct {
	Model string
	// WindowEnd overrides the end of the evaluated window; zero means the
	// schedule's nominal time (for backfills, the time being made up) or now.
	WindowEnd time.Time
}

// MonitorResult is the outcome of one evaluation.
type MonitorResult struct {
	Status      string
	ReportURI   string
	WindowStart time.Time
	WindowEnd   time.Time
	Rows        int64
	Results     []activities.RuleResult
}

// MonitorProgress is where an evaluation is (query QueryProgress): its
// stage and, for a window evaluated in shards, the plan's size and the
// shards finished so far.
type MonitorProgress struct {
	Stage string
	// Shards is the number of shards of the plan (0: one activity), and
	// ShardsDone those profiled, in any order; Rows sums their rows.
	Shards     int   `json:",omitempty"`
	ShardsDone int   `json:",omitempty"`
	Rows       int64 `json:",omitempty"`
	// Objects and Bytes are the window's, as planned.
	Objects int   `json:",omitempty"`
	Bytes   int64 `json:",omitempty"`
}

// activity handle: methods are named through a typed nil pointer, so nothing
// is registered or called by string.
var a *activities.Activities

// Non-retryable error types the activities raise: bad input and bad
// credentials do not heal by retrying.
var permanentErrors = []string{activities.ErrConfig, activities.ErrBadData, activities.ErrAuth}

func activityOptions(timeout time.Duration, attempts int32) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: timeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        time.Minute,
			MaximumAttempts:        attempts,
			NonRetryableErrorTypes: permanentErrors,
		},
	}
}

// MonitorWorkflow evaluates one window of a model: analyze → store report →
// publish metrics → check rules → tell the model's IncidentWorkflow.
func MonitorWorkflow(ctx workflow.Context, in MonitorInput) (*MonitorResult, error) {
	log := workflow.GetLogger(ctx)
	short := workflow.WithActivityOptions(ctx, activityOptions(30*time.Second, 5))
	progress := &MonitorProgress{Stage: StageLoading}
	if err := workflow.SetQueryHandler(ctx, QueryProgress, func() (MonitorProgress, error) { return *progress, nil }); err != nil {
		return nil, err
	}

	var spec activities.ModelSpec
	if err := workflow.ExecuteActivity(short, a.LoadModel, activities.LoadModelInput{Model: in.Model}).Get(ctx, &spec); err != nil {
		return nil, fmt.Errorf("load model %s: %w", in.Model, err)
	}
	end := windowEnd(ctx, in).Add(-spec.Delay)
	start := end.Add(-spec.Window)
	_ = workflow.UpsertTypedSearchAttributes(ctx, AttrModel.ValueSet(spec.Name))

	metrics := make([]string, 0, len(spec.Rules))
	for _, r := range spec.Rules {
		if !slices.Contains(metrics, r.Metric) {
			metrics = append(metrics, r.Metric)
		}
	}
	// Reading a window can be long (S3, big windows); it heartbeats.
	long := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Minute,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: 2 * time.Minute,
			MaximumAttempts: 5, NonRetryableErrorTypes: permanentErrors,
		},
	})
	var res activities.AnalyzeResult
	var err error
	if workflow.GetVersion(ctx, ChangeShardedAnalysis, workflow.DefaultVersion, 1) == 1 && spec.ShardObjects > 0 {
		err = analyzeWindow(ctx, long, spec.Name, start, end, metrics, &res, progress)
	} else {
		progress.Stage = StageAnalyzing
		err = workflow.ExecuteActivity(long, a.Analyze, activities.AnalyzeInput{
			Model: spec.Name, WindowStart: start, WindowEnd: end, Metrics: metrics,
		}).Get(ctx, &res)
	}
	if err != nil {
		return nil, fmt.Errorf("analyze %s window %s–%s: %w", spec.Name, start.Format(time.RFC3339), end.Format(time.RFC3339), err)
	}

	progress.Stage = StagePublishing
	results := CheckRules(spec, res)
	status := statusOf(spec, res, results)
	version := res.Version
	if version == "" {
		version = spec.Version
	}
	attrs := []temporal.SearchAttributeUpdate{AttrStatus.ValueSet(status)}
	if version != "" {
		attrs = append(attrs, AttrModelVersion.ValueSet(version))
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, attrs...); err != nil {
		log.Warn("upsert search attributes", "err", err)
	}
	memo := map[string]any{"report": res.ReportURI, "rows": res.Rows}
	if res.Incomplete {
		memo["incomplete"] = true
	}
	if res.InvalidReason != "" {
		memo["invalid"] = res.InvalidReason
	}
	if res.InsufficientData {
		memo["insufficient_data"] = true
	}
	if err := workflow.UpsertMemo(ctx, memo); err != nil {
		log.Warn("upsert memo", "err", err)
	}

	// Metrics are best effort: a scrape gap must not fail the evaluation.
	pubErr := workflow.ExecuteActivity(short, a.PublishMetrics, activities.PublishMetricsInput{
		Model: spec.Name, Version: version, ReportURI: res.ReportURI, Status: status,
		WindowStart: start, WindowEnd: end, Took: res.Took,
	}).Get(ctx, nil)
	if pubErr != nil {
		log.Warn("publish metrics failed", "model", spec.Name, "err", pubErr)
	}

	if len(spec.Rules) > 0 {
		info := workflow.GetInfo(ctx)
		ev := activities.Evaluation{
			Model: spec.Name, Version: version, WindowStart: start, WindowEnd: end,
			ReportURI: res.ReportURI, WorkflowID: info.WorkflowExecution.ID, RunID: info.WorkflowExecution.RunID,
			Results: results, TopDrifted: res.TopDrifted, WeakSegments: res.WeakSegments,
		}
		if err := workflow.ExecuteActivity(short, a.SignalIncident, activities.SignalIncidentInput{Evaluation: ev}).Get(ctx, nil); err != nil {
			return nil, fmt.Errorf("signal incident workflow of %s: %w", spec.Name, err)
		}
	}
	progress.Stage = StageDone
	return &MonitorResult{Status: status, ReportURI: res.ReportURI, WindowStart: start, WindowEnd: end, Rows: res.Rows, Results: results}, nil
}

// analyzeWindow evaluates a window as one Analyze activity, or, when
// PlanShards splits it, as one ProfileShard activity per shard on the shard
// task queue (any worker takes each; a lost worker's shards alone run
// again) and one MergeShards, which returns what Analyze would. Only keys
// and counts pass through the history: profiles are stored beside the
// reports, and deleted once the report is written or the evaluation failed
// (ChangeDropFailedShards). It keeps p up to date as shards finish.
func analyzeWindow(ctx, long workflow.Context, model string, start, end time.Time, metrics []string, res *activities.AnalyzeResult, p *MonitorProgress) error {
	info := workflow.GetInfo(ctx)
	run := info.WorkflowExecution.RunID
	short := workflow.WithActivityOptions(ctx, activityOptions(2*time.Minute, 5))
	p.Stage = StagePlanning
	var plan activities.PlanShardsResult
	if err := workflow.ExecuteActivity(short, a.PlanShards, activities.PlanShardsInput{
		Model: model, WindowStart: start, WindowEnd: end, Run: run,
	}).Get(ctx, &plan); err != nil {
		return fmt.Errorf("plan shards: %w", err)
	}
	if plan.Shards == 0 {
		p.Stage = StageAnalyzing
		return workflow.ExecuteActivity(long, a.Analyze, activities.AnalyzeInput{
			Model: model, WindowStart: start, WindowEnd: end, Metrics: metrics,
		}).Get(ctx, res)
	}
	drop := func(ctx workflow.Context) error {
		return workflow.ExecuteActivity(ctx, a.DropShards, activities.DropShardsInput{Model: model, Run: run}).Get(ctx, nil)
	}
	// dropsOnFailure is ChangeDropFailedShards, asked at the first failure
	// only, so that an evaluation that succeeds records no marker.
	version, asked := workflow.DefaultVersion, false
	dropsOnFailure := func() bool {
		if !asked {
			version, asked = workflow.GetVersion(ctx, ChangeDropFailedShards, workflow.DefaultVersion, 1), true
		}
		return version == 1
	}
	// failed ends the evaluation with err, first deleting its documents
	// (even when the workflow was cancelled) from the change on.
	failed := func(err error) error {
		if dropsOnFailure() {
			dctx, _ := workflow.NewDisconnectedContext(short)
			if dropErr := drop(dctx); dropErr != nil {
				workflow.GetLogger(ctx).Warn("delete shard documents", "model", model, "err", dropErr)
			}
		}
		return err
	}

	p.Stage, p.Shards, p.Objects, p.Bytes = StageProfiling, plan.Shards, plan.Objects, plan.Bytes
	opts := workflow.GetActivityOptions(long)
	opts.TaskQueue = ShardTaskQueue(info.TaskQueueName)
	shardCtx := workflow.WithActivityOptions(ctx, opts)
	// Shards finish in any order; each is counted as it does.
	sel := workflow.NewSelector(ctx)
	done := make([]bool, plan.Shards)
	errs := make([]error, plan.Shards)
	for i := range plan.Shards {
		f := workflow.ExecuteActivity(shardCtx, a.ProfileShard, activities.ProfileShardInput{
			Model: model, WindowStart: start, WindowEnd: end, Run: run, Shard: i,
		})
		sel.AddFuture(f, func(f workflow.Future) {
			var r activities.ProfileShardResult
			done[i] = true
			if errs[i] = f.Get(ctx, &r); errs[i] == nil {
				p.ShardsDone++
				p.Rows += r.Rows
			}
		})
	}
	shardErr := func(i int) error { return fmt.Errorf("profile shard %d of %d: %w", i, plan.Shards, errs[i]) }
	isErr := func(err error) bool { return err != nil }
	for range plan.Shards {
		sel.Select(ctx)
		if slices.ContainsFunc(errs, isErr) && !dropsOnFailure() {
			// Before the change, shards were awaited in order: a failed
			// shard failed the evaluation once those before it were done.
			for i := 0; i < plan.Shards && done[i]; i++ {
				if errs[i] != nil {
					return failed(shardErr(i))
				}
			}
		}
	}
	// From the change on, a failed shard fails the evaluation once every
	// shard has ended, so that none writes a document after the deletion.
	if i := slices.IndexFunc(errs, isErr); i >= 0 {
		return failed(shardErr(i))
	}
	p.Stage = StageMerging
	if err := workflow.ExecuteActivity(long, a.MergeShards, activities.MergeShardsInput{
		Model: model, WindowStart: start, WindowEnd: end, Metrics: metrics, Run: run, Shards: plan.Shards,
	}).Get(ctx, res); err != nil {
		return failed(fmt.Errorf("merge %d shards: %w", plan.Shards, err))
	}
	// Best effort: a document left behind costs storage, not correctness
	// (and PlanShards deletes it after analysis.shard_retention).
	if err := drop(short); err != nil {
		workflow.GetLogger(ctx).Warn("delete shard documents", "model", model, "err", err)
	}
	return nil
}

// windowEnd is the explicit end, the schedule's nominal time, or now.
func windowEnd(ctx workflow.Context, in MonitorInput) time.Time {
	if !in.WindowEnd.IsZero() {
		return in.WindowEnd.UTC()
	}
	// Schedules stamp each run with its nominal time; backfills get the time
	// they make up, not the time they run.
	key := temporal.NewSearchAttributeKeyTime("TemporalScheduledStartTime")
	if t, ok := workflow.GetTypedSearchAttributes(ctx).GetTime(key); ok && !t.IsZero() {
		return t.UTC()
	}
	return workflow.Now(ctx).UTC()
}

// CheckRules applies the model's rules to an analysis result. A rule whose
// metric has no value (no labels yet, no latency column) neither breaches
// nor recovers; nor does any rule on an incomplete window, whose numbers
// (in its report) cover only the objects that could be read, or on an
// invalid one, which has no numbers. On a window with fewer rows than
// min_rows, too small for a verdict, only rules on row counts (rows.*) are
// judged: a count is exact at any size, and a low-traffic rule must still
// fire and recover.
func CheckRules(spec activities.ModelSpec, res activities.AnalyzeResult) []activities.RuleResult {
	out := make([]activities.RuleResult, 0, len(spec.Rules))
	for _, r := range spec.Rules {
		v, ok := res.Metrics[r.Metric]
		if res.Incomplete || res.InvalidReason != "" || (res.InsufficientData && !strings.HasPrefix(r.Metric, "rows.")) {
			v, ok = 0, false
		}
		rr := activities.RuleResult{
			Rule: r.Name, Metric: r.Metric, Value: v, HasValue: ok,
			Breached: ok && r.Breached(v), Threshold: r.Threshold(),
		}
		if r.Auto() {
			b, has := res.Bands[r.Metric]
			rr.Breached, rr.Threshold = r.BandVerdict(v, ok, has, b.Lower, b.Upper, b.Note)
		}
		out = append(out, rr)
	}
	return out
}

// statusOf is invalid for a window whose data cannot be analysed as
// configured, incomplete for a window with unreadable objects, else breach
// when a critical rule breached, warning for a lesser one, no-data for an
// empty window, insufficient-data for one with fewer rows than min_rows
// (where only row-count rules are judged), and ok otherwise.
func statusOf(spec activities.ModelSpec, res activities.AnalyzeResult, results []activities.RuleResult) string {
	if res.InvalidReason != "" {
		return StatusInvalid
	}
	if res.Incomplete {
		return StatusIncomplete
	}
	status := StatusOK
	switch {
	case res.Rows == 0:
		status = StatusNoData
	case res.InsufficientData:
		status = StatusInsufficientData
	}
	for i, rr := range results {
		if !rr.Breached {
			continue
		}
		if spec.Rules[i].Severity == "critical" {
			return StatusBreach
		}
		status = StatusWarning
	}
	return status
}
