package control

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/workflows"
)

// ScheduleChange is what ApplySchedules did to one model's schedule.
type ScheduleChange struct {
	Model  string
	ID     string
	Action string // created | updated | unchanged | deleted
}

// ScheduleOptions is the schedule Vigil wants for a model: every
// `schedule.every` (plus up to `schedule.jitter`), overlapping runs skipped (a slow evaluation must not pile
// up), each run bounded by MonitorRunTimeout (a stuck one must not skip
// windows for hours), missed runs made up within `catchup_window` after an
// outage.
func ScheduleOptions(m *config.Model, taskQueue string) client.ScheduleOptions {
	return client.ScheduleOptions{
		ID: workflows.ScheduleID(m.Name),
		Spec: client.ScheduleSpec{
			Intervals: []client.ScheduleIntervalSpec{{Every: m.Schedule.Every.D()}},
			Jitter:    m.Schedule.Jitter.D(),
		},
		Action: &client.ScheduleWorkflowAction{
			ID:                    workflows.ScheduleID(m.Name),
			Workflow:              workflows.MonitorWorkflow,
			Args:                  []any{workflows.MonitorInput{Model: m.Name}},
			TaskQueue:             taskQueue,
			TypedSearchAttributes: modelAttrs(m.Name),
			WorkflowRunTimeout:    MonitorRunTimeout(m),
		},
		Overlap:       enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		CatchupWindow: m.Schedule.CatchupWindow.D(),
		Paused:        m.Schedule.Paused,
		Note:          "managed by vigil: edit the config and run `starter apply`",
	}
}

// MonitorRunTimeout bounds one scheduled evaluation: schedule.run_timeout,
// or config.DefaultRunTimeout of the cadence. A run that times out leaves
// its window unevaluated (the schedule counts the windows it skipped
// meanwhile; the worker exports them as vigil_schedule_skipped_windows).
func MonitorRunTimeout(m *config.Model) time.Duration {
	if m.Schedule.RunTimeout > 0 {
		return m.Schedule.RunTimeout.D()
	}
	return config.DefaultRunTimeout(m.Schedule.Every.D())
}

// ApplySchedules creates or updates one schedule per configured model; with
// prune it deletes Vigil schedules whose model left the config (only when
// every model applied). Running it twice changes nothing the second time. A
// failure for one model is reported after the others were applied.
func ApplySchedules(ctx context.Context, c client.Client, dc converter.DataConverter, cfg *config.Config, prune bool) ([]ScheduleChange, error) {
	if dc == nil {
		dc = converter.GetDefaultDataConverter()
	}
	sc := c.ScheduleClient()
	var changes []ScheduleChange
	var errs []error
	wanted := map[string]bool{}
	for i := range cfg.Models {
		m := &cfg.Models[i]
		opts := ScheduleOptions(m, cfg.Temporal.TaskQueue)
		wanted[opts.ID] = true
		action, err := applyOne(ctx, sc, dc, opts)
		if err != nil {
			// One model's failure must not leave the others unscheduled.
			errs = append(errs, fmt.Errorf("schedule of model %s: %w", m.Name, err))
			continue
		}
		changes = append(changes, ScheduleChange{Model: m.Name, ID: opts.ID, Action: action})
	}
	if !prune || len(errs) > 0 {
		return changes, errors.Join(errs...)
	}
	iter, err := sc.List(ctx, client.ScheduleListOptions{PageSize: 100})
	if err != nil {
		return changes, fmt.Errorf("list schedules: %w", err)
	}
	var stale []string
	for iter.HasNext() {
		e, err := iter.Next()
		if err != nil {
			return changes, fmt.Errorf("list schedules: %w", err)
		}
		if strings.HasPrefix(e.ID, workflows.ScheduleID("")) && !wanted[e.ID] {
			stale = append(stale, e.ID)
		}
	}
	sort.Strings(stale)
	for _, id := range stale {
		if err := sc.GetHandle(ctx, id).Delete(ctx); err != nil {
			return changes, fmt.Errorf("delete schedule %s: %w", id, err)
		}
		changes = append(changes, ScheduleChange{Model: strings.TrimPrefix(id, workflows.ScheduleID("")), ID: id, Action: "deleted"})
	}
	return changes, nil
}

func applyOne(ctx context.Context, sc client.ScheduleClient, dc converter.DataConverter, opts client.ScheduleOptions) (string, error) {
	_, err := sc.Create(ctx, opts)
	if err == nil {
		return "created", nil
	}
	var exists *serviceerror.AlreadyExists
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) && !errors.As(err, &exists) {
		return "", err
	}
	h := sc.GetHandle(ctx, opts.ID)
	desc, err := h.Describe(ctx)
	if err != nil {
		return "", err
	}
	if sameSchedule(desc, opts, dc) {
		return "unchanged", nil
	}
	err = h.Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			s := in.Description.Schedule
			s.Spec = &opts.Spec
			s.Action = opts.Action
			s.Policy = &client.SchedulePolicies{Overlap: opts.Overlap, CatchupWindow: opts.CatchupWindow}
			s.State.Paused = opts.Paused
			s.State.Note = opts.Note
			return &client.ScheduleUpdate{Schedule: &s}, nil
		},
	})
	if err != nil {
		return "", err
	}
	return "updated", nil
}

// sameSchedule compares what ApplySchedules manages; other fields (recent
// actions, the schedule's own memo) are left alone. dc is the client's data
// converter, which reads the recorded argument.
func sameSchedule(d *client.ScheduleDescription, want client.ScheduleOptions, dc converter.DataConverter) bool {
	s := d.Schedule
	if s.Spec == nil || s.Policy == nil || s.State == nil {
		return false
	}
	if len(s.Spec.Intervals) != 1 || s.Spec.Intervals[0].Every != want.Spec.Intervals[0].Every || s.Spec.Intervals[0].Offset != 0 ||
		s.Spec.Jitter != want.Spec.Jitter {
		return false
	}
	if s.Policy.Overlap != want.Overlap || s.Policy.CatchupWindow != want.CatchupWindow || s.State.Paused != want.Paused {
		return false
	}
	act, ok := s.Action.(*client.ScheduleWorkflowAction)
	if !ok {
		return false
	}
	wantAct := want.Action.(*client.ScheduleWorkflowAction)
	return act.TaskQueue == wantAct.TaskQueue && act.ID == wantAct.ID && workflowName(act.Workflow) == "MonitorWorkflow" &&
		act.WorkflowRunTimeout == wantAct.WorkflowRunTimeout &&
		len(act.Args) == 1 && sameArg(act.Args[0], wantAct.Args[0].(workflows.MonitorInput), dc)
}

func workflowName(w any) string {
	if s, ok := w.(string); ok {
		return s
	}
	return fmt.Sprintf("%T", w)
}

// sameArg compares the schedule's recorded argument (a payload on describe)
// with the wanted one. The payload must also be encoded as dc would encode
// it now, so turning payload encryption on or off, or rotating its key,
// rewrites the argument the schedule stores.
func sameArg(arg any, want workflows.MonitorInput, dc converter.DataConverter) bool {
	switch v := arg.(type) {
	case workflows.MonitorInput:
		return v.Model == want.Model && v.WindowEnd.Equal(want.WindowEnd)
	case *commonpb.Payload:
		fresh, err := dc.ToPayload(want)
		if err != nil || !maps.EqualFunc(v.GetMetadata(), fresh.GetMetadata(), bytes.Equal) {
			return false
		}
		var in workflows.MonitorInput
		return dc.FromPayload(v, &in) == nil && in.Model == want.Model && in.WindowEnd.Equal(want.WindowEnd)
	}
	return false
}
