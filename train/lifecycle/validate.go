package lifecycle

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/vigilml/vigil/analysis"
	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/store"
	"github.com/vigilml/vigil/train"
)

// Challenger sources, as the validation report records them.
const (
	// SourcePredictions: the trainer's validation_predictions.jsonl joined
	// to the held-out labels and analysed like the champion's traffic.
	SourcePredictions = "validation-predictions"
	// SourceTrainerMetrics: the trainer wrote no predictions; the value is
	// its own metrics.json figure (same name without "performance."), which
	// Vigil cannot check uses the same definition.
	SourceTrainerMetrics = "trainer-metrics"
)

// ValidationReport is what Validate stores next to the run's artifacts.
type ValidationReport struct {
	Model            string    `json:"model"`
	RunID            string    `json:"run_id"`
	HoldoutFrom      time.Time `json:"holdout_from"`
	HoldoutTo        time.Time `json:"holdout_to"`
	Metric           string    `json:"metric"`
	HigherIsBetter   bool      `json:"higher_is_better"`
	Champion         string    `json:"champion,omitempty"`
	ChampionValue    *float64  `json:"champion_value,omitempty"`
	Challenger       string    `json:"challenger"`
	ChallengerValue  float64   `json:"challenger_value"`
	ChallengerSource string    `json:"challenger_source"`
	Rows             int64     `json:"rows"`
	// ChampionRows says which logged rows the champion was scored on:
	// ChampionRowsVersion (only rows whose model_version is the champion's)
	// or ChampionRowsUnattributed (the records carry no model_version, so
	// every logged prediction of the window counts as the champion's).
	// Empty for an unregistered incumbent or when nothing was scored.
	ChampionRows string `json:"champion_rows,omitempty"`
	// RowsByVersion counts the labeled held-out rows by logged model_version
	// ("" = none), when the records carry one.
	RowsByVersion    map[string]int64 `json:"rows_by_version,omitempty"`
	Violations       []string         `json:"violations"`
	Notes            []string         `json:"notes,omitempty"`
	ChampionReport   *analysis.Report `json:"champion_report,omitempty"`
	ChallengerReport *analysis.Report `json:"challenger_report,omitempty"`
}

// How the champion's rows were picked (ValidationReport.ChampionRows).
const (
	ChampionRowsVersion      = "model_version"
	ChampionRowsUnattributed = "unattributed"
)

// VersionColumn is the record field that names the version that made a
// prediction (logclient.Prediction.ModelVersion, the JSONL "model_version").
const VersionColumn = "model_version"

// ErrNoChampionRows: the held-out window has too few labeled rows logged by
// the champion's version to score it (typically: the champion was promoted
// less than validation_window ago, and the window still holds its
// predecessor's predictions).
var ErrNoChampionRows = errors.New("too few held-out rows logged by the champion's version")

// lowerIsBetter lists the metrics whose smaller values are better.
var lowerIsBetter = map[string]bool{"log_loss": true, "mae": true, "mse": true, "rmse": true, "mape": true}

// HigherIsBetter reports a metric's better direction ("performance.rmse": false).
func HigherIsBetter(metric string) bool {
	name := metric[strings.LastIndex(metric, ".")+1:]
	return !lowerIsBetter[name]
}

// Validate scores champion and challenger on the same held-out labeled rows
// with the analysis engine: the champion on its own logged predictions of
// [HoldoutFrom, HoldoutTo), the challenger on the predictions its trainer
// wrote for validation.jsonl (the same window's labeled rows, exported by
// Train), restricted to the events both sides have. The comparison report
// is stored as validation-report.json in the run's output.
func (o *Ops) Validate(ctx context.Context, in ValidateRequest) (*Validation, error) {
	cfg, m, err := o.retrainModel(in.Model)
	if err != nil {
		return nil, err
	}
	chall, err := ParseVersion(in.Challenger)
	if err != nil {
		return nil, err
	}
	if chall == 0 {
		return nil, permanentf("validate %s: no challenger version", in.Model)
	}
	if _, err := ParseVersion(in.Champion); err != nil {
		return nil, err
	}
	metric := m.Retrain.Metric
	if metric == "" {
		metric = config.MainMetric(m.Task)
	}
	output := train.RunOutput(cfg, m, in.RunID)
	man, err := o.readManifest(ctx, output)
	if err != nil {
		return nil, err
	}
	if man == nil {
		return nil, permanentf("validate %s: run %s has no exported data (%s/%s); was it trained by this worker?", in.Model, in.RunID, output, DataManifestFile)
	}
	rep := &ValidationReport{Model: m.Name, RunID: in.RunID, HoldoutFrom: in.HoldoutFrom, HoldoutTo: in.HoldoutTo,
		Metric: metric, HigherIsBetter: HigherIsBetter(metric), Champion: in.Champion, Challenger: in.Challenger,
		Violations: []string{}}
	var baseline *analysis.Baseline
	if uri := m.Retrain.Baseline; uri != "" {
		if baseline, err = o.readBaseline(ctx, uri); err != nil {
			return nil, fmt.Errorf("validate %s: retrain.baseline: %w", in.Model, err)
		}
	} else {
		rep.Notes = append(rep.Notes, "retrain.baseline is not set: no constraints are checked")
	}

	// The challenger's predictions, by event id (memory: the held-out window).
	preds, err := o.readPredictions(ctx, output)
	if err != nil {
		return nil, err
	}
	// The held-out events both sides are scored on.
	ids := map[string]bool{}
	if err := o.eachValidationID(ctx, man, func(id string) {
		if id != "" && (preds == nil || preds[id] != [2]string{}) {
			ids[id] = true
		}
	}); err != nil {
		return nil, err
	}
	if preds != nil && len(ids) == 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%s matches no held-out event id", ValidationPredictionsFile))
		preds = nil
	}

	// Like with like: when the logged records name the version that made
	// them, the champion is scored only on its own version's rows, and the
	// challenger on the same events. Right after a promotion the held-out
	// window still holds the predecessor's predictions; scoring those as the
	// champion's would compare the challenger with the wrong model.
	champVersion := ""
	if in.Champion != "" {
		att, err := o.attributeWindow(ctx, m, in.HoldoutFrom, in.HoldoutTo, ids, in.Champion)
		if err != nil {
			return nil, fmt.Errorf("validate %s: champion %s: %w", in.Model, in.Champion, err)
		}
		if att.versioned == 0 {
			rep.ChampionRows = ChampionRowsUnattributed
			rep.Notes = append(rep.Notes, fmt.Sprintf("the logged records carry no %s: the champion's rows could not be attributed to a version, so every logged prediction of the held-out window is scored as champion %s's", VersionColumn, in.Champion))
		} else {
			rep.ChampionRows, rep.RowsByVersion, champVersion = ChampionRowsVersion, att.byVersion, in.Champion
			if n := int64(len(att.matched)); n < MinHoldoutRows {
				return nil, &permanentError{fmt.Errorf("validate %s: %w: the held-out window %s..%s has %d labeled rows logged by champion %s, need at least %d (labeled rows by %s: %s): it was probably promoted less than retrain.validation_window (%s) ago and the window still holds its predecessor's predictions; retrain once validation_window has passed since the promotion",
					in.Model, ErrNoChampionRows, in.HoldoutFrom.Format(time.RFC3339), in.HoldoutTo.Format(time.RFC3339), n, in.Champion, MinHoldoutRows, VersionColumn, formatCounts(att.byVersion), m.Retrain.ValidationWindow)}
			}
			if other := att.labeled - int64(len(att.matched)); other > 0 {
				rep.Notes = append(rep.Notes, fmt.Sprintf("champion %s is scored only on the %d held-out rows it served; %d rows logged by other versions or without %s (%s) are left out, for the challenger too",
					in.Champion, len(att.matched), other, VersionColumn, formatCounts(att.byVersion)))
			}
			if preds != nil {
				for id := range preds {
					if !att.matched[id] {
						delete(preds, id)
					}
				}
				ids = att.matched
			} else {
				rep.Notes = append(rep.Notes, "the challenger's trainer metric covers every held-out row, not only the champion's")
			}
		}
	}

	chOpts := m.AnalysisOptions()
	predCol, scoreCol := cmp.Or(m.Columns.Prediction, "prediction"), cmp.Or(m.Columns.Score, "score")
	chOpts.Prediction, chOpts.Score, chOpts.Latency, chOpts.Time, chOpts.EventID = predCol, "", "", "", "event_id"
	if m.Columns.Score != "" {
		chOpts.Score = scoreCol
	}
	chOpts.Baseline = baseline
	if preds != nil {
		open := func() (analysis.Rows, error) {
			r, c, err := o.st.OpenURI(ctx, man.ValidationURI, "jsonl", store.ReadOptions{})
			if err != nil {
				return nil, err
			}
			return newJoinRows(r, c, preds, predCol, scoreCol), nil
		}
		r, err := o.analyze(open, chOpts)
		if err != nil {
			return nil, fmt.Errorf("validate %s: challenger %s: %w", in.Model, in.Challenger, err)
		}
		v, ok := r.Metric(metric)
		if !ok {
			return nil, permanentf("validate %s: the challenger's report has no %s (labeled rows: %d)", in.Model, metric, r.Rows.Labeled)
		}
		rep.ChallengerValue, rep.ChallengerSource, rep.ChallengerReport, rep.Rows = v, SourcePredictions, r, r.Rows.Labeled
	} else {
		ver, err := o.reg.Get(ctx, in.Model, chall)
		if err != nil {
			return nil, err
		}
		name := strings.TrimPrefix(metric, "performance.")
		v, ok := ver.Metrics[name]
		if !ok {
			// A SageMaker metric definition named as the built-in
			// algorithms name theirs ("validation:accuracy").
			v, ok = ver.Metrics["validation:"+name]
		}
		if !ok {
			return nil, permanentf("validate %s: challenger %s wrote no %s and its metrics.json has no %q: write validation predictions (see train/README.md) or report the metric",
				in.Model, in.Challenger, ValidationPredictionsFile, name)
		}
		rep.ChallengerValue, rep.ChallengerSource = v, SourceTrainerMetrics
		rep.Notes = append(rep.Notes, fmt.Sprintf("the trainer wrote no %s: the challenger's %s is its own metrics.json value, computed on validation.jsonl by the trainer", ValidationPredictionsFile, name))
		o.log.Warn("challenger scored by its trainer's metrics", "model", in.Model, "challenger", in.Challenger, "metric", name)
	}

	if baseline != nil {
		// The constraints apply to the held-out data the challenger is
		// judged on (with its predictions, when it wrote them).
		checked := rep.ChallengerReport
		if checked == nil {
			open := func() (analysis.Rows, error) {
				r, c, err := o.st.OpenURI(ctx, man.ValidationURI, "jsonl", store.ReadOptions{})
				if err != nil {
					return nil, err
				}
				return &closingRows{Rows: r, c: c}, nil
			}
			opts := m.AnalysisOptions()
			opts.Prediction, opts.Score, opts.Latency, opts.Time, opts.EventID, opts.Task = "", "", "", "", "event_id", ""
			opts.Baseline = baseline
			if checked, err = o.analyze(open, opts); err != nil {
				return nil, fmt.Errorf("validate %s: check retrain.baseline on the held-out data: %w", in.Model, err)
			}
		}
		for _, v := range checked.Violations {
			rep.Violations = append(rep.Violations, fmt.Sprintf("%s: %s (%s)", v.Feature, v.Description, v.Constraint))
		}
	}

	res := &Validation{Metric: metric, Challenger: rep.ChallengerValue, HigherIsBetter: rep.HigherIsBetter}
	// Without a registered champion the model is still served by something
	// whose predictions are logged (a model deployed before Vigil): that
	// incumbent is scored on the same rows, so a challenger must beat it
	// too. Only a window with no scorable logged predictions has no champion.
	incumbent := in.Champion == ""
	open := func() (analysis.Rows, error) {
		rows, _, err := o.st.OpenWindow(ctx, m, in.HoldoutFrom, in.HoldoutTo)
		if err != nil {
			return nil, err
		}
		return newFilterRows(rows, m, ids, champVersion), nil
	}
	r, err := o.analyze(open, m.AnalysisOptions())
	if err != nil && !(incumbent && o.IsPermanent(err)) {
		return nil, fmt.Errorf("validate %s: champion %s: %w", in.Model, in.Champion, err)
	}
	v, ok := 0.0, false
	if err == nil {
		v, ok = r.Metric(metric)
	}
	switch {
	case !ok && !incumbent:
		return nil, permanentf("validate %s: the champion's report has no %s (labeled rows: %d)", in.Model, metric, r.Rows.Labeled)
	case !ok:
		rep.Notes = append(rep.Notes, fmt.Sprintf("no registered champion and no logged predictions with labels to score in the held-out window (%s): the challenger is compared with nothing", errOr(err, "no "+metric)))
	default:
		if incumbent {
			rep.Champion = UnregisteredIncumbent
			rep.Notes = append(rep.Notes, "the model has no registered version: the champion is the incumbent that served the held-out window, scored on its logged predictions (`starter models register` imports it as a version)")
		}
		rep.ChampionValue, rep.ChampionReport = &v, r
		res.Champion, res.HasChampion = v, true
		if rep.ChallengerSource != SourcePredictions {
			rep.Rows = r.Rows.Labeled
		} else if r.Rows.Labeled != rep.Rows {
			rep.Notes = append(rep.Notes, fmt.Sprintf("champion scored on %d rows, challenger on %d (events missing from the store since training)", r.Rows.Labeled, rep.Rows))
		}
	}
	if rep.Rows == 0 {
		rep.Rows = man.ValidationRows
	}
	res.Rows = rep.Rows
	if res.HasChampion {
		res.ChampionRows = rep.ChampionRows
	}
	res.Violations = rep.Violations

	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return nil, err
	}
	uri, err := o.st.PutObject(ctx, output, ValidationReportFile, append(data, '\n'))
	if err != nil {
		return nil, fmt.Errorf("validate %s: store report: %w", in.Model, err)
	}
	res.ReportURI = uri
	o.log.Info("validated challenger", "model", in.Model, "metric", metric, "champion", in.Champion,
		"champion_value", res.Champion, "challenger", in.Challenger, "challenger_value", res.Challenger, "rows", res.Rows, "report", uri)
	return res, nil
}

// readBaseline reads a baseline.json written by `starter baseline`.
func (o *Ops) readBaseline(ctx context.Context, uri string) (*analysis.Baseline, error) {
	dir, name := ".", uri
	if i := strings.LastIndex(uri, "/"); i >= 0 {
		dir, name = uri[:i], uri[i+1:]
	}
	if strings.HasSuffix(dir, ":/") || strings.HasSuffix(dir, ":") { // file:///baseline.json, s3://bucket
		dir += "/"
	}
	blobs, err := o.st.Blobs(ctx, dir)
	if err != nil {
		return nil, err
	}
	data, _, err := blobs.Get(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, permanentf("%s does not exist (write it with `starter baseline`)", uri)
	}
	if err != nil {
		return nil, err
	}
	var b analysis.Baseline
	if err := json.Unmarshal(data, &b); err != nil || len(b.Features) == 0 {
		return nil, permanentf("%s is not a baseline with features (write it with `starter baseline`): %v", uri, err)
	}
	return &b, nil
}

// closingRows closes the reader's object when the rows are closed.
type closingRows struct {
	analysis.Rows
	c io.Closer
}

func (r *closingRows) Close() error { return r.c.Close() }

// UnregisteredIncumbent names, in a validation report, a champion that has
// no registry version: whatever served the held-out window.
const UnregisteredIncumbent = "unregistered incumbent"

func errOr(err error, msg string) string {
	if err != nil {
		return err.Error()
	}
	return msg
}

// analyze runs the engine with the rows as both reference and current: only
// performance is wanted, and drift of a window against itself is nil.
func (o *Ops) analyze(open func() (analysis.Rows, error), opts analysis.Options) (*analysis.Report, error) {
	ref, err := open()
	if err != nil {
		return nil, err
	}
	defer closeRows(ref)
	cur, err := open()
	if err != nil {
		return nil, err
	}
	defer closeRows(cur)
	rep, err := analysis.Analyze(ref, cur, opts)
	if err != nil {
		if ioErr := errors.Join(ref.Err(), cur.Err()); ioErr != nil {
			return nil, ioErr
		}
		return nil, &permanentError{err}
	}
	if err := cur.Err(); err != nil {
		return nil, err
	}
	return rep, nil
}

// readPredictions reads the trainer's validation predictions; nil when the
// trainer wrote none.
func (o *Ops) readPredictions(ctx context.Context, output string) (map[string][2]string, error) {
	blobs, err := o.st.Blobs(ctx, output)
	if err != nil {
		return nil, err
	}
	data, _, err := blobs.Get(ctx, ValidationPredictionsFile)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	preds := map[string][2]string{}
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var rec struct {
			EventID    any             `json:"event_id"`
			Prediction json.RawMessage `json:"prediction"`
			Score      json.RawMessage `json:"score"`
		}
		if err := json.Unmarshal([]byte(text), &rec); err != nil {
			return nil, permanentf("%s/%s line %d: %v", output, ValidationPredictionsFile, line, err)
		}
		id := cell(rec.EventID)
		if id == "" || len(rec.Prediction) == 0 {
			continue
		}
		preds[id] = [2]string{rawCell(rec.Prediction), rawCell(rec.Score)}
	}
	if len(preds) == 0 {
		return nil, permanentf("%s/%s has no records with event_id and prediction", output, ValidationPredictionsFile)
	}
	return preds, sc.Err()
}

// eachValidationID calls fn with the event id of every exported held-out row.
func (o *Ops) eachValidationID(ctx context.Context, man *dataManifest, fn func(string)) error {
	r, c, err := o.st.OpenURI(ctx, man.ValidationURI, "jsonl", store.ReadOptions{})
	if err != nil {
		return err
	}
	defer c.Close()
	idx := -1
	for i, col := range r.Columns() {
		if col == "event_id" {
			idx = i
		}
	}
	for r.Next() {
		if idx >= 0 {
			fn(r.Row()[idx])
		}
	}
	return r.Err()
}

func cell(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

func rawCell(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// joinRows adds the challenger's prediction and score to the exported
// held-out rows, dropping rows it has no prediction for.
type joinRows struct {
	analysis.Rows
	c     io.Closer
	preds map[string][2]string
	id    int
	keep  []int
	cols  []string
	row   []string
}

func newJoinRows(r analysis.Rows, c io.Closer, preds map[string][2]string, predCol, scoreCol string) *joinRows {
	j := &joinRows{Rows: r, c: c, preds: preds, id: -1}
	for i, col := range r.Columns() {
		if col == "event_id" {
			j.id = i
		}
		if col != predCol && col != scoreCol {
			j.keep = append(j.keep, i)
			j.cols = append(j.cols, col)
		}
	}
	j.cols = append(j.cols, predCol, scoreCol)
	return j
}

func (j *joinRows) Columns() []string { return j.cols }
func (j *joinRows) Row() []string     { return j.row }
func (j *joinRows) Close() error      { return j.c.Close() }

func (j *joinRows) Next() bool {
	if j.id < 0 {
		return false
	}
	for j.Rows.Next() {
		row := j.Rows.Row()
		p, ok := j.preds[row[j.id]]
		if !ok {
			continue
		}
		j.row = j.row[:0]
		for _, i := range j.keep {
			j.row = append(j.row, row[i])
		}
		j.row = append(j.row, p[0], p[1])
		return true
	}
	return false
}

// filterRows keeps the champion's labeled rows of the held-out events and,
// with a version, only the rows that version logged.
type filterRows struct {
	analysis.Rows
	ids                 map[string]bool
	id, target, version int
	want                int // the version's number; 0: any
}

func newFilterRows(r analysis.Rows, m *config.Model, ids map[string]bool, version string) *filterRows {
	f := &filterRows{Rows: r, ids: ids, id: -1, target: -1, version: -1}
	f.want, _ = ParseVersion(version)
	for i, col := range r.Columns() {
		switch col {
		case m.Columns.EventID:
			f.id = i
		case m.Columns.Target:
			f.target = i
		case VersionColumn:
			f.version = i
		}
	}
	return f
}

// sameVersion reports whether a logged model_version names registry
// version want: "v3" and "3" both name v3.
func sameVersion(logged string, want int) bool {
	n, err := ParseVersion(strings.TrimSpace(logged))
	return err == nil && n == want
}

// attribution counts the labeled held-out rows by logged version.
type attribution struct {
	labeled   int64
	versioned int64            // rows with a model_version
	byVersion map[string]int64 // "" = no model_version
	matched   map[string]bool  // event ids of the champion's rows
}

// attributeWindow reads the held-out window once to find which of its
// labeled rows (of the events in ids, when given) the champion logged.
func (o *Ops) attributeWindow(ctx context.Context, m *config.Model, from, to time.Time, ids map[string]bool, champion string) (*attribution, error) {
	rows, _, err := o.st.OpenWindow(ctx, m, from, to)
	if err != nil {
		return nil, err
	}
	f := newFilterRows(rows, m, ids, "")
	defer f.Close()
	want, err := ParseVersion(champion)
	if err != nil {
		return nil, err
	}
	a := &attribution{byVersion: map[string]int64{}, matched: map[string]bool{}}
	for f.Next() {
		row := f.Row()
		v := ""
		if f.version >= 0 {
			v = strings.TrimSpace(row[f.version])
		}
		a.labeled++
		a.byVersion[v]++
		if v == "" {
			continue
		}
		a.versioned++
		if sameVersion(v, want) && f.id >= 0 {
			a.matched[row[f.id]] = true
		}
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	if a.versioned == 0 {
		a.byVersion = nil
	}
	return a, nil
}

// formatCounts shows rows by version, most first: "v1 480, v2 60, none 3".
func formatCounts(counts map[string]int64) string {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if counts[keys[i]] != counts[keys[j]] {
			return counts[keys[i]] > counts[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		name := k
		if name == "" {
			name = "none"
		}
		parts = append(parts, fmt.Sprintf("%s %d", name, counts[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func (f *filterRows) Close() error {
	if c, ok := f.Rows.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

func (f *filterRows) Next() bool {
	for f.Rows.Next() {
		row := f.Rows.Row()
		if f.target < 0 || row[f.target] == "" {
			continue
		}
		if f.id >= 0 && len(f.ids) > 0 && !f.ids[row[f.id]] {
			continue
		}
		if f.want > 0 && (f.version < 0 || !sameVersion(row[f.version], f.want)) {
			continue
		}
		return true
	}
	return false
}
