// Package deploy holds no Go code of Vigil's: it owns the deployment files
// beside it (the Compose stack, the Prometheus rules and scrape config, the
// Grafana dashboard) and the tests that check them and the Dockerfile
// against the code: config keys, ports, metric names, the static builds.
//
// Imports: its tests may import any Vigil package they check against; no
// package imports deploy.
package deploy
