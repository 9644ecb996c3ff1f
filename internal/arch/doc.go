// Package arch holds no code: its test enforces the import rules that the
// packages' doc.go files state, over the output of `go list -json`:
//
//   - analysis imports no Vigil package (it is a statistics library);
//   - workflows import no I/O package (control, store, notify, train,
//     internal/..., net, net/http, os, os/exec, the AWS SDK, the Temporal
//     SDK's client): side effects live in activities;
//   - only internal/devserver imports the Temporal server or its Web UI, and
//     the production worker (-tags nodev) and the starter link neither;
//   - domain packages (train/...) depend on neither activities, workflows
//     nor control.
//
// Imports: nothing (the test runs the go command).
package arch
