package main

// TestScaleThousandModels is the scale benchmark of issue 5: N models on one
// worker (dev mode: the embedded Temporal server on SQLite runs in this
// process too), every model scheduled at the same cadence, so every schedule
// fires at the same instant. It only runs when asked:
//
//	VIGIL_SCALE=1 go test -run TestScaleThousandModels -v -timeout 60m ./worker
//
// Knobs (environment): VIGIL_SCALE_MODELS (1000), VIGIL_SCALE_EVERY (5m),
// VIGIL_SCALE_CYCLES (2), VIGIL_SCALE_ROWS (rows per window, 50),
// VIGIL_SCALE_JITTER (0: adds Spec.Jitter to every schedule after the worker
// applied them, to see what spreading the firings does), VIGIL_SCALE_DIR
// (keep the generated data and the SQLite file there instead of a temp dir),
// VIGIL_SCALE_PROFILE (a directory: CPU profile of the measured window and
// goroutine dumps 30 s after each firing), VIGIL_SCALE_REPORT (write the
// summary to this file).
// Results and how to read them: bench/scale.md.

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/vigilml/vigil/workflows"
)

func scaleEnvInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

func scaleEnvDur(t *testing.T, name string, def time.Duration) time.Duration {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		t.Fatalf("%s=%q: want a duration", name, v)
	}
	return d
}

// cpuTime is this process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rss returns the current and peak resident set size of this process in MB.
func rss() (cur, peak float64) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(fields[1], 64)
		switch fields[0] {
		case "VmRSS:":
			cur = kb / 1024
		case "VmHWM:":
			peak = kb / 1024
		}
	}
	return cur, peak
}

// writeScaleData writes model i's reference CSV and its predictions and
// labels from `from` to `to`, one record every `step`, in the
// hour-partitioned layout the store reads.
func writeScaleData(dir string, i int, from, to time.Time, step time.Duration) error {
	name := fmt.Sprintf("m%04d", i)
	base := filepath.Join(dir, "data", name)
	if err := os.MkdirAll(base, 0o755); err != nil {
		return err
	}
	// A deterministic pseudo-random stream per model: x1 ~ U(0,1), x2 ~ U(0,10).
	seed := uint64(i)*0x9E3779B97F4A7C15 + 1
	rnd := func() float64 {
		seed ^= seed << 13
		seed ^= seed >> 7
		seed ^= seed << 17
		return float64(seed>>11) / (1 << 53)
	}
	var ref strings.Builder
	// The reference must hold every configured column, latency included.
	ref.WriteString("x1,x2,prediction,score,latency_ms,label\n")
	for range 200 {
		x1, x2 := rnd(), 10*rnd()
		p := b2i(x1 > 0.5)
		fmt.Fprintf(&ref, "%.4f,%.3f,%d,%.4f,%.1f,%d\n", x1, x2, p, x1, 5+20*rnd(), p)
	}
	if err := os.WriteFile(filepath.Join(base, "reference.csv"), []byte(ref.String()), 0o644); err != nil {
		return err
	}
	preds, labels := map[string]*strings.Builder{}, map[string]*strings.Builder{}
	seq := 0
	for at := from.UTC(); at.Before(to); at = at.Add(step) {
		seq++
		part := at.Format("2006/01/02/15")
		if preds[part] == nil {
			preds[part], labels[part] = &strings.Builder{}, &strings.Builder{}
		}
		x1, x2 := rnd(), 10*rnd()
		p := b2i(x1 > 0.5)
		label := p
		if rnd() < 0.08 { // ~92% accuracy
			label = 1 - p
		}
		id := fmt.Sprintf("%s-%d", name, seq)
		fmt.Fprintf(preds[part], `{"event_id":%q,"time":%q,"features":{"x1":%.4f,"x2":%.3f},"prediction":%d,"score":%.3f,"latency_ms":%.1f}`+"\n",
			id, at.Format(time.RFC3339Nano), x1, x2, p, x1, 5+20*rnd())
		fmt.Fprintf(labels[part], `{"event_id":%q,"label":%d}`+"\n", id, label)
	}
	for part, b := range preds {
		for sub, content := range map[string]string{"predictions": b.String(), "ground-truth": labels[part].String()} {
			p := filepath.Join(base, sub, filepath.FromSlash(part), "part-0.jsonl")
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func scaleConfig(dir string, n int, every time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dev: {data_dir: %q}\nstorage: {reports: %q, registry: %q}\nnotify: {console: true}\nmodels:\n",
		filepath.Join(dir, "state"), "file://"+filepath.Join(dir, "reports"), "file://"+filepath.Join(dir, "registry"))
	for i := range n {
		base := filepath.Join(dir, "data", fmt.Sprintf("m%04d", i))
		fmt.Fprintf(&b, `  - name: m%04d
    task: binary
    schedule: {every: %s}
    columns: {target: label, prediction: prediction, score: score, latency: latency_ms}
    features: [x1, x2]
    source: {uri: "file://%s/predictions", format: jsonl}
    ground_truth: {uri: "file://%s/ground-truth", format: jsonl}
    reference: {uri: "file://%s/reference.csv"}
    rules:
      - {name: accuracy-drop, metric: performance.accuracy, below: 0.5, for: 2, severity: critical}
      - {name: drift, metric: dataset_drift.share, above: 0.9, severity: warning}
`, i, every, base, base, base)
	}
	return b.String()
}

type evaluation struct {
	model                   string
	scheduled, start, close time.Time
	status                  enumspb.WorkflowExecutionStatus
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func TestScaleThousandModels(t *testing.T) {
	if os.Getenv("VIGIL_SCALE") != "1" {
		t.Skip("scale benchmark: set VIGIL_SCALE=1 (see bench/scale.md)")
	}
	n := scaleEnvInt(t, "VIGIL_SCALE_MODELS", 1000)
	every := scaleEnvDur(t, "VIGIL_SCALE_EVERY", 5*time.Minute)
	cycles := scaleEnvInt(t, "VIGIL_SCALE_CYCLES", 2)
	rows := scaleEnvInt(t, "VIGIL_SCALE_ROWS", 50)
	jitter := scaleEnvDur(t, "VIGIL_SCALE_JITTER", 0)
	dir := os.Getenv("VIGIL_SCALE_DIR")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if every < time.Minute && n > 50 {
		t.Logf("note: a cadence of %s is shorter than the schedules' start-up for %d models", every, n)
	}

	// Data covering every window the run can evaluate.
	began := time.Now()
	from := began.Add(-2 * every).Truncate(time.Hour)
	to := began.Add(time.Duration(cycles+3)*every + 10*time.Minute)
	step := every / time.Duration(rows)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 8)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := writeScaleData(dir, i, from, to, step); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	cfgPath := writeConfig(t, dir, scaleConfig(dir, n, every))
	t.Logf("generated %d models (%d rows per %s window, one record every %s) in %s", n, rows, every, step, time.Since(began).Round(time.Millisecond))

	startedAt := time.Now()
	w := startScaleWorker(t, options{configPath: cfgPath, logLevel: "error"}, 15*time.Minute, 5)
	t.Logf("worker ready with %d schedules in %s", n, time.Since(startedAt).Round(time.Millisecond))
	ctx := context.Background()

	if jitter > 0 {
		t0 := time.Now()
		for i := range n {
			h := w.Client.ScheduleClient().GetHandle(ctx, workflows.ScheduleID(fmt.Sprintf("m%04d", i)))
			err := h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
				s := in.Description.Schedule
				s.Spec.Jitter = jitter
				return &client.ScheduleUpdate{Schedule: &s}, nil
			}})
			if err != nil {
				t.Fatalf("add jitter to schedule %d: %v", i, err)
			}
		}
		t.Logf("added jitter %s to %d schedules in %s", jitter, n, time.Since(t0).Round(time.Millisecond))
	}

	// Interval schedules fire at multiples of `every` since the epoch; the
	// first measured cycle is the first firing at least 10 s from now (so
	// that no schedule is still being created or updated when it fires).
	first := time.Now().Add(10 * time.Second).Truncate(every).Add(every)
	last := first.Add(time.Duration(cycles-1) * every)
	deadline := last.Add(every) // the last cycle's evaluations are due by then
	t.Logf("measuring %d cycles: firings %s … %s, results at %s (in %s)", cycles,
		first.Format(time.TimeOnly), last.Format(time.TimeOnly), deadline.Format(time.TimeOnly), time.Until(deadline).Round(time.Second))

	// CPU of the whole process (worker + embedded Temporal server + SQLite),
	// sampled every second for the busy-time profile.
	time.Sleep(time.Until(first.Add(-2 * time.Second)))
	cpu0, wall0 := cpuTime(), time.Now()
	type sample struct {
		at  time.Time
		cpu time.Duration
	}
	var samples []sample
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tk := time.NewTicker(time.Second)
		defer tk.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case now := <-tk.C:
				samples = append(samples, sample{now, cpuTime()})
			}
		}
	}()
	if prof := os.Getenv("VIGIL_SCALE_PROFILE"); prof != "" {
		// A CPU profile of the measured window, and goroutine dumps 30 s
		// after each firing (who waits on what at the peak).
		f, err := os.Create(filepath.Join(prof, "cpu.pprof"))
		if err != nil {
			t.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
		for c := range cycles {
			at := first.Add(time.Duration(c)*every + 30*time.Second)
			time.AfterFunc(time.Until(at), func() {
				g, err := os.Create(filepath.Join(prof, fmt.Sprintf("goroutines-%d.txt", c)))
				if err != nil {
					return
				}
				defer g.Close()
				_ = pprof.Lookup("goroutine").WriteTo(g, 1)
			})
		}
	}
	time.Sleep(time.Until(deadline))
	cpu1, wall1 := cpuTime(), time.Now()
	close(stopSampling)
	<-sampled
	curRSS, peakRSS := rss()

	// Every MonitorWorkflow the measured firings started, from visibility.
	// With jitter a run's scheduled start time is the jittered time: select
	// by the nominal window [first, last+every).
	query := fmt.Sprintf(`WorkflowType = "MonitorWorkflow" AND TemporalScheduledStartTime >= "%s" AND TemporalScheduledStartTime < "%s"`,
		first.UTC().Format(time.RFC3339Nano), last.Add(every).UTC().Format(time.RFC3339Nano))
	var evals []evaluation
	var token []byte
	for {
		resp, err := w.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query, PageSize: 1000, NextPageToken: token})
		if err != nil {
			t.Fatalf("list evaluations: %v", err)
		}
		for _, e := range resp.Executions {
			ev := evaluation{model: e.GetExecution().GetWorkflowId(), start: e.GetStartTime().AsTime(), status: e.GetStatus()}
			if e.CloseTime != nil {
				ev.close = e.GetCloseTime().AsTime()
			}
			ev.scheduled = ev.start
			if p := e.GetSearchAttributes().GetIndexedFields()["TemporalScheduledStartTime"]; p != nil {
				var ts time.Time
				if err := scaleDecodeTime(p.GetData(), &ts); err == nil {
					ev.scheduled = ts
				}
			}
			evals = append(evals, ev)
		}
		token = resp.NextPageToken
		if len(token) == 0 {
			break
		}
	}

	expected := n * cycles
	var within, completed, failed, running int
	var total, startLag, exec []time.Duration
	for _, ev := range evals {
		// An evaluation is due one cadence after its nominal (un-jittered) time.
		nominal := ev.scheduled.Truncate(every)
		switch ev.status {
		case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
			completed++
			d := ev.close.Sub(ev.scheduled)
			total = append(total, d)
			startLag = append(startLag, ev.start.Sub(ev.scheduled))
			exec = append(exec, ev.close.Sub(ev.start))
			if !ev.close.After(nominal.Add(every)) {
				within++
			}
		case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
			running++
		default:
			failed++
		}
	}
	slices.Sort(total)
	slices.Sort(startLag)
	slices.Sort(exec)
	cpu := cpu1 - cpu0
	wall := wall1.Sub(wall0)

	// Busy time: seconds after each firing until the process falls back
	// below a quarter of a core.
	var busy []string
	for c := range cycles {
		fire := first.Add(time.Duration(c) * every)
		var lastBusy time.Time
		for i := 1; i < len(samples); i++ {
			s, prev := samples[i], samples[i-1]
			if s.at.Before(fire) || !s.at.Before(fire.Add(every)) {
				continue
			}
			if float64(s.cpu-prev.cpu)/float64(s.at.Sub(prev.at)) > 0.25 {
				lastBusy = s.at
			}
		}
		if !lastBusy.IsZero() {
			busy = append(busy, lastBusy.Sub(fire).Round(time.Second).String())
		}
	}

	report := fmt.Sprintf(`scale: %d models × every %s × %d cycles (jitter %s, %d rows/window)
  evaluations: %d expected, %d found, %d completed, %d failed/terminated, %d still running, %d never started (skipped/missing)
  within cadence: %d/%d = %.1f%%
  close − scheduled: p50 %s  p95 %s  max %s
    of which start lag (scheduled → started): p50 %s  p95 %s  max %s
    of which execution (started → closed):   p50 %s  p95 %s  max %s
  process CPU (worker + embedded Temporal server + SQLite, one process): %.1f s over %s = %.2f cores average (of %d)
  busy after each firing (CPU > 0.25 core): %s
  RSS: %.0f MB now, %.0f MB peak`,
		n, every, cycles, jitter, rows,
		expected, len(evals), completed, failed, running, max(0, expected-len(evals)),
		within, expected, 100*float64(within)/float64(expected),
		percentile(total, 0.5).Round(time.Millisecond), percentile(total, 0.95).Round(time.Millisecond), percentile(total, 1).Round(time.Millisecond),
		percentile(startLag, 0.5).Round(time.Millisecond), percentile(startLag, 0.95).Round(time.Millisecond), percentile(startLag, 1).Round(time.Millisecond),
		percentile(exec, 0.5).Round(time.Millisecond), percentile(exec, 0.95).Round(time.Millisecond), percentile(exec, 1).Round(time.Millisecond),
		cpu.Seconds(), wall.Round(time.Second), cpu.Seconds()/wall.Seconds(), runtime.NumCPU(),
		strings.Join(busy, ", "), curRSS, peakRSS)
	t.Log("\n" + report)
	if out := os.Getenv("VIGIL_SCALE_REPORT"); out != "" {
		_ = os.WriteFile(out, []byte(report+"\n"), 0o644)
	}
	if within < expected {
		t.Errorf("%d of %d evaluations did not finish within their cadence of %s", expected-within, expected, every)
	}
}

// scaleDecodeTime decodes a search attribute payload holding a time (JSON).
func scaleDecodeTime(data []byte, ts *time.Time) error {
	return ts.UnmarshalJSON(data)
}

// startScaleWorker is startWorker with a longer wait for readiness: dev mode
// creates the N schedules one by one before the worker reports ready, which
// takes longer than startWorker's 90 s for 1000 models. When applying the
// schedules fails (the embedded server stalls under the burst of creates),
// it starts the worker again on the same state, up to `attempts` times: the
// schedules created so far are kept ("unchanged").
func startScaleWorker(t *testing.T, o options, timeout time.Duration, attempts int) *running {
	t.Helper()
	o.uiPort = -1
	for attempt := 1; ; attempt++ {
		o.frontendPort = 0 // a fresh port: the failed attempt's may linger
		r, err := launchWorker(t, o, timeout)
		if err == nil {
			return r
		}
		if attempt >= attempts {
			t.Fatalf("attempt %d: %v", attempt, err)
		}
		t.Logf("attempt %d: %v; starting it again on the same state", attempt, err)
	}
}
