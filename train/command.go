package train

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// The command contract. A command trainer is any program; Vigil runs it with
// the job in its environment (in addition to the worker's own):
//
//	VIGIL_MODEL             model name
//	VIGIL_RUN_ID            run id
//	VIGIL_TRAIN_DATA        training data: a local file or directory path
//	VIGIL_VALIDATION_DATA   validation data path, or empty
//	VIGIL_OUTPUT_DIR        an existing, empty-ish directory for this run
//	VIGIL_HYPERPARAMETERS   the hyperparameters as a JSON object of strings
//
// file:// URIs are passed as plain paths; other URIs (s3://) are passed as
// they are, for programs that read them themselves. The working directory is
// the worker's. The program must write its model to OUTPUT_DIR/model.<ext>
// (any extension, or a directory named model) and should write
// OUTPUT_DIR/metrics.json, a JSON object of numbers. stdout and stderr go to
// OUTPUT_DIR/train.log and, line by line, to progress. Exit 0 means success;
// any other exit is a permanent failure carrying the end of the log. When the
// activity is cancelled, the program's whole process group gets SIGTERM and,
// KillGrace later, SIGKILL.
const (
	EnvModel           = "VIGIL_MODEL"
	EnvRunID           = "VIGIL_RUN_ID"
	EnvTrainData       = "VIGIL_TRAIN_DATA"
	EnvValidationData  = "VIGIL_VALIDATION_DATA"
	EnvOutputDir       = "VIGIL_OUTPUT_DIR"
	EnvHyperparameters = "VIGIL_HYPERPARAMETERS"

	LogFile     = "train.log"
	MetricsFile = "metrics.json"
	// DoneFile records a finished run's Result in its output dir; a retry of
	// the same run id finds it and does not train again.
	DoneFile = "vigil-result.json"
	// PidFile names the trainer process of a running attempt. A worker that
	// dies (kill -9, OOM) leaves its trainer running; the next attempt stops
	// that process group before starting its own, so two trainers never
	// write the same output dir.
	PidFile = "vigil-trainer.pid"
)

// Command runs a local training program.
type Command struct {
	Argv []string
	// Env is added to the worker's environment (e.g. PYTHONUNBUFFERED=1).
	Env []string
	// KillGrace is how long a cancelled program has between SIGTERM and
	// SIGKILL; default 5s.
	KillGrace time.Duration
	// LogTailLines is how much of the log a failure carries; default 30.
	LogTailLines int
}

// Name implements Trainer.
func (c *Command) Name() string { return "command" }

// Train implements Trainer.
func (c *Command) Train(ctx context.Context, job Job, progress func(string)) (*Result, error) {
	if err := job.Validate(); err != nil {
		return nil, err
	}
	if len(c.Argv) == 0 {
		return nil, errors.New("train: command trainer has no command")
	}
	progress = serialized(progressOrNop(progress))
	out, err := LocalPath(job.Output)
	if err != nil {
		return nil, fmt.Errorf("train: command output: %w", err)
	}
	if res, err := readDone(out, job.RunID); err == nil {
		progress("run " + job.RunID + " already finished; reusing its result")
		return res, nil
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("train: create output dir: %w", err)
	}
	if pid, stopped := stopOrphan(out, c.grace()); stopped {
		progress(fmt.Sprintf("stopped trainer pid %d left running by an earlier attempt", pid))
	}
	hp, err := json.Marshal(orEmpty(job.Hyperparameters))
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(out, LogFile)
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("train: create log: %w", err)
	}
	defer logf.Close()

	cmd := exec.Command(c.Argv[0], c.Argv[1:]...)
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.Env = append(cmd.Env,
		EnvModel+"="+job.Model,
		EnvRunID+"="+job.RunID,
		EnvTrainData+"="+pathOrURI(job.TrainData),
		EnvValidationData+"="+pathOrURI(job.ValidationData),
		EnvOutputDir+"="+out,
		EnvHyperparameters+"="+string(hp),
	)
	setProcessGroup(cmd)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	tail := newTail(c.tailLines())
	var copied sync.WaitGroup
	copied.Add(1)
	go func() {
		defer copied.Done()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, line)
			tail.add(line)
			progress(line)
		}
		io.Copy(io.Discard, pr) // a line longer than 1 MiB: keep draining
	}()

	if err := cmd.Start(); err != nil {
		pw.Close()
		copied.Wait()
		return nil, &PermanentError{Backend: "command", JobID: job.RunID, Reason: fmt.Sprintf("start %q: %v", c.Argv[0], err)}
	}
	pid := cmd.Process.Pid
	recordPid(out, pid)
	defer os.Remove(filepath.Join(out, PidFile))
	progress(fmt.Sprintf("started %s (pid %d)", strings.Join(c.Argv, " "), pid))
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait(); pw.Close() }()

	var werr error
	select {
	case werr = <-waited:
	case <-ctx.Done():
		killGroup(cmd, c.grace(), waited)
		copied.Wait()
		return nil, fmt.Errorf("train: command %s (pid %d) killed: %w: %w", job.RunID, pid, ErrStopped, ctx.Err())
	}
	copied.Wait()
	logURI := "file://" + logPath
	if werr != nil {
		return nil, &PermanentError{Backend: "command", JobID: job.RunID,
			Reason: fmt.Sprintf("%s: %v (log: %s)", strings.Join(c.Argv, " "), werr, logPath), LogTail: tail.String()}
	}
	artifact, err := findArtifact(out)
	if err != nil {
		return nil, &PermanentError{Backend: "command", JobID: job.RunID, Reason: err.Error(), LogTail: tail.String()}
	}
	metrics, err := readMetrics(filepath.Join(out, MetricsFile))
	if err != nil {
		return nil, &PermanentError{Backend: "command", JobID: job.RunID, Reason: err.Error(), LogTail: tail.String()}
	}
	res := &Result{Trainer: "command", BackendJobID: fmt.Sprintf("%s/pid-%d", job.RunID, pid),
		ArtifactURI: "file://" + artifact, LogsURI: logURI, Metrics: metrics}
	if err := writeDone(out, job.RunID, res); err != nil {
		return nil, err
	}
	return res, nil
}

func (c *Command) grace() time.Duration {
	if c.KillGrace > 0 {
		return c.KillGrace
	}
	return 5 * time.Second
}

func (c *Command) tailLines() int {
	if c.LogTailLines > 0 {
		return c.LogTailLines
	}
	return 30
}

// LocalPath turns a file:// URI or a plain path into a path; other schemes
// are an error.
func LocalPath(uri string) (string, error) {
	if p, ok := strings.CutPrefix(uri, "file://"); ok {
		return p, nil
	}
	if strings.Contains(uri, "://") {
		return "", fmt.Errorf("want a local directory (file:// or a path), got %q", uri)
	}
	return uri, nil
}

func pathOrURI(uri string) string {
	if p, err := LocalPath(uri); err == nil {
		return p
	}
	return uri
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func findArtifact(dir string) (string, error) {
	matches, _ := filepath.Glob(filepath.Join(dir, "model*"))
	for _, m := range matches {
		base := filepath.Base(m)
		if base == "model" || strings.HasPrefix(base, "model.") {
			return m, nil
		}
	}
	return "", fmt.Errorf("the program exited 0 but wrote no model.<ext> in %s (see the command contract in package train)", dir)
}

func readMetrics(path string) (map[string]float64, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]float64{}, nil
	}
	if err != nil {
		return nil, err
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%s: want a JSON object of numbers: %v", path, err)
	}
	m := map[string]float64{}
	for k, v := range raw {
		if f, ok := v.(float64); ok {
			m[k] = f
		}
	}
	return m, nil
}

type doneRecord struct {
	RunID  string  `json:"run_id"`
	Result *Result `json:"result"`
}

func readDone(dir, runID string) (*Result, error) {
	data, err := os.ReadFile(filepath.Join(dir, DoneFile))
	if err != nil {
		return nil, err
	}
	var d doneRecord
	if err := json.Unmarshal(data, &d); err != nil || d.RunID != runID || d.Result == nil {
		return nil, errors.New("no result for this run")
	}
	return d.Result, nil
}

func writeDone(dir, runID string, res *Result) error {
	data, err := json.MarshalIndent(doneRecord{RunID: runID, Result: res}, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, DoneFile+".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, DoneFile))
}

// tail keeps the last n lines.
type tail struct {
	mu    sync.Mutex
	n     int
	lines []string
}

func newTail(n int) *tail { return &tail{n: n} }

func (t *tail) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(line) > 1000 {
		line = line[:1000] + "…"
	}
	t.lines = append(t.lines, line)
	if len(t.lines) > t.n {
		t.lines = t.lines[len(t.lines)-t.n:]
	}
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}
