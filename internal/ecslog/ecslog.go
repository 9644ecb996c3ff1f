package ecslog

import (
	"io"
	"log/slog"
	"strings"
	"time"
)

// Version is the ECS version the records declare.
const Version = "8.11.0"

// NewHandler returns a handler writing ECS JSON to w. opts may be nil; its
// ReplaceAttr, if any, runs after the ECS renaming.
func NewHandler(w io.Writer, opts *slog.HandlerOptions) slog.Handler {
	var o slog.HandlerOptions
	if opts != nil {
		o = *opts
	}
	next := o.ReplaceAttr
	o.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 {
			switch a.Key {
			case slog.TimeKey:
				a = slog.String("@timestamp", a.Value.Time().UTC().Format(time.RFC3339Nano))
			case slog.LevelKey:
				a = slog.String("log.level", strings.ToLower(a.Value.String()))
			case slog.MessageKey:
				a.Key = "message"
			case slog.SourceKey:
				a.Key = "log.origin"
			case "err", "error":
				a = slog.String("error.message", a.Value.String())
			}
		}
		if next != nil {
			a = next(groups, a)
		}
		return a
	}
	return slog.NewJSONHandler(w, &o).WithAttrs([]slog.Attr{slog.String("ecs.version", Version)})
}
