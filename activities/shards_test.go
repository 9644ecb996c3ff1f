package activities

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/store"
)

func shardedModel(t *testing.T, objects, perShard int) (*Activities, PlanShardsInput) {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ref.csv"), []byte("x\n1\n2\n3\n"), 0o644)
	hour := filepath.Join(dir, "pred", "2026", "03", "01", "10")
	os.MkdirAll(hour, 0o755)
	for i := range objects {
		os.WriteFile(filepath.Join(hour, fmt.Sprintf("part-%02d.csv", i)), []byte("x\n1\n"), 0o644)
	}
	cfg, err := config.Parse("vigil.yaml", []byte(fmt.Sprintf(`
analysis: {shard_objects: %d}
models:
  - name: churn
    source: {uri: "file://%s/pred", format: csv}
    reference: {uri: "file://%s/ref.csv"}
`, perShard, dir, dir)), config.Options{SkipEnv: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Storage.Reports = "file://" + filepath.Join(dir, "reports")
	a := &Activities{Config: func() *config.Config { return cfg }, Store: store.New(cfg.Storage)}
	from := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	return a, PlanShardsInput{Model: "churn", WindowStart: from, WindowEnd: from.Add(time.Hour), Run: "run-1"}
}

// A window is sharded only when it has more objects than shard_objects,
// into ceil(objects / shard_objects) shards, and never into more than
// MaxShards: more objects make larger shards.
func TestPlanShards(t *testing.T) {
	defer func(n int) { MaxShards = n }(MaxShards)
	MaxShards = 3
	for _, tc := range []struct {
		objects, per, shards int
	}{
		{objects: 2, per: 2, shards: 0},
		{objects: 3, per: 2, shards: 2},
		{objects: 6, per: 2, shards: 3},
		{objects: 7, per: 2, shards: 3}, // 3 objects per shard, the last one 1
		{objects: 7, per: 1, shards: 3},
		{objects: 4, per: 0, shards: 0}, // sharding off
	} {
		a, in := shardedModel(t, tc.objects, tc.per)
		res, err := a.PlanShards(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		if res.Shards != tc.shards {
			t.Errorf("%d objects, shard_objects %d: %d shards, want %d", tc.objects, tc.per, res.Shards, tc.shards)
		}
		if tc.shards == 0 {
			continue
		}
		plan, err := a.readPlan(context.Background(), a.Config().Model("churn"), in.Run)
		if err != nil {
			t.Fatal(err)
		}
		if len(plan.Objects) != tc.objects || plan.shards() != tc.shards {
			t.Errorf("plan lists %d objects in %d shards, want %d in %d", len(plan.Objects), plan.shards(), tc.objects, tc.shards)
		}
	}
}

// Planning deletes the shard documents of the model's runs whose newest
// document is older than analysis.shard_retention (24h here), except the
// run's own; younger runs may be under way and stay. The sweep is best
// effort: out of time before it could list, the plan is made all the same.
func TestPlanShardsDropsStaleRuns(t *testing.T) {
	a, in := shardedModel(t, 3, 2)
	ctx := context.Background()
	reports := strings.TrimPrefix(a.Config().Storage.Reports, "file://")
	write := func(run string, age time.Duration) {
		t.Helper()
		for _, doc := range []string{"plan.json", "shard-00000.json"} {
			if _, err := a.Store.WriteShard(ctx, "churn", run, doc, []byte("{}")); err != nil {
				t.Fatal(err)
			}
			at := time.Now().Add(-age)
			if err := os.Chtimes(filepath.Join(reports, "_shards", "churn", run, doc), at, at); err != nil {
				t.Fatal(err)
			}
		}
	}
	runs := func() []string {
		t.Helper()
		rs, err := a.Store.ShardRuns(ctx, "churn")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rs {
			out = append(out, r.Run)
		}
		return out
	}

	defer func(d time.Duration) { staleShardsBudget = d }(staleShardsBudget)
	staleShardsBudget = 0
	write("killed", 25*time.Hour)
	if res, err := a.PlanShards(ctx, in); err != nil || res.Shards != 2 {
		t.Fatalf("PlanShards without time to sweep = %+v, %v; want the plan", res, err)
	}
	if got := fmt.Sprint(runs()); got != "[killed run-1]" {
		t.Fatalf("runs %s after a sweep out of time, want both", got)
	}

	staleShardsBudget = 30 * time.Second
	write("run-1", 48*time.Hour) // the run's own documents, from an earlier attempt
	write("under-way", 23*time.Hour)
	write("terminated", 24*time.Hour+time.Minute)
	if _, err := a.PlanShards(ctx, in); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(runs()); got != "[run-1 under-way]" {
		t.Errorf("runs %s after planning, want run-1 and under-way (killed and terminated are older than 24h)", got)
	}
}
