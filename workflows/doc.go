// Package workflows holds Vigil's Temporal workflows: orchestration only.
// Everything here is deterministic — no I/O, no time.Now, no map iteration
// whose order matters, no goroutines — so histories replay; the side effects
// live in package activities.
//
// Imports: it may import activities (activity method values and their input
// and result types), config and the Temporal SDK's workflow side; no I/O
// package: not control, store, notify, train, internal/..., net, net/http, os,
// os/exec, the AWS SDK or the SDK's client (enforced by internal/arch).
package workflows
