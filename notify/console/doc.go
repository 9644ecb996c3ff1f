// Package console logs notifications with slog. It is on by default when no
// other integration is configured, so `worker -dev` shows its alerts.
//
// Imports: it may import notify and the standard library.
package console
