package devserver

import (
	"context"
	"log/slog"
	"sync/atomic"

	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// slogAdapter sends the server's own logs to slog. The server is chatty at
// info level about internals a Vigil user cannot act on, so only warnings
// and errors pass.
//
// While the server stops, its services log every poll and connection they
// lose at warning level; stopping is set then and those lines are dropped.
type slogAdapter struct {
	l        *slog.Logger
	stopping *atomic.Bool
}

var _ log.Logger = slogAdapter{}

func (a slogAdapter) emit(level slog.Level, msg string, tags []tag.Tag) {
	if (a.stopping != nil && a.stopping.Load()) || !a.l.Enabled(context.Background(), level) {
		return
	}
	args := make([]any, 0, 2*len(tags))
	for _, t := range tags {
		args = append(args, t.Key(), t.Value())
	}
	a.l.Log(context.Background(), level, msg, args...)
}

func (a slogAdapter) Debug(string, ...tag.Tag)           {}
func (a slogAdapter) Info(string, ...tag.Tag)            {}
func (a slogAdapter) Warn(msg string, tags ...tag.Tag)   { a.emit(slog.LevelWarn, msg, tags) }
func (a slogAdapter) Error(msg string, tags ...tag.Tag)  { a.emit(slog.LevelError, msg, tags) }
func (a slogAdapter) DPanic(msg string, tags ...tag.Tag) { a.emit(slog.LevelError, msg, tags) }
func (a slogAdapter) Panic(msg string, tags ...tag.Tag) {
	a.emit(slog.LevelError, msg, tags)
	panic(msg)
}
func (a slogAdapter) Fatal(msg string, tags ...tag.Tag) {
	a.emit(slog.LevelError, msg, tags)
	panic(msg)
}
func (a slogAdapter) With(tags ...tag.Tag) log.Logger {
	args := make([]any, 0, 2*len(tags))
	for _, t := range tags {
		args = append(args, t.Key(), t.Value())
	}
	return slogAdapter{l: a.l.With(args...), stopping: a.stopping}
}

func slogSDK(l *slog.Logger) sdklog.Logger { return sdklog.NewStructuredLogger(l) }
