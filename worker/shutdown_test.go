package main

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/vigilml/vigil/internal/devserver"
	"github.com/vigilml/vigil/workflows"
)

// TestWorkerStopCancelsActivitiesWithErrWorkerShutdown checks, on a real
// server and SDK, what the trainers rely on to leave remote jobs running
// on a restart: Stop waits WorkerStopTimeout for running activities, then
// cancels their context with worker.ErrWorkerShutdown as its cause
// (context.Cause), which the lifecycle turns into train.ErrShutdown.
func TestWorkerStopCancelsActivitiesWithErrWorkerShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := devserver.Start(ctx, devserver.Options{
		DBFile: filepath.Join(t.TempDir(), "temporal.db"), FrontendPort: freePort(t), UIPort: -1,
		Namespace: "default", Retention: 24 * time.Hour, SearchAttributes: workflows.SearchAttributes(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	c, err := client.Dial(client.Options{HostPort: srv.Address(), Namespace: "default", Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	started, causes := make(chan struct{}, 1), make(chan error, 1)
	training := func(ctx context.Context) error {
		started <- struct{}{}
		<-ctx.Done()
		causes <- context.Cause(ctx)
		return ctx.Err()
	}
	wf := func(ctx workflow.Context) error {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute,
			RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 1}})
		return workflow.ExecuteActivity(ctx, "Train").Get(ctx, nil)
	}
	const stopTimeout = 300 * time.Millisecond
	w := worker.New(c, "shutdown-test", worker.Options{WorkerStopTimeout: stopTimeout})
	w.RegisterWorkflowWithOptions(wf, workflow.RegisterOptions{Name: "ShutdownTest"})
	w.RegisterActivityWithOptions(training, activity.RegisterOptions{Name: "Train"})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: "shutdown-test"}, "ShutdownTest"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("the activity never started")
	}
	at := time.Now()
	w.Stop()
	select {
	case cause := <-causes:
		if !errors.Is(cause, worker.ErrWorkerShutdown) {
			t.Errorf("context.Cause of a stopped worker's activity = %v, want worker.ErrWorkerShutdown", cause)
		}
		if waited := time.Since(at); waited < stopTimeout {
			t.Errorf("the activity was cancelled %v after Stop, before WorkerStopTimeout (%v)", waited, stopTimeout)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not cancel the running activity")
	}
}
