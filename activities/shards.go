package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/vigilml/vigil/analysis"
	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/store"
)

// A window of more objects than analysis.shard_objects is evaluated in
// shards: PlanShards lists the window once and stores the listing and the
// reference's schema (the plan); one ProfileShard per group of
// shard_objects consecutive objects profiles them, on any worker, into a
// mergeable profile stored beside the reports; MergeShards profiles the
// reference, merges the shards in order and ends as Analyze does. Only
// keys and counts travel through the workflow's history.

// ErrStalePlan marks a sharded evaluation whose reference changed schema
// after its shards were planned: the shards cannot be compared with it, and
// evaluating the window again plans it anew.
const ErrStalePlan = "VigilStalePlan"

// shardPlan is the plan document of a sharded evaluation.
type shardPlan struct {
	// Objects is the window's listing; shard i holds
	// Objects[i*PerShard : (i+1)*PerShard].
	Objects  []store.WindowObject `json:"objects"`
	PerShard int                  `json:"per_shard"`
	Bytes    int64                `json:"bytes"`
	Schema   *analysis.Schema     `json:"schema"`
}

func (p *shardPlan) shards() int { return (len(p.Objects) + p.PerShard - 1) / p.PerShard }

// shardInfo is what a shard read, beside its profile.
type shardInfo struct {
	Window store.WindowInfo `json:"window"`
	// Invalid says why the shard's data cannot be analysed as configured
	// (the window is then invalid); it has no profile.
	Invalid string `json:"invalid,omitempty"`
}

const planDoc = "plan.json"

// MaxShards bounds the shards of one window, and so the activities in one
// workflow history (three events each): a window of more objects than
// MaxShards × shard_objects gets proportionally larger shards.
var MaxShards = 1000

func shardDocs(i int) (info, profile string) {
	return fmt.Sprintf("shard-%05d.json", i), fmt.Sprintf("shard-%05d.profile.gob", i)
}

// PlanShards decides whether a window is evaluated in shards: with
// analysis.shard_objects set and more objects in the window than it (and no
// shadow variant, whose records pair across objects), it stores the plan
// and returns the number of shards; otherwise Shards is 0 and the window is
// one Analyze. A reference whose schema cannot be inferred also gets 0:
// Analyze reports why. First, it deletes the model's shard documents that
// no workflow will (dropStaleShards).
func (a *Activities) PlanShards(ctx context.Context, in PlanShardsInput) (*PlanShardsResult, error) {
	m, cfg, err := a.model(in.Model)
	if err != nil {
		return nil, err
	}
	a.dropStaleShards(ctx, m.Name, in.Run, cfg.Analysis.ShardRetention.D())
	per := cfg.Analysis.ShardObjects
	if per <= 0 || m.Source.ShadowVariant != "" {
		return &PlanShardsResult{}, nil
	}
	objs, err := a.Store.ListWindow(ctx, m, in.WindowStart, in.WindowEnd)
	if err != nil {
		return nil, storeErr(fmt.Errorf("list window of %s: %w", m.Name, err))
	}
	if len(objs) <= per {
		return &PlanShardsResult{Objects: len(objs)}, nil
	}
	opts := m.AnalysisOptions()
	if err := opts.Validate(); err != nil {
		return &PlanShardsResult{Objects: len(objs)}, nil // Analyze fails it as configured
	}
	ref, closeRef, err := a.Store.OpenReference(ctx, m.Reference)
	if err != nil {
		return nil, storeErr(fmt.Errorf("open reference %s: %w", m.Reference.URI, err))
	}
	schema, err := analysis.ReferenceSchema(ref, opts)
	closeRef.Close()
	if err != nil {
		if ioErr := ref.Err(); ioErr != nil {
			return nil, storeErr(fmt.Errorf("read reference %s: %w", m.Reference.URI, ioErr))
		}
		return &PlanShardsResult{Objects: len(objs)}, nil
	}
	per = max(per, (len(objs)+MaxShards-1)/MaxShards)
	plan := shardPlan{Objects: objs, PerShard: per, Schema: schema}
	for _, o := range objs {
		plan.Bytes += o.Size
	}
	body, err := json.Marshal(plan)
	if err != nil {
		return nil, fmt.Errorf("encode shard plan: %w", err)
	}
	if _, err := a.Store.WriteShard(ctx, m.Name, in.Run, planDoc, body); err != nil {
		return nil, storeErr(fmt.Errorf("write shard plan of %s: %w", m.Name, err))
	}
	a.log(ctx).Info("window sharded", "model", m.Name, "window_start", in.WindowStart, "objects", len(objs),
		"shards", plan.shards(), "bytes", plan.Bytes)
	return &PlanShardsResult{Shards: plan.shards(), Objects: len(objs), Bytes: plan.Bytes}, nil
}

// staleShardsBudget bounds the time PlanShards spends deleting stale shard
// documents, within its own timeout: what is left is deleted by the next.
var staleShardsBudget = 30 * time.Second

// dropStaleShards deletes the shard documents of the model's runs other
// than run whose newest document is older than retention: runs whose
// workflow ended without deleting them (a worker killed, a workflow
// terminated or timed out). A run under way writes a document as each
// shard ends, and analysis.shard_retention is at least a run's timeout.
// Best effort: it logs what fails and never fails the plan.
func (a *Activities) dropStaleShards(ctx context.Context, model, run string, retention time.Duration) {
	if retention <= 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, staleShardsBudget)
	defer cancel()
	runs, err := a.Store.ShardRuns(ctx, model)
	if err != nil {
		a.log(ctx).Warn("list shard documents", "model", model, "err", err)
		return
	}
	cut := time.Now().Add(-retention)
	for _, r := range runs {
		if r.Run == run || !r.Newest.Before(cut) {
			continue
		}
		if err := a.Store.DeleteShards(ctx, model, r.Run); err != nil {
			a.log(ctx).Warn("delete stale shard documents", "model", model, "run", r.Run, "err", err)
			if ctx.Err() != nil {
				return
			}
			continue
		}
		a.log(ctx).Info("stale shard documents deleted", "model", model, "run", r.Run, "newest", r.Newest)
	}
}

func (a *Activities) readPlan(ctx context.Context, m *config.Model, run string) (*shardPlan, error) {
	body, err := a.Store.ReadShard(ctx, m.Name, run, planDoc)
	if err != nil {
		return nil, storeErr(fmt.Errorf("read shard plan of %s run %s: %w", m.Name, run, err))
	}
	var plan shardPlan
	if err := json.Unmarshal(body, &plan); err != nil || plan.PerShard <= 0 {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("shard plan of %s run %s is unreadable: %v", m.Name, run, err), ErrStalePlan, err)
	}
	return &plan, nil
}

// ShardProgress is a shard's heartbeat detail: the rows profiled so far.
type ShardProgress struct {
	Rows int64
}

// ProfileShard profiles one shard of a planned window into a profile
// stored beside the reports (the same document whichever attempt writes
// it), heartbeating the rows read. Objects it cannot read make it fail for
// another read until attempt IncompleteAttempts, as Analyze does; from then
// the shard is recorded as incomplete. Data that cannot be analysed as
// configured is recorded as the shard's reason, for MergeShards to report
// the window invalid.
func (a *Activities) ProfileShard(ctx context.Context, in ProfileShardInput) (*ProfileShardResult, error) {
	m, _, err := a.model(in.Model)
	if err != nil {
		return nil, err
	}
	plan, err := a.readPlan(ctx, m, in.Run)
	if err != nil {
		return nil, err
	}
	if in.Shard < 0 || in.Shard >= plan.shards() {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("shard %d of %s run %s: the plan has %d", in.Shard, m.Name, in.Run, plan.shards()), ErrStalePlan, nil)
	}
	objs := plan.Objects[in.Shard*plan.PerShard : min((in.Shard+1)*plan.PerShard, len(plan.Objects))]
	opts := m.AnalysisOptions()
	if err := opts.Validate(); err != nil {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("model %s: %v", m.Name, err), ErrConfig, err)
	}
	cur, info, err := a.Store.OpenWindowObjects(ctx, m, in.WindowStart, in.WindowEnd, objs)
	if err != nil {
		return nil, storeErr(fmt.Errorf("open shard %d of %s: %w", in.Shard, m.Name, err))
	}
	if c, ok := cur.(interface{ Close() error }); ok {
		defer c.Close()
	}
	counted := &countingRows{Rows: readableRows{cur}}
	stop := progress(ctx, 10*time.Second, func() any { return ShardProgress{Rows: counted.n.Load()} })
	p, err := analysis.ProfileShard(counted, plan.Schema, opts)
	stop()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if ioErr := cur.Err(); ioErr != nil && !errors.Is(ioErr, store.ErrIncomplete) {
			return nil, storeErr(fmt.Errorf("read shard %d of %s: %w", in.Shard, m.Name, ioErr))
		}
		reason := fmt.Sprintf("analyze %s: %v", m.Name, sideError(err, m, in.WindowStart, in.WindowEnd))
		if err := a.writeShardInfo(ctx, m, in, shardInfo{Window: *info, Invalid: reason}); err != nil {
			return nil, err
		}
		return &ProfileShardResult{Objects: info.Objects, Invalid: true}, nil
	}
	if info.Incomplete && activity.IsActivity(ctx) && activity.GetInfo(ctx).Attempt < IncompleteAttempts {
		return nil, temporal.NewApplicationError(fmt.Sprintf("shard %d of %s incomplete, reading it again: %s",
			in.Shard, m.Name, strings.Join(info.Errors, "; ")), ErrIncomplete)
	}
	if info.Bytes > 0 {
		// A shard of a window that will be sketched is stored as a sketch.
		p.SketchFor(int64(float64(p.Rows) * float64(plan.Bytes) / float64(info.Bytes)))
	}
	body, err := analysis.EncodeProfile(p)
	if err != nil {
		return nil, err
	}
	// The profile first, then the info that MergeShards reads first.
	_, profDoc := shardDocs(in.Shard)
	if _, err := a.Store.WriteShard(ctx, m.Name, in.Run, profDoc, body); err != nil {
		return nil, storeErr(fmt.Errorf("write profile of shard %d of %s: %w", in.Shard, m.Name, err))
	}
	if err := a.writeShardInfo(ctx, m, in, shardInfo{Window: *info}); err != nil {
		return nil, err
	}
	a.log(ctx).Info("shard profiled", "model", m.Name, "window_start", in.WindowStart, "shard", in.Shard,
		"objects", info.Objects, "rows", p.Rows, "profile_bytes", len(body), "incomplete", info.Incomplete)
	return &ProfileShardResult{Rows: p.Rows, Objects: info.Objects, Bytes: info.Bytes, ProfileBytes: len(body)}, nil
}

func (a *Activities) writeShardInfo(ctx context.Context, m *config.Model, in ProfileShardInput, si shardInfo) error {
	body, err := json.Marshal(si)
	if err != nil {
		return fmt.Errorf("encode shard info: %w", err)
	}
	infoDoc, _ := shardDocs(in.Shard)
	if _, err := a.Store.WriteShard(ctx, m.Name, in.Run, infoDoc, body); err != nil {
		return storeErr(fmt.Errorf("write shard %d of %s: %w", in.Shard, m.Name, err))
	}
	return nil
}

// MergeShards profiles the reference, merges the shards' profiles in shard
// order and stores the report as Analyze does, returning the same result.
func (a *Activities) MergeShards(ctx context.Context, in MergeShardsInput) (*AnalyzeResult, error) {
	m, _, err := a.model(in.Model)
	if err != nil {
		return nil, err
	}
	started := time.Now()
	ain := AnalyzeInput{Model: in.Model, WindowStart: in.WindowStart, WindowEnd: in.WindowEnd, Metrics: in.Metrics}
	rep, info, err := a.mergeShards(ctx, m, in)
	if reason, ok := invalidData(err); ok {
		return a.invalidWindow(ctx, m, ain, info, reason, started)
	}
	if err != nil {
		if a.Metrics != nil {
			a.Metrics.EvaluationFailed(m.Name, "analyze")
		}
		return nil, err
	}
	return a.finishAnalysis(ctx, m, ain, rep, info, started)
}

func (a *Activities) mergeShards(ctx context.Context, m *config.Model, in MergeShardsInput) (*analysis.Report, *store.WindowInfo, error) {
	plan, err := a.readPlan(ctx, m, in.Run)
	if err != nil {
		return nil, nil, err
	}
	if plan.shards() != in.Shards {
		return nil, nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s run %s: %d shards profiled, the plan has %d", m.Name, in.Run, in.Shards, plan.shards()), ErrStalePlan, nil)
	}
	opts := m.AnalysisOptions()
	if err := opts.Validate(); err != nil {
		return nil, nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("model %s: %v", m.Name, err), ErrConfig, err)
	}
	stop := heartbeat(ctx, 10*time.Second)
	defer stop()
	info := &store.WindowInfo{From: in.WindowStart, To: in.WindowEnd}
	var cur *analysis.Profile
	var invalid string // the first shard's reason, once every shard is counted
	for i := range in.Shards {
		infoDoc, profDoc := shardDocs(i)
		body, err := a.Store.ReadShard(ctx, m.Name, in.Run, infoDoc)
		if err != nil {
			return nil, nil, storeErr(fmt.Errorf("read shard %d of %s: %w", i, m.Name, err))
		}
		var si shardInfo
		if err := json.Unmarshal(body, &si); err != nil {
			return nil, nil, fmt.Errorf("decode shard %d of %s: %w", i, m.Name, err)
		}
		addWindowInfo(info, &si.Window)
		if invalid == "" {
			invalid = si.Invalid
		}
		if invalid != "" {
			continue
		}
		body, err = a.Store.ReadShard(ctx, m.Name, in.Run, profDoc)
		if err != nil {
			return nil, nil, storeErr(fmt.Errorf("read profile of shard %d of %s: %w", i, m.Name, err))
		}
		p, err := analysis.DecodeProfile(body)
		if err != nil {
			return nil, nil, fmt.Errorf("shard %d of %s: %w", i, m.Name, err)
		}
		if cur == nil {
			cur = p
		} else if err := cur.Merge(p); err != nil {
			return nil, nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("shard %d of %s: %v", i, m.Name, err), ErrStalePlan, err)
		}
	}
	if invalid != "" {
		return nil, info, temporal.NewNonRetryableApplicationError(invalid, ErrBadData, nil)
	}
	ref, closeRef, err := a.Store.OpenReference(ctx, m.Reference)
	if err != nil {
		return nil, nil, storeErr(fmt.Errorf("open reference %s: %w", m.Reference.URI, err))
	}
	defer closeRef.Close()
	refP, err := analysis.ProfileReference(ref, opts)
	if err == nil && !reflect.DeepEqual(refP.Schema, plan.Schema) {
		return nil, nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"reference %s of %s changed while window %s was profiled in shards: evaluate the window again",
			m.Reference.URI, m.Name, in.WindowStart.Format(time.RFC3339)), ErrStalePlan, nil)
	}
	var rep *analysis.Report
	if err == nil {
		rep, err = analysis.CompareProfiles(refP, cur, opts)
	}
	if err == nil {
		err = analysis.CheckVerdict(rep)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		if ioErr := ref.Err(); ioErr != nil {
			return nil, nil, storeErr(fmt.Errorf("read reference of %s: %w", m.Name, ioErr))
		}
		return nil, info, temporal.NewNonRetryableApplicationError(fmt.Sprintf("analyze %s: %v", m.Name, sideError(err, m, in.WindowStart, in.WindowEnd)), ErrBadData, err)
	}
	return rep, info, nil
}

// addWindowInfo adds what a shard read to the window's total.
func addWindowInfo(w, s *store.WindowInfo) {
	w.Objects += s.Objects
	w.Bytes += s.Bytes
	w.Rows += s.Rows
	w.Labeled += s.Labeled
	w.Invalid += s.Invalid
	w.LabelObjects += s.LabelObjects
	w.Labels += s.Labels
	if s.Incomplete {
		w.Incomplete = true
		for _, e := range s.Errors {
			if len(w.Errors) < 20 {
				w.Errors = append(w.Errors, e)
			}
		}
	}
}

// DropShards removes a sharded evaluation's documents once its report is
// stored, or once it failed.
func (a *Activities) DropShards(ctx context.Context, in DropShardsInput) error {
	if err := a.Store.DeleteShards(ctx, in.Model, in.Run); err != nil {
		return storeErr(fmt.Errorf("delete shard documents of %s run %s: %w", in.Model, in.Run, err))
	}
	return nil
}

// countingRows counts the rows read, for heartbeats from another goroutine.
type countingRows struct {
	analysis.Rows
	n atomic.Int64
}

func (c *countingRows) Next() bool {
	if c.Rows.Next() {
		c.n.Add(1)
		return true
	}
	return false
}

// progress heartbeats detail() (nothing when detail is nil) every period
// until stopped.
func progress(ctx context.Context, every time.Duration, detail func() any) (stop func()) {
	if !activity.IsActivity(ctx) {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if detail == nil {
					activity.RecordHeartbeat(ctx)
				} else {
					activity.RecordHeartbeat(ctx, detail())
				}
			}
		}
	}()
	return func() { close(done) }
}
