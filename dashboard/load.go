package dashboard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/store"
	"github.com/vigilml/vigil/train/registry"
)

// Reports is what the pages read stored reports through; *store.Store has it.
type Reports interface {
	// LatestReports lists the model's n latest reports, oldest first.
	LatestReports(ctx context.Context, model string, n int) ([]store.ReportRef, error)
	// ReadReportAt reads the report of the window starting at start.
	ReadReportAt(ctx context.Context, model string, start time.Time) ([]byte, store.ReportRef, error)
}

// Registry is the model registry; *registry.Registry has it.
type Registry interface {
	Model(ctx context.Context, model string) (*registry.Model, error)
}

// Run is one workflow of a model's timeline, from Temporal visibility.
type Run struct {
	Kind       string // retrain, rollback, breach (an evaluation with status breach or warning)
	WorkflowID string
	Status     string // Running, Completed, Failed, ... or the evaluation's status
	Start      time.Time
	Close      time.Time
	URL        string // the workflow in the Temporal Web UI
	// Window is the evaluated window of a breach, zero otherwise.
	Window time.Time
}

// Incident is an open incident of a model.
type Incident struct {
	Rule      string
	Severity  string
	Metric    string
	Value     float64
	Threshold string
	OpenedAt  time.Time
	AckedBy   string
	Window    time.Time // the window that opened it
	URL       string    // the incident workflow in the Temporal Web UI
}

// Runs reads workflows from Temporal.
type Runs interface {
	// History lists the model's retrain and rollback runs and its breaching
	// evaluations started since since, newest first, at most limit.
	History(ctx context.Context, model string, since time.Time, limit int) ([]Run, error)
	// OpenIncidents returns the model's open incidents.
	OpenIncidents(ctx context.Context, model string) ([]Incident, error)
}

// How many windows each page reads. The overview reads the latest
// OverviewWindows reports of each model (never all of them), the model page
// ModelWindows, its heatmap the latest HeatmapWindows of those.
const (
	OverviewWindows = 24
	ModelWindows    = 168
	HeatmapWindows  = 48
	HeatmapFeatures = 30
	// cacheLimit bounds the parsed window summaries kept in memory.
	cacheLimit = 200_000
)

// Window is what the overview and model pages need of one stored report,
// kept in memory so that a page reads only the reports that changed.
type Window struct {
	Start, End time.Time
	URI        string
	Status     string
	Reason     string // why the window is invalid
	Rows       int64
	Labeled    int64
	Invalid    int64
	// Metrics holds the report's numbers by metric path (analysis.Report.Metric).
	Metrics      map[string]float64
	DriftShareAt float64 // the dataset drift threshold
	Features     []FeatureCell
	Breached     []string // rules breached
}

// FeatureCell is one feature's drift verdict in a window.
type FeatureCell struct {
	Name      string
	Method    string
	Statistic float64
	PValue    *float64
	Threshold float64
	Drifted   bool
	Note      string
}

// Score is the statistic relative to its threshold, 1 at the threshold and
// above it when drifted: stat/threshold for distances, log p / log α for
// p-value tests.
func (f FeatureCell) Score() (float64, bool) {
	switch {
	case f.Note != "" || f.Threshold <= 0:
		return 0, false
	case f.PValue != nil:
		if *f.PValue <= 0 {
			return 3, true
		}
		if f.Threshold >= 1 {
			return 0, false
		}
		return math.Log(*f.PValue) / math.Log(f.Threshold), true
	default:
		return f.Statistic / f.Threshold, true
	}
}

// summarize extracts a Window from a stored report.
func summarize(s *Stored, rules []config.Rule) Window {
	results := JudgeRules(rules, s)
	w := Window{Start: s.WindowStart, End: s.WindowEnd, URI: s.URI, Status: StatusOf(s, results), Reason: s.Invalid,
		Rows: s.Rows.Current, Labeled: s.Rows.Labeled, Invalid: s.Rows.Invalid, Metrics: map[string]float64{},
		DriftShareAt: s.DatasetDrift.Threshold}
	for _, r := range results {
		if r.Breached {
			w.Breached = append(w.Breached, r.Rule)
		}
		if r.HasValue {
			w.Metrics[r.Metric] = r.Value
		}
	}
	if s.Invalid != "" {
		return w
	}
	for k, v := range s.Performance {
		w.Metrics["performance."+k] = v
	}
	for _, p := range []string{"latency.p50_ms", "latency.p95_ms", "latency.p99_ms", "throughput.rows_per_second",
		"rows.current", "rows.labeled", "rows.invalid", "dataset_drift.share"} {
		if v, ok := s.Metric(p); ok {
			w.Metrics[p] = v
		}
	}
	for _, f := range s.Features {
		w.Features = append(w.Features, FeatureCell{Name: f.Name, Method: f.Drift.Method, Statistic: f.Drift.Statistic,
			PValue: f.Drift.PValue, Threshold: f.Drift.Threshold, Drifted: f.Drift.Drifted, Note: f.Drift.Note})
	}
	return w
}

// Loader reads what the pages show and keeps parsed window summaries, keyed
// by report and its stored version, so that a page reads a report again
// only when it was rewritten.
type Loader struct {
	Config   *config.Config
	Reports  Reports
	Registry Registry // nil: no lineage
	Runs     Runs     // nil: no timeline
	Log      *slog.Logger
	// Parallel bounds concurrent reads (default 8).
	Parallel int

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	size     int64
	modified time.Time
	w        Window
}

// ErrUnknownModel is returned for a model that is not in the config.
var ErrUnknownModel = errors.New("no such model")

func (l *Loader) log() *slog.Logger {
	if l.Log == nil {
		return slog.Default()
	}
	return l.Log
}

// windows returns the summaries of the model's n latest windows, oldest
// first, reading only the reports not cached at their stored version.
func (l *Loader) windows(ctx context.Context, m *config.Model, n int) ([]Window, error) {
	refs, err := l.Reports.LatestReports(ctx, m.Name, n)
	if err != nil {
		return nil, err
	}
	out := make([]Window, len(refs))
	var missing []int
	l.mu.Lock()
	for i, r := range refs {
		if c, ok := l.cache[r.URI]; ok && c.size == r.Size && c.modified.Equal(r.Modified) {
			out[i] = c.w
		} else {
			missing = append(missing, i)
		}
	}
	l.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	errs := make([]error, len(missing))
	par := l.Parallel
	if par <= 0 {
		par = 8
	}
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for k, i := range missing {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			data, ref, err := l.Reports.ReadReportAt(ctx, m.Name, refs[i].WindowStart)
			if err != nil {
				errs[k] = err
				return
			}
			s, err := DecodeReport(data)
			if err != nil {
				errs[k] = fmt.Errorf("%s: %w", ref.URI, err)
				return
			}
			s.URI = refs[i].URI
			if s.WindowStart.IsZero() {
				s.WindowStart = refs[i].WindowStart
			}
			out[i] = summarize(s, m.Rules)
		}()
	}
	wg.Wait()
	l.mu.Lock()
	if l.cache == nil || len(l.cache)+len(missing) > cacheLimit {
		l.cache = map[string]cached{}
	}
	kept := out[:0:0]
	for k, i := range missing {
		if errs[k] == nil {
			l.cache[refs[i].URI] = cached{size: refs[i].Size, modified: refs[i].Modified, w: out[i]}
		}
	}
	l.mu.Unlock()
	// A report that cannot be read is left out of the charts and said so,
	// not drawn as a zero.
	var bad []error
	for i := range out {
		k := sort.SearchInts(missing, i)
		if k < len(missing) && missing[k] == i && errs[k] != nil {
			bad = append(bad, errs[k])
			continue
		}
		kept = append(kept, out[i])
	}
	if len(bad) > 0 {
		l.log().Warn("dashboard: reports left out, unreadable", "model", m.Name, "reports", len(bad), "err", bad[0])
	}
	return kept, errors.Join(bad...)
}

// ModelRow is one model on the overview.
type ModelRow struct {
	Name       string
	Task       string
	Status     string
	Last       *Window
	Incidents  []Incident
	Production int // 0: none
	// Rollout is the model's rollout under way (nil: none running).
	Rollout    *registry.Rollout
	MainMetric string
	Trend      Series
	Errors     []string
}

// OverviewPage is the page at /.
type OverviewPage struct {
	Models    []ModelRow
	Generated time.Time
}

// Overview loads every model's row; a model whose data cannot be read shows
// its error instead of numbers.
func (l *Loader) Overview(ctx context.Context) OverviewPage {
	page := OverviewPage{Models: make([]ModelRow, len(l.Config.Models)), Generated: time.Now().UTC()}
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := range l.Config.Models {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			page.Models[i] = l.modelRow(ctx, &l.Config.Models[i])
		}()
	}
	wg.Wait()
	return page
}

func (l *Loader) modelRow(ctx context.Context, m *config.Model) ModelRow {
	row := ModelRow{Name: m.Name, Task: m.Task, MainMetric: MainMetric(m), Status: "unknown"}
	ws, err := l.windows(ctx, m, OverviewWindows)
	if err != nil {
		row.Errors = append(row.Errors, "reports: "+err.Error())
	}
	if len(ws) > 0 {
		last := ws[len(ws)-1]
		row.Last, row.Status = &last, last.Status
	} else if err == nil {
		row.Status = "not evaluated"
	}
	row.Trend = metricSeries(ws, row.MainMetric, row.MainMetric)
	if l.Registry != nil {
		rm, err := l.Registry.Model(ctx, m.Name)
		switch {
		case errors.Is(err, registry.ErrNotFound):
		case err != nil:
			row.Errors = append(row.Errors, "registry: "+err.Error())
		default:
			row.Production = rm.Aliases["production"]
			if rolloutUnderWay(rm.Rollout) {
				row.Rollout = rm.Rollout
			}
		}
	}
	if l.Runs != nil {
		inc, err := l.Runs.OpenIncidents(ctx, m.Name)
		if err != nil {
			row.Errors = append(row.Errors, "incidents: "+err.Error())
		}
		row.Incidents = inc
	}
	return row
}

func metricSeries(ws []Window, name, metric string) Series {
	s := Series{Name: name, Values: make([]float64, len(ws)), Has: make([]bool, len(ws))}
	for i, w := range ws {
		s.Values[i], s.Has[i] = w.Metrics[metric]
	}
	return s
}

// ModelPage is the page of one model.
type ModelPage struct {
	Model     *config.Model
	Windows   []Window
	Charts    []LineChart
	Heatmap   Heatmap
	HeatTable [][]string // features × windows, as text
	Runs      []Run
	Incidents []Incident
	Registry  *registry.Model
	Errors    []string
}

// Model loads a model's page.
func (l *Loader) Model(ctx context.Context, name string) (*ModelPage, error) {
	m := l.Config.Model(name)
	if m == nil {
		return nil, fmt.Errorf("model %q: %w", name, ErrUnknownModel)
	}
	p := &ModelPage{Model: m}
	ws, err := l.windows(ctx, m, ModelWindows)
	if err != nil {
		p.Errors = append(p.Errors, "reports: "+err.Error())
	}
	p.Windows = ws
	p.Charts = modelCharts(m, ws)
	p.Heatmap = heatmap(m.Name, ws[max(0, len(ws)-HeatmapWindows):])
	if l.Registry != nil {
		rm, err := l.Registry.Model(ctx, m.Name)
		if err != nil && !errors.Is(err, registry.ErrNotFound) {
			p.Errors = append(p.Errors, "registry: "+err.Error())
		}
		p.Registry = rm
	}
	if l.Runs != nil {
		since := time.Time{}
		if len(ws) > 0 {
			since = ws[0].Start
		}
		if p.Runs, err = l.Runs.History(ctx, m.Name, since, 100); err != nil {
			p.Errors = append(p.Errors, "workflows: "+err.Error())
		}
		if p.Incidents, err = l.Runs.OpenIncidents(ctx, m.Name); err != nil {
			p.Errors = append(p.Errors, "incidents: "+err.Error())
		}
	}
	return p, nil
}

// windowLabels names windows by their start, to the second when windows
// are less than a minute apart.
func windowLabels(ws []Window) []string {
	layout := "01-02 15:04"
	for i := 1; i < len(ws); i++ {
		if ws[i].Start.Sub(ws[i-1].Start) < time.Minute {
			layout = "01-02 15:04:05"
			break
		}
	}
	x := make([]string, len(ws))
	for i, w := range ws {
		x[i] = w.Start.UTC().Format(layout)
	}
	return x
}

// modelCharts are the model page's time series, with the rules' thresholds
// drawn on the charts of their metrics.
func modelCharts(m *config.Model, ws []Window) []LineChart {
	x := windowLabels(ws)
	thresholds := func(metrics ...string) []Threshold {
		var out []Threshold
		for _, r := range m.Rules {
			for _, mm := range metrics {
				if r.Metric != mm {
					continue
				}
				if r.Below != nil {
					out = append(out, Threshold{Label: r.Name + " below", Value: *r.Below})
				}
				if r.Above != nil {
					out = append(out, Threshold{Label: r.Name + " above", Value: *r.Above})
				}
			}
		}
		return out
	}
	var charts []LineChart
	add := func(title string, metrics []string, extra ...Threshold) {
		c := LineChart{Title: title, X: x, Thresholds: append(thresholds(metrics...), extra...)}
		for _, mm := range metrics {
			_, short, _ := strings.Cut(mm, ".")
			s := metricSeries(ws, short, mm)
			c.Series = append(c.Series, s)
		}
		if !c.Empty() {
			charts = append(charts, c)
		}
	}
	// Performance: the main metric first, then the other metrics rules name.
	perf := []string{MainMetric(m)}
	seen := map[string]bool{perf[0]: true}
	for _, r := range m.Rules {
		if strings.HasPrefix(r.Metric, "performance.") && !seen[r.Metric] {
			perf, seen[r.Metric] = append(perf, r.Metric), true
		}
	}
	if strings.HasPrefix(perf[0], "performance.") {
		add("Performance", perf)
	}
	add("Latency (ms)", []string{"latency.p50_ms", "latency.p95_ms", "latency.p99_ms"})
	add("Rows", []string{"rows.current", "rows.labeled", "rows.invalid"})
	add("Throughput (rows/s)", []string{"throughput.rows_per_second"})
	var share []Threshold
	if n := len(ws); n > 0 && ws[n-1].DriftShareAt > 0 {
		share = append(share, Threshold{Label: "dataset drift at", Value: ws[n-1].DriftShareAt})
	}
	add("Dataset drift share", []string{"dataset_drift.share"}, share...)
	return charts
}

// heatmap builds the features × windows grid, the most drifted features
// first.
func heatmap(model string, ws []Window) Heatmap {
	worst := map[string]float64{}
	for _, w := range ws {
		for _, f := range w.Features {
			if s, ok := f.Score(); ok {
				worst[f.Name] = math.Max(worst[f.Name], s)
			} else if _, seen := worst[f.Name]; !seen {
				worst[f.Name] = 0
			}
		}
	}
	names := make([]string, 0, len(worst))
	for n := range worst {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		if worst[names[i]] != worst[names[j]] {
			return worst[names[i]] > worst[names[j]]
		}
		return names[i] < names[j]
	})
	names = names[:min(len(names), HeatmapFeatures)]
	row := map[string]int{}
	for i, n := range names {
		row[n] = i
	}
	hm := Heatmap{Features: names, Windows: windowLabels(ws), Links: make([]string, len(ws)), Cells: make([][]HeatCell, len(names))}
	for i := range hm.Cells {
		hm.Cells[i] = make([]HeatCell, len(ws))
	}
	for wi, w := range ws {
		hm.Links[wi] = ReportPath(model, w.Start)
		for _, f := range w.Features {
			fi, ok := row[f.Name]
			if !ok {
				continue
			}
			s, has := f.Score()
			title := fmt.Sprintf("%s, window %s: %s", f.Name, WindowID(w.Start), f.Note)
			if has {
				title = fmt.Sprintf("%s, window %s: %s %s, threshold %s (%s)", f.Name, WindowID(w.Start), f.Method,
					statText(f), num(f.Threshold), verdictText(f.Drifted))
			}
			hm.Cells[fi][wi] = HeatCell{Has: has, Score: s, Drifted: f.Drifted, Title: title}
		}
	}
	return hm
}

func statText(f FeatureCell) string {
	if f.PValue != nil {
		return "p=" + num(*f.PValue)
	}
	return num(f.Statistic)
}

func verdictText(drifted bool) string {
	if drifted {
		return "drifted"
	}
	return "not drifted"
}

// ReportPage is one window's report.
type ReportPage struct {
	Model string
	// Subtitle names what an offline report compared (no window then).
	Subtitle string
	Report   *Stored
	Rules    []RuleResult
	Status   string
}

// Report loads one window's report.
func (l *Loader) Report(ctx context.Context, model string, start time.Time) (*ReportPage, error) {
	m := l.Config.Model(model)
	if m == nil {
		return nil, fmt.Errorf("model %q: %w", model, ErrUnknownModel)
	}
	data, ref, err := l.Reports.ReadReportAt(ctx, model, start)
	if err != nil {
		return nil, err
	}
	s, err := DecodeReport(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref.URI, err)
	}
	s.URI = ref.URI
	return NewReportPage(model, s, m.Rules), nil
}

// NewReportPage judges the rules on a report.
func NewReportPage(model string, s *Stored, rules []config.Rule) *ReportPage {
	results := JudgeRules(rules, s)
	return &ReportPage{Model: model, Report: s, Rules: results, Status: StatusOf(s, results)}
}
