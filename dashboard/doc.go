// Package dashboard renders Vigil's read-only pages: an overview of every
// model, one page per model, and one HTML report per evaluated window, which
// alerts link to. Pages are server-side HTML with inline SVG charts made by
// html/template: nothing is fetched from elsewhere (air-gapped installs), no
// script runs, and every chart has a table beside it.
//
// Rendering (render.go, charts.go) is pure: it turns page values into HTML.
// Loading (load.go) reads what already exists — stored reports, the model
// registry, Temporal visibility — through small interfaces, so both halves
// are tested apart.
//
// May import: analysis, config, store and train/registry (what it reads and renders). Not activities, workflows,
// control or worker: the worker hands it loaders; activities import only ReportURL.
package dashboard
