// Command worker runs Vigil: it registers the workflows and activities on a
// Temporal task queue and serves HTTP (health, metrics, ingest, Slack
// buttons). With -dev it also runs an embedded Temporal server with its Web
// UI and a demo model, so one command shows the whole product.
//
// Imports: it may import any Vigil package: it wires them together. Only
// dev.go (built unless -tags nodev) imports internal/devserver, so the
// production build links no Temporal server.
package main
