package console

import (
	"context"
	"log/slog"
	"strings"

	"github.com/vigilml/vigil/notify"
)

// Name is the integration's name in config and routes.
const Name = "console"

// Notifier writes one log line per event.
type Notifier struct{ logger *slog.Logger }

// New returns a Notifier logging to logger (nil: slog.Default()).
func New(logger *slog.Logger) *Notifier {
	if logger == nil {
		logger = slog.Default()
	}
	return &Notifier{logger: logger.With("integration", Name)}
}

// Name implements notify.Notifier.
func (n *Notifier) Name() string { return Name }

// Notify implements notify.Notifier; it never fails. The ref is the
// incident ID.
func (n *Notifier) Notify(ctx context.Context, ev notify.Event) (string, error) {
	level := slog.LevelInfo
	if ev.Kind == notify.KindTrigger || ev.Kind == notify.KindEscalate {
		level = slog.LevelWarn
		if ev.Severity == "critical" {
			level = slog.LevelError
		}
	}
	attrs := []any{
		"kind", ev.Kind, "model", ev.Model, "rule", ev.Rule, "severity", ev.Severity, "incident", ev.IncidentID,
	}
	if ev.Metric != "" {
		attrs = append(attrs, "metric", ev.Metric, "value", ev.Value, "threshold", ev.Threshold)
	}
	if w := ev.Window(); w != "" {
		attrs = append(attrs, "window", w)
	}
	if len(ev.TopDrifted) > 0 {
		attrs = append(attrs, "top_drifted", strings.Join(ev.TopDrifted, ","))
	}
	for _, kv := range [][2]string{{"actor", ev.Actor}, {"acked_by", ev.AckedBy}, {"summary", ev.Summary}, {"workflow_url", ev.WorkflowURL}, {"report_url", ev.ReportURL}} {
		if kv[1] != "" {
			attrs = append(attrs, kv[0], kv[1])
		}
	}
	n.logger.Log(ctx, level, "vigil alert: "+ev.Title(), attrs...)
	return ev.IncidentID, nil
}
