package train

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// script writes a shell program into dir and returns its argv.
func script(t *testing.T, body string) []string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "train.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return []string{"/bin/sh", p}
}

type lines struct {
	mu sync.Mutex
	l  []string
}

func (l *lines) add(s string) { l.mu.Lock(); l.l = append(l.l, s); l.mu.Unlock() }
func (l *lines) all() string  { l.mu.Lock(); defer l.mu.Unlock(); return strings.Join(l.l, "\n") }

func TestCommandPassesTheContractAndCollectsModelAndMetrics(t *testing.T) {
	argv := script(t, `
echo "training $VIGIL_MODEL run $VIGIL_RUN_ID on $VIGIL_TRAIN_DATA / $VIGIL_VALIDATION_DATA"
echo "hp=$VIGIL_HYPERPARAMETERS"
echo started >> "$VIGIL_OUTPUT_DIR/../runs"
echo weights > "$VIGIL_OUTPUT_DIR/model.bin"
echo '{"accuracy": 0.91, "note": "ignored"}' > "$VIGIL_OUTPUT_DIR/metrics.json"
`)
	root := t.TempDir()
	out := filepath.Join(root, "run-1")
	job := Job{Model: "churn", RunID: "r1", TrainData: "file:///data/train.jsonl", ValidationData: "/data/val.jsonl",
		Output: "file://" + out, Hyperparameters: map[string]string{"lr": "0.1"}}
	var got lines
	res, err := (&Command{Argv: argv}).Train(context.Background(), job, got.add)
	if err != nil {
		t.Fatal(err)
	}
	if res.ArtifactURI != "file://"+filepath.Join(out, "model.bin") {
		t.Errorf("artifact = %q", res.ArtifactURI)
	}
	if res.Metrics["accuracy"] != 0.91 || len(res.Metrics) != 1 {
		t.Errorf("metrics = %v (numbers only)", res.Metrics)
	}
	if res.LogsURI != "file://"+filepath.Join(out, LogFile) || res.Trainer != "command" || res.BackendJobID == "" {
		t.Errorf("result = %+v", res)
	}
	log, _ := os.ReadFile(filepath.Join(out, LogFile))
	for _, want := range []string{"training churn run r1 on /data/train.jsonl / /data/val.jsonl", `hp={"lr":"0.1"}`} {
		if !strings.Contains(string(log), want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
		if !strings.Contains(got.all(), want) {
			t.Errorf("progress lacks %q", want)
		}
	}

	// The same run id again: the finished result is reused, nothing reruns.
	again, err := (&Command{Argv: argv}).Train(context.Background(), job, nil)
	if err != nil || again.ArtifactURI != res.ArtifactURI {
		t.Fatalf("retry = %+v, %v", again, err)
	}
	if runs, _ := os.ReadFile(filepath.Join(root, "runs")); strings.Count(string(runs), "started") != 1 {
		t.Errorf("program ran %d times for one run id", strings.Count(string(runs), "started"))
	}
}

func TestCommandNonZeroExitIsPermanentAndCarriesTheLogTail(t *testing.T) {
	argv := script(t, `
i=0; while [ $i -lt 100 ]; do echo "epoch $i"; i=$((i+1)); done
echo "ValueError: column label not found" >&2
exit 3
`)
	job := Job{Model: "m", RunID: "r", TrainData: "/x", Output: t.TempDir()}
	_, err := (&Command{Argv: argv, LogTailLines: 5}).Train(context.Background(), job, nil)
	if !IsPermanent(err) {
		t.Fatalf("want a permanent error, got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{"exit status 3", "ValueError: column label not found", "epoch 99"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "epoch 90") {
		t.Errorf("tail should hold the last 5 lines only:\n%s", msg)
	}
}

func TestCommandWithoutModelArtifactIsPermanent(t *testing.T) {
	_, err := (&Command{Argv: script(t, "echo done")}).Train(context.Background(),
		Job{Model: "m", RunID: "r", TrainData: "/x", Output: t.TempDir()}, nil)
	if !IsPermanent(err) || !strings.Contains(err.Error(), "no model.<ext>") {
		t.Fatalf("got %v", err)
	}
}

func TestCommandCancellationKillsTheProcessGroupQuickly(t *testing.T) {
	dir := t.TempDir()
	// The program starts a child that would outlive it, and ignores SIGTERM.
	argv := script(t, `
trap '' TERM
sleep 60 &
echo $! > "$VIGIL_OUTPUT_DIR/child.pid"
echo ready
wait
`)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	var once sync.Once
	done := make(chan error, 1)
	go func() {
		_, err := (&Command{Argv: argv, KillGrace: 200 * time.Millisecond}).Train(ctx,
			Job{Model: "m", RunID: "r", TrainData: "/x", Output: dir},
			func(l string) {
				if l == "ready" {
					once.Do(func() { close(ready) })
				}
			})
		done <- err
	}()
	select {
	case <-ready:
	case <-time.After(5 * time.Second):
		t.Fatal("program did not start")
	}
	start := time.Now()
	cancel()
	var err error
	select {
	case err = <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("Train did not return after cancellation")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("cancellation took %s", took)
	}
	if !errors.Is(err, ErrStopped) || !errors.Is(err, context.Canceled) || IsPermanent(err) {
		t.Errorf("want a stopped, cancelled, retryable error; got %v", err)
	}
	pidText, _ := os.ReadFile(filepath.Join(dir, "child.pid"))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(pidText)))
	if pid == 0 {
		t.Fatal("no child pid")
	}
	deadline := time.Now().Add(2 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("child %d still alive after cancellation", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestJobNameIsStableSafeAndBounded(t *testing.T) {
	a := JobName("churn", "retrain-churn/2026-11-28T03:00:00Z", 63)
	if a != JobName("churn", "retrain-churn/2026-11-28T03:00:00Z", 63) {
		t.Error("not stable")
	}
	if len(a) > 63 || strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" {
		t.Errorf("unsafe name %q", a)
	}
	long1 := JobName("m", strings.Repeat("x", 80)+"1", 63)
	long2 := JobName("m", strings.Repeat("x", 80)+"2", 63)
	if len(long1) > 63 || long1 == long2 {
		t.Errorf("shortened names must stay unique: %q %q", long1, long2)
	}
}

func TestResultRoundTripsAsJSON(t *testing.T) {
	r := Result{Trainer: "command", ArtifactURI: "file:///m", Metrics: map[string]float64{"a": 1}}
	b, _ := json.Marshal(r)
	var back Result
	if err := json.Unmarshal(b, &back); err != nil || back.Metrics["a"] != 1 {
		t.Fatal(err)
	}
}

// alive reports whether pid is a running process; a zombie waiting for
// init to reap it counts as dead.
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		if _, noProc := os.Stat("/proc/self"); noProc == nil {
			return false // Linux: no /proc entry, no process
		}
		return syscall.Kill(pid, 0) == nil
	}
	// pid (comm) STATE ...
	rest := string(stat[strings.LastIndexByte(string(stat), ')')+1:])
	return !strings.HasPrefix(strings.TrimSpace(rest), "Z")
}

// A worker killed during training leaves its trainer running. The retried
// attempt stops that trainer before starting its own, so two never write
// the same output dir at once.
func TestCommandRetryStopsTheTrainerACrashedAttemptLeft(t *testing.T) {
	out := t.TempDir()
	// The orphan: a trainer in its own process group, as Train starts them,
	// whose worker is gone (only its pid file remains).
	orphan := exec.Command("/bin/sh", "-c", "sleep 60")
	setProcessGroup(orphan)
	if err := orphan.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = orphan.Wait(); close(exited) }() // reap it, as init would
	recordPid(out, orphan.Process.Pid)

	argv := script(t, `echo m > "$VIGIL_OUTPUT_DIR/model.bin"`)
	var got lines
	job := Job{Model: "churn", RunID: "r-retry", TrainData: "file:///d.jsonl", Output: "file://" + out}
	if _, err := (&Command{Argv: argv, KillGrace: 200 * time.Millisecond}).Train(context.Background(), job, got.add); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatal("the orphaned trainer is still running")
	}
	if !strings.Contains(got.all(), "stopped trainer pid "+strconv.Itoa(orphan.Process.Pid)) {
		t.Errorf("progress does not say the orphan was stopped:\n%s", got.all())
	}
	if _, err := os.Stat(filepath.Join(out, PidFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file left behind after a finished run: %v", err)
	}
}

// A pid file whose process is gone (or whose pid now belongs to another
// process) stops nothing.
func TestCommandIgnoresAStalePidFile(t *testing.T) {
	out := t.TempDir()
	if err := os.WriteFile(filepath.Join(out, PidFile), []byte(strconv.Itoa(os.Getpid())+" 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if pid, stopped := stopOrphan(out, time.Second); stopped {
		t.Fatalf("stopped pid %d although its start time does not match", pid)
	}
}
