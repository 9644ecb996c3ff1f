package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/vigilml/vigil/internal/metrics"
	"github.com/vigilml/vigil/workflows"
)

// scheduleWatchEvery is how often the worker reads the schedules' counts.
const scheduleWatchEvery = time.Minute

// watchSchedules exports, until ctx ends, the windows each model's schedule
// skipped: a window skipped because a run was still running (the overlap
// policy is SKIP) is never evaluated, and only the server knows it happened.
func watchSchedules(ctx context.Context, sc client.ScheduleClient, models []string, pub *metrics.Publisher, log *slog.Logger) {
	seen := map[string]int{}
	t := time.NewTicker(scheduleWatchEvery)
	defer t.Stop()
	for {
		recordScheduleSkips(ctx, sc, models, pub, log, seen)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// recordScheduleSkips reads each model's schedule once and publishes its
// skip counts; seen holds the last counts, to log when they grow. A schedule
// that does not exist (not applied yet) is left out.
func recordScheduleSkips(ctx context.Context, sc client.ScheduleClient, models []string, pub *metrics.Publisher, log *slog.Logger, seen map[string]int) {
	for _, m := range models {
		id := workflows.ScheduleID(m)
		desc, err := sc.GetHandle(ctx, id).Describe(ctx)
		if err != nil {
			var nf *serviceerror.NotFound
			if !errors.As(err, &nf) && ctx.Err() == nil {
				log.Warn("describe schedule", "model", m, "schedule", id, "err", err)
			}
			continue
		}
		overlap, catchup := desc.Info.NumActionsSkippedOverlap, desc.Info.NumActionsMissedCatchupWindow
		pub.ScheduleSkipped(m, overlap, catchup)
		if prev, ok := seen[m]; ok && overlap+catchup > prev {
			log.Warn("schedule skipped windows", "model", m, "schedule", id, "skipped", overlap+catchup-prev,
				"overlap_total", overlap, "catchup_window_total", catchup)
		}
		seen[m] = overlap + catchup
	}
}
