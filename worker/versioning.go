package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/vigilml/vigil/config"
)

// buildID names this binary's build in a Temporal Worker Deployment: the
// -build-id flag (default $VIGIL_BUILD_ID) when given, else the VCS revision
// `go build` stamps into a binary built in a git clone (`go run`, worktrees
// and -buildvcs=false stamp none). A build from a
// modified tree is refused without an explicit ID: two different binaries
// with one ID would replay each other's pinned histories.
func buildID(explicit string, info func() (*debug.BuildInfo, bool)) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	const how = "pass -build-id or set VIGIL_BUILD_ID (e.g. to your image tag)"
	bi, ok := info()
	if !ok {
		return "", errors.New("temporal.deployment needs a build ID and this binary has no build info: " + how)
	}
	var rev string
	var modified bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	switch {
	case rev == "":
		return "", errors.New("temporal.deployment needs a build ID and this binary has no VCS revision (go run, -buildvcs=false, a git worktree, a build context without .git): " + how)
	case modified:
		return "", fmt.Errorf("temporal.deployment needs a build ID and this binary was built from a modified checkout of %s: commit, or %s", rev, how)
	}
	return rev, nil
}

// workerOptions are the Temporal worker's options; with a deployment the
// worker polls as version {deployment, build}.
func workerOptions(cfg *config.Config, build string, stopTimeout time.Duration) worker.Options {
	opts := worker.Options{WorkerStopTimeout: stopTimeout}
	if cfg.Temporal.Deployment.Name != "" {
		opts.DeploymentOptions = worker.DeploymentOptions{
			UseVersioning: true,
			Version:       worker.WorkerDeploymentVersion{DeploymentName: cfg.Temporal.Deployment.Name, BuildID: build},
		}
	}
	return opts
}

// promote makes this worker's version the deployment's current one. The
// server creates the version when the worker's pollers first reach it and
// refuses a version nobody has polled, so it retries until then.
func promote(ctx context.Context, c client.Client, name, build string, log *slog.Logger) error {
	h := c.WorkerDeploymentClient().GetHandle(name)
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		_, err := h.SetCurrentVersion(ctx, client.WorkerDeploymentSetCurrentVersionOptions{BuildID: build})
		if err == nil {
			log.Info("this build is the deployment's current version", "deployment", name, "build_id", build)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("set build %s current in worker deployment %s (temporal.deployment.set_current): %w", build, name, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// warnIfNotCurrent says, when this build is not the deployment's current
// version, that it runs only what is pinned to it and how to promote it:
// new workflows go to the current version only.
func warnIfNotCurrent(ctx context.Context, c client.Client, name, build string, log *slog.Logger) {
	d, err := c.WorkerDeploymentClient().GetHandle(name).Describe(ctx, client.WorkerDeploymentDescribeOptions{})
	if err == nil {
		if cur := d.Info.RoutingConfig.CurrentVersion; cur != nil && cur.BuildID == build {
			return
		}
	}
	log.Warn("this build is not the current version of its worker deployment: it runs only workflows pinned to it until promoted",
		"deployment", name, "build_id", build,
		"promote", fmt.Sprintf("temporal worker deployment set-current-version --deployment-name %s --build-id %s", name, build))
}
