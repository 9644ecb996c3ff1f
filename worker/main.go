package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/vigilml/vigil/internal/ecslog"
	"github.com/vigilml/vigil/train/demo"
)

func main() {
	// The dev-mode demo retrains through the command backend by running this
	// very binary as its trainer.
	if len(os.Args) > 1 && os.Args[1] == "demo-train" {
		if err := demo.RunTrainer(os.Args[2:], os.Getenv, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "demo-train:", err)
			os.Exit(1)
		}
		return
	}
	var o options
	flag.StringVar(&o.configPath, "config", "", "path to vigil.yaml (with -dev and no -config: the built-in demo)")
	flag.BoolVar(&o.dev, "dev", false, "run an embedded Temporal server (SQLite in -data-dir) with its Web UI, and apply the models' schedules")
	flag.StringVar(&o.dataDir, "data-dir", "", "dev mode state: Temporal's SQLite file, local stores, and vigil.yaml, the config it runs, for starter -config\n(default: dev.data_dir of the config, .vigil, where starter looks without -config)")
	flag.StringVar(&o.logLevel, "log-level", "info", "debug | info | warn | error")
	flag.StringVar(&o.logFormat, "log-format", "", "json | text | ecs (Elastic Common Schema JSON) (default: text with -dev, json otherwise)")
	flag.DurationVar(&o.stopTimeout, "stop-timeout", DefaultStopTimeout, "on shutdown, how long running activities get to finish before they are cancelled (remote training jobs and endpoint updates are left running for the next attempt)")
	flag.StringVar(&o.buildID, "build-id", os.Getenv("VIGIL_BUILD_ID"), "with temporal.deployment: this build's ID in the worker deployment (default $VIGIL_BUILD_ID, else the binary's VCS revision)")
	flag.BoolVar(&o.noDemo, "no-demo-traffic", false, "with -dev: do not generate demo traffic")
	flag.DurationVar(&o.demoDriftAfter, "demo-drift-after", 3*time.Minute, "with -dev: when the demo's concept drifts (first start only)")
	o.demoRate, o.demoTick = 10, time.Second
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `Usage: worker [-dev] [-config vigil.yaml] [flags]

Runs Vigil's Temporal worker and HTTP endpoints.

  go run ./worker -dev                      everything in one process, demo model included
  go run ./worker -dev -config vigil.yaml   your models on the embedded server
  go run ./worker -config vigil.yaml        against your Temporal cluster (temporal.address)

Environment: VIGIL_TEMPORAL_ADDRESS, VIGIL_TEMPORAL_NAMESPACE and VIGIL_HTTP_ADDR override
the config; secrets are read from the variables the config names (*_env fields).

Flags:
`)
		flag.PrintDefaults()
	}
	flag.Parse()
	o.demoTraffic = o.dev && o.configPath == "" && !o.noDemo

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

// DefaultStopTimeout is how long a stopping worker lets running activities
// finish: short ones (an evaluation, a notification) complete; training and
// deploy activities are then cancelled with worker.ErrWorkerShutdown, which
// leaves their remote jobs running for the next attempt. It fits in
// Kubernetes' default 30 s termination grace period.
const DefaultStopTimeout = 20 * time.Second

type options struct {
	configPath string
	dev        bool
	dataDir    string
	logLevel   string
	logFormat  string
	noDemo     bool
	// buildID overrides the binary's build ID (temporal.deployment).
	buildID string
	// demo traffic: on for the built-in demo config
	demoTraffic    bool
	demoDriftAfter time.Duration
	demoRate       int
	demoTick       time.Duration
	// demoRevertOnChallenger (tests): the demo's drift ends as soon as a
	// challenger is registered, so the challenger loses its rollout.
	demoRevertOnChallenger bool
	// stopTimeout is worker.Options.WorkerStopTimeout (tests: 0).
	stopTimeout time.Duration
	// set by tests
	frontendPort, uiPort, httpPort int
	ready                          chan<- *Worker
}

func newLogger(o options) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return nil, fmt.Errorf("-log-level: %w", err)
	}
	format := o.logFormat
	if format == "" {
		format = "json"
		if o.dev {
			format = "text"
		}
	}
	hopts := &slog.HandlerOptions{Level: level}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, hopts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, hopts)), nil
	case "ecs":
		return slog.New(ecslog.NewHandler(os.Stderr, hopts)), nil
	}
	return nil, fmt.Errorf("-log-format: want json, text or ecs, got %q", format)
}

func absDir(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}
