package workflows

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/vigilml/vigil/activities"
	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/store"
)

// shardedEnv is a test environment whose model is evaluated in three
// shards of a 7-object, 7,000-byte plan; no rules, so nothing is signalled.
func shardedEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.OnActivity(a.LoadModel, mock.Anything, mock.Anything).Return(
		&activities.ModelSpec{Name: "churn", Window: time.Hour, ShardObjects: 3}, nil)
	env.OnActivity(a.PlanShards, mock.Anything, mock.Anything).Return(
		&activities.PlanShardsResult{Shards: 3, Objects: 7, Bytes: 7000}, nil)
	env.OnActivity(a.PublishMetrics, mock.Anything, mock.Anything).Return(nil)
	return env
}

// shard matches the input of one shard.
func shard(i int) any {
	return mock.MatchedBy(func(in activities.ProfileShardInput) bool { return in.Shard == i })
}

func queryProgress(t *testing.T, env *testsuite.TestWorkflowEnvironment) MonitorProgress {
	t.Helper()
	v, err := env.QueryWorkflow(QueryProgress)
	if err != nil {
		t.Fatalf("query %s: %v", QueryProgress, err)
	}
	var p MonitorProgress
	if err := v.Get(&p); err != nil {
		t.Fatal(err)
	}
	return p
}

// The progress query counts each shard as it finishes, in whatever order
// (here 2, then 0, then 1), with the rows it profiled, beside the plan's
// objects and bytes; then the stages follow to done.
func TestProgressQueryCountsShardsAsTheyFinish(t *testing.T) {
	env := shardedEnv(t)
	for i, d := range []struct {
		after time.Duration
		rows  int64
	}{{3 * time.Minute, 100}, {5 * time.Minute, 1000}, {time.Minute, 10}} {
		env.OnActivity(a.ProfileShard, mock.Anything, shard(i)).After(d.after).Return(&activities.ProfileShardResult{Rows: d.rows, Objects: 3}, nil)
	}
	env.OnActivity(a.MergeShards, mock.Anything, mock.Anything).After(time.Minute).Return(&activities.AnalyzeResult{Rows: 1110}, nil)
	env.OnActivity(a.DropShards, mock.Anything, mock.Anything).Return(nil)
	var got []MonitorProgress
	for _, at := range []time.Duration{30 * time.Second, 2 * time.Minute, 4 * time.Minute, 5*time.Minute + 30*time.Second} {
		env.RegisterDelayedCallback(func() { got = append(got, queryProgress(t, env)) }, at)
	}
	env.ExecuteWorkflow(MonitorWorkflow, MonitorInput{Model: "churn", WindowEnd: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	got = append(got, queryProgress(t, env))
	plan := MonitorProgress{Shards: 3, Objects: 7, Bytes: 7000}
	at := func(stage string, done int, rows int64) MonitorProgress {
		p := plan
		p.Stage, p.ShardsDone, p.Rows = stage, done, rows
		return p
	}
	want := []MonitorProgress{
		at(StageProfiling, 0, 0),
		at(StageProfiling, 1, 10),  // shard 2
		at(StageProfiling, 2, 110), // and shard 0
		at(StageMerging, 3, 1110),  // and shard 1
		at(StageDone, 3, 1110),     // after the run
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("progress\n%+v\nwant\n%+v", got, want)
	}
}

// Without shards the query still says where the evaluation is.
func TestProgressQueryOneActivity(t *testing.T) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.OnActivity(a.LoadModel, mock.Anything, mock.Anything).Return(&activities.ModelSpec{Name: "churn", Window: time.Hour}, nil)
	env.OnActivity(a.Analyze, mock.Anything, mock.Anything).After(time.Minute).Return(&activities.AnalyzeResult{Rows: 5}, nil)
	env.OnActivity(a.PublishMetrics, mock.Anything, mock.Anything).Return(nil)
	var mid MonitorProgress
	env.RegisterDelayedCallback(func() { mid = queryProgress(t, env) }, 30*time.Second)
	env.ExecuteWorkflow(MonitorWorkflow, MonitorInput{Model: "churn", WindowEnd: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if end := queryProgress(t, env); mid != (MonitorProgress{Stage: StageAnalyzing}) || end != (MonitorProgress{Stage: StageDone}) {
		t.Errorf("progress %+v during Analyze and %+v after, want stages %q and %q only", mid, end, StageAnalyzing, StageDone)
	}
}

// A sharded evaluation that fails after its plan was stored deletes its
// shard documents before failing, through the real DropShards and store:
// when a shard fails (once the other shards have ended, so that none
// writes a document afterwards) and when the merge fails. Histories from
// before ChangeDropFailedShards keep failing as they did: at the first
// failed shard in shard order, documents left behind.
func TestFailedShardedEvaluationDropsItsDocuments(t *testing.T) {
	for _, tc := range []struct {
		name       string
		badShard   int // -1: the merge fails
		oldVersion bool
		wantErr    string
		wantDocs   bool
	}{
		{name: "shard fails", badShard: 1, wantErr: "profile shard 1 of 3"},
		{name: "merge fails", badShard: -1, wantErr: "merge 3 shards"},
		{name: "shard fails before the change", badShard: 1, oldVersion: true, wantErr: "profile shard 1 of 3", wantDocs: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &config.Config{Storage: config.Storage{Reports: "file://" + t.TempDir()}}
			acts := &activities.Activities{Config: func() *config.Config { return cfg }, Store: store.New(cfg.Storage)}
			env := shardedEnv(t)
			env.RegisterActivity(acts)
			var mu sync.Mutex
			var order []string
			note := func(s string) {
				mu.Lock()
				defer mu.Unlock()
				order = append(order, s)
			}
			var run string
			for i, after := range []time.Duration{time.Minute, 2 * time.Minute, 3 * time.Minute} {
				env.OnActivity(a.ProfileShard, mock.Anything, shard(i)).After(after).Return(
					func(ctx context.Context, in activities.ProfileShardInput) (*activities.ProfileShardResult, error) {
						run = in.Run
						if _, err := acts.Store.WriteShard(ctx, in.Model, in.Run, fmt.Sprintf("shard-%05d.json", in.Shard), []byte("{}")); err != nil {
							return nil, err
						}
						note(fmt.Sprintf("shard %d", in.Shard))
						if in.Shard == tc.badShard {
							return nil, temporal.NewNonRetryableApplicationError("shard plan unreadable", activities.ErrStalePlan, nil)
						}
						return &activities.ProfileShardResult{Rows: 10}, nil
					})
			}
			env.OnActivity(a.MergeShards, mock.Anything, mock.Anything).Return(nil,
				temporal.NewNonRetryableApplicationError("reference changed", activities.ErrStalePlan, nil))
			env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
				if info.ActivityType.Name == "DropShards" {
					note("drop")
				}
			})
			if tc.oldVersion {
				env.OnGetVersion(ChangeDropFailedShards, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
			}
			env.ExecuteWorkflow(MonitorWorkflow, MonitorInput{Model: "churn", WindowEnd: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)})
			err := env.GetWorkflowError()
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), activities.ErrStalePlan) {
				t.Fatalf("workflow error %v, want %q from the activity's %s", err, tc.wantErr, activities.ErrStalePlan)
			}
			runs, lsErr := acts.Store.ShardRuns(context.Background(), "churn")
			if lsErr != nil {
				t.Fatal(lsErr)
			}
			if left := len(runs) > 0; left != tc.wantDocs {
				t.Errorf("runs with shard documents after the failure: %+v (run %s), want documents left %v", runs, run, tc.wantDocs)
			}
			want := "[shard 0 shard 1 shard 2 drop]"
			if tc.oldVersion {
				want = "[shard 0 shard 1]" // failed at shard 1, shard 2 still running
			}
			mu.Lock()
			defer mu.Unlock()
			if fmt.Sprint(order) != want {
				t.Errorf("activities %v, want %s", order, want)
			}
		})
	}
}
