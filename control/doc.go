// Package control is how processes outside the workflows drive them: the
// Temporal client calls that start, signal, update and query Vigil's
// workflows (Client), and the schedule management that keeps one Temporal
// Schedule per configured model (ApplySchedules). It is I/O, so it lives
// apart from the deterministic code of package workflows; the names both
// share (IDs, signals, updates, queries, search attributes) stay in
// workflows/names.go.
//
// Its users are the starter CLI, the worker (schedules at start, the Slack
// buttons) and the activities that start workflows (through the
// activities.Workflows interface Client implements).
//
// It may import workflows, activities, config and the Temporal SDK; nothing
// under workflows, activities or the domain packages may import it.
package control
