package train

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// shutdownAfter cancels a context with ErrShutdown (what the lifecycle
// makes of the SDK's worker.ErrWorkerShutdown) once ready reports true.
func shutdownAfter(t *testing.T, ready func() bool) context.Context {
	ctx, cancel := context.WithCancelCause(context.Background())
	t.Cleanup(func() { cancel(nil) })
	go func() {
		for deadline := time.Now().Add(10 * time.Second); !ready() && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		cancel(fmt.Errorf("%w: worker is now shutdown", ErrShutdown))
	}()
	return ctx
}

// A worker shutdown mid-training leaves a remote job running and the next
// attempt re-attaches to it: one job per run, and a real cancellation
// (TestGitLabCancellationCancelsThePipeline and its siblings) still stops it.
func TestWorkerShutdownLeavesRemoteJobsRunningForTheNextAttempt(t *testing.T) {
	t.Run("gitlab", func(t *testing.T) {
		f, srv := newFakeGitLab(t)
		f.script = []string{"running", "running", "running", "running", "running", "success"}
		out := t.TempDir()
		f.onSuccess = func(vars map[string]string) {
			os.WriteFile(filepath.Join(strings.TrimPrefix(vars["VIGIL_OUTPUT_DIR"], "file://"), "model.pkl"), []byte("m"), 0o644)
		}
		g := &GitLab{BaseURL: srv.URL, Project: "ml/churn-model", TriggerToken: "trigger-secret", APIToken: "api-secret", PollInterval: time.Millisecond}
		ctx := shutdownAfter(t, func() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.next > 100 && f.pipelines[101].i >= 2 })
		_, err := g.Train(ctx, ciJob("file://"+out), nil)
		if !errors.Is(err, ErrDetached) || errors.Is(err, ErrStopped) || IsPermanent(err) {
			t.Fatalf("on shutdown: %v, want a retryable error wrapping ErrDetached", err)
		}
		if _, cancels := f.count(); cancels != 0 {
			t.Fatalf("the pipeline was cancelled (%d calls) on a worker shutdown", cancels)
		}
		res, err := g.Train(context.Background(), ciJob("file://"+out), nil)
		if err != nil || !strings.HasSuffix(res.BackendJobID, "/pipelines/101") {
			t.Fatalf("next attempt: %+v, %v; want pipeline 101's result", res, err)
		}
		if triggers, _ := f.count(); triggers != 1 {
			t.Errorf("%d pipelines triggered for one run", triggers)
		}
	})
	t.Run("jenkins", func(t *testing.T) {
		f := newFakeJenkins(t)
		f.queuePolls, f.buildPolls = 0, 1000
		ctx := shutdownAfter(t, func() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.running })
		_, err := f.trainer().Train(ctx, ciJob("s3://x/"), nil)
		if !errors.Is(err, ErrDetached) || errors.Is(err, ErrStopped) {
			t.Fatalf("on shutdown: %v, want ErrDetached", err)
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.stops != 0 || f.starts != 1 {
			t.Errorf("stops %d, starts %d; want the one build left running", f.stops, f.starts)
		}
	})
	t.Run("sagemaker", func(t *testing.T) {
		f, client := newFakeSageMaker(t)
		f.script = []string{"InProgress/Training", "InProgress/Training", "InProgress/Training", "Completed/Completed"}
		ctx := shutdownAfter(t, func() bool { return f.count("DescribeTrainingJob") >= 3 })
		sm := newSM(client)
		_, err := sm.Train(ctx, smJob(), nil)
		if !errors.Is(err, ErrDetached) || errors.Is(err, ErrStopped) {
			t.Fatalf("on shutdown: %v, want ErrDetached", err)
		}
		if n := f.count("StopTrainingJob"); n != 0 {
			t.Fatalf("StopTrainingJob called %d times on a worker shutdown", n)
		}
		if _, err := sm.Train(context.Background(), smJob(), nil); err != nil {
			t.Fatal(err)
		}
		if n := f.count("CreateTrainingJob"); n != 1 {
			t.Errorf("%d training jobs created for one run", n)
		}
	})
}

// A command trainer is a child of the worker, its output piped through it:
// on shutdown it is stopped like on a cancellation, and the next attempt
// trains again in the same output directory.
func TestWorkerShutdownStopsALocalCommand(t *testing.T) {
	out := t.TempDir()
	script := filepath.Join(t.TempDir(), "train.sh")
	os.WriteFile(script, []byte("#!/bin/sh\necho started\nsleep 30\n"), 0o755)
	c := &Command{Argv: []string{script}, KillGrace: 100 * time.Millisecond}
	ctx := shutdownAfter(t, func() bool { _, err := os.Stat(filepath.Join(out, PidFile)); return err == nil })
	_, err := c.Train(ctx, Job{Model: "m", RunID: "r", TrainData: "file:///dev/null", Output: out}, nil)
	if !errors.Is(err, ErrStopped) {
		t.Fatalf("on shutdown: %v, want ErrStopped", err)
	}
}
