// Package devserver runs a real Temporal server, persisted in one SQLite
// file, and the Temporal Web UI inside the calling process. `worker -dev`
// uses it so that a laptop needs nothing but Go; the integration tests use it
// with a temporary file.
//
// It is the only package that imports the Temporal server: every binary that
// links it grows by ~200 MB, so keep server-backed tests few.
//
// Imports: it may import go.temporal.io/server and the UI server, and it is
// the only package that does (enforced by internal/arch). Only the worker's
// dev.go (built without -tags nodev) and the worker's server-backed tests
// import it.
package devserver
