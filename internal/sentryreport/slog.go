package sentryreport

import (
	"context"
	"errors"
	"log/slog"

	"github.com/getsentry/sentry-go"
)

// Handler passes every record to next and reports those at error level or
// above to Sentry: the message, the error of an "err" or "error" attribute,
// and the model, workflow_id, workflow_type and activity_type attributes as
// tags. No other attribute is sent. Records of the Temporal SDK's own logger
// (component=temporal-sdk) are not reported: the interceptor reports the
// failures they describe, with more context.
func (r *Reporter) Handler(next slog.Handler) slog.Handler {
	return &handler{r: r, next: next}
}

type handler struct {
	r       *Reporter
	next    slog.Handler
	attrs   []slog.Attr // from WithAttrs, outside any group
	grouped bool
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l) || l >= slog.LevelError
}

func (h *handler) Handle(ctx context.Context, rec slog.Record) error {
	var err error
	if h.next.Enabled(ctx, rec.Level) {
		err = h.next.Handle(ctx, rec)
	}
	if rec.Level < slog.LevelError || !h.r.Enabled() {
		return err
	}
	tags := map[string]string{TagSource: "log"}
	var recErr error
	sdk := false
	visit := func(a slog.Attr) bool {
		switch a.Key {
		case "component":
			sdk = sdk || a.Value.String() == "temporal-sdk"
		case TagModel, TagWorkflowID, TagWorkflowType, TagActivityType:
			tags[a.Key] = a.Value.String()
		case "err", "error":
			if e, ok := a.Value.Any().(error); ok {
				recErr = e
			} else {
				recErr = errors.New(a.Value.String())
			}
		}
		return true
	}
	for _, a := range h.attrs {
		visit(a)
	}
	if !h.grouped {
		rec.Attrs(visit)
	}
	if !sdk {
		h.r.capture(sentry.LevelError, rec.Message, recErr, tags, nil)
	}
	return err
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(as)
	if !h.grouped {
		c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	}
	return &c
}

// WithGroup: attributes inside a group are not tags (model inside a group
// is some other thing's model); the record is still reported.
func (h *handler) WithGroup(name string) slog.Handler {
	c := *h
	c.next = h.next.WithGroup(name)
	c.grouped = true
	return &c
}
