package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/vigilml/vigil/analysis"
	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/store"
	"github.com/vigilml/vigil/train"
	"github.com/vigilml/vigil/train/registry"
)

// Stager is what a serving target needs to run a shadow or canary rollout:
// *train.SageMakerDeployer implements it (a shadow variant beside the
// production one, or production variants weighted by percent). It is
// asserted, not required, so that a deployer without it fails the rollout
// with a clear, permanent error.
type Stager interface {
	Stage(ctx context.Context, model string, champion, challenger int, championArtifact, challengerArtifact, mode string, percent int, progress func(string)) error
}

// Stage points the shadow or canary alias at the challenger (Mode shadow or
// canary; the other alias is removed) or removes both (Mode ""), and makes
// the model's SageMaker endpoint follow when it has one: staged through
// Stager, unstaged by deploying the champion alone. Every step is
// idempotent, so a retried activity does no harm.
func (o *Ops) Stage(ctx context.Context, in StageRequest) (target string, err error) {
	_, m, err := o.retrainModel(in.Model)
	if err != nil {
		return "", err
	}
	champ, err := ParseVersion(in.Champion)
	if err != nil {
		return "", err
	}
	chall, err := ParseVersion(in.Challenger)
	if err != nil {
		return "", err
	}
	var set string // the alias that points at the challenger; the other goes
	switch in.Mode {
	case config.RolloutShadow:
		set = registry.AliasShadow
	case config.RolloutCanary:
		set = registry.AliasCanary
	case "":
	default:
		return "", permanentf("stage %s: mode %q is not shadow or canary", in.Model, in.Mode)
	}
	if set != "" && (chall == 0 || champ == 0) {
		return "", permanentf("stage %s: a %s rollout needs a champion and a challenger (got %q, %q)", in.Model, in.Mode, in.Champion, in.Challenger)
	}
	for _, alias := range []string{registry.AliasShadow, registry.AliasCanary} {
		to := 0
		if alias == set {
			to = chall
		}
		if _, err := o.reg.SetAlias(ctx, in.Model, alias, to, in.Actor, in.Reason); err != nil {
			return "", fmt.Errorf("stage %s: alias %s: %w", in.Model, alias, err)
		}
	}
	if m.Retrain.SageMaker == nil || m.Retrain.SageMaker.Deploy == nil {
		return "registry", nil
	}
	endpoint := "sagemaker:" + m.Retrain.SageMaker.Deploy.Endpoint
	if set == "" {
		if champ == 0 {
			return endpoint, nil
		}
		_, err := o.Deploy(ctx, in.Model, in.Champion)
		return endpoint, err
	}
	d, err := train.NewDeployer(ctx, m.Retrain, o.deps)
	if err != nil {
		return "", err
	}
	stager, ok := any(d).(Stager)
	if !ok {
		return "", permanentf("model %s: the SageMaker deployer of this worker cannot stage a %s rollout on endpoint %s; set retrain.rollout.mode: direct or upgrade the worker",
			in.Model, in.Mode, m.Retrain.SageMaker.Deploy.Endpoint)
	}
	cv, err := o.reg.Get(ctx, in.Model, champ)
	if err != nil {
		return "", err
	}
	nv, err := o.reg.Get(ctx, in.Model, chall)
	if err != nil {
		return "", err
	}
	progress := func(msg string) { o.log.Debug("staging", "model", in.Model, "mode", in.Mode, "progress", msg) }
	if err := stager.Stage(ctx, in.Model, champ, chall, cv.ArtifactURI, nv.ArtifactURI, in.Mode, in.Percent, progress); err != nil {
		return "", err
	}
	return endpoint, nil
}

// RecordRollout stores the rollout in the registry (registry.SetRollout).
// ro.Steps are steps to add: a recorded rollout with the same ID keeps its
// steps and gains those whose time it lacks, so a retry writes the same;
// one with another ID is replaced.
func (o *Ops) RecordRollout(ctx context.Context, model string, ro Rollout) error {
	champ, err := ParseVersion(ro.Champion)
	if err != nil {
		return err
	}
	chall, err := ParseVersion(ro.Challenger)
	if err != nil {
		return err
	}
	rec := registry.Rollout{ID: ro.ID, Mode: ro.Mode, Champion: champ, Challenger: chall, Percent: ro.Percent,
		StartedAt: ro.StartedAt.UTC(), UpdatedAt: ro.UpdatedAt.UTC(), Decision: ro.Decision, Reason: ro.Reason, Actor: ro.Actor}
	m, err := o.reg.Model(ctx, model)
	if err != nil {
		return err
	}
	if prev := m.Rollout; prev != nil && prev.ID == ro.ID {
		rec.Steps = slices.Clone(prev.Steps)
	}
	for _, s := range ro.Steps {
		at := s.At.UTC()
		if slices.ContainsFunc(rec.Steps, func(r registry.RolloutStep) bool { return r.At.Equal(at) }) {
			continue
		}
		rec.Steps = append(rec.Steps, registry.RolloutStep{At: at, Percent: s.Percent, Rows: s.Rows, Metric: s.Metric,
			Champion: s.Champion, Challenger: s.Challenger, Difference: s.Difference, Lower: s.Lower, Upper: s.Upper,
			PValue: s.PValue, Verdict: s.Verdict})
	}
	return o.reg.SetRollout(ctx, model, rec)
}

// rolloutMetric says how a per-event value is computed and which way is
// better: accuracy = mean hit, mae = mean |error|, mse = mean error².
type rolloutMetric struct {
	name       string
	regression bool
	squared    bool
	higher     bool
}

func rolloutMetricOf(task, metric string) (rolloutMetric, error) {
	if !slices.Contains(config.RolloutMetrics[task], metric) {
		return rolloutMetric{}, permanentf("a rollout compares a per-event metric: want one of %s for task %s, got %q",
			strings.Join(config.RolloutMetrics[task], ", "), task, metric)
	}
	return rolloutMetric{name: metric, regression: task == "regression", squared: metric == "performance.mse",
		higher: HigherIsBetter(metric)}, nil
}

// value is one event's metric value for a prediction (ok false: the
// prediction or label cannot be read, an error for regression).
func (r rolloutMetric) value(label, pred string) (float64, error) {
	if !r.regression {
		if sameLabel(label, pred) {
			return 1, nil
		}
		return 0, nil
	}
	y, err1 := strconv.ParseFloat(label, 64)
	p, err2 := strconv.ParseFloat(pred, 64)
	if err1 != nil || err2 != nil || math.IsNaN(y+p) || math.IsInf(y+p, 0) {
		return 0, fmt.Errorf("regression needs numbers: target %q, prediction %q", label, pred)
	}
	if r.squared {
		return (p - y) * (p - y), nil
	}
	return math.Abs(p - y), nil
}

// sameLabel compares labels as the analysis does: numbers by value ("1" =
// "1.0"), text as written.
func sameLabel(x, y string) bool {
	fx, ex := strconv.ParseFloat(x, 64)
	fy, ey := strconv.ParseFloat(y, 64)
	if ex == nil && ey == nil {
		return fx == fy
	}
	return x == y
}

// rolloutRows finds, per record, the champion's and challenger's outputs.
type rolloutRows struct {
	target, pred, score, version int
	// the challenger's shadow outputs (prediction, score column), one pair
	// per name of its version in the columns ("v<N>", "<N>")
	shadow    [][2]int
	threshold float64
	binary    bool
}

func newRolloutRows(cols []string, m *config.Model, challenger int) rolloutRows {
	r := rolloutRows{target: -1, pred: -1, score: -1, version: -1, threshold: m.Columns.Threshold, binary: m.Task == "binary"}
	shadow := map[string]*[2]int{}
	if r.threshold == 0 {
		r.threshold = 0.5
	}
	for i, c := range cols {
		switch {
		case c == m.Columns.Target:
			r.target = i
		case c == m.Columns.Prediction && c != "":
			r.pred = i
		case c == m.Columns.Score && c != "":
			r.score = i
		case c == VersionColumn:
			r.version = i
		case strings.HasPrefix(c, "shadow."):
			v, field, ok := strings.Cut(strings.TrimPrefix(c, "shadow."), ".")
			if !ok || !sameVersion(v, challenger) || (field != "prediction" && field != "score") {
				continue
			}
			if shadow[v] == nil {
				shadow[v] = &[2]int{-1, -1}
			}
			if field == "prediction" {
				shadow[v][0] = i
			} else {
				shadow[v][1] = i
			}
		}
	}
	for _, v := range slices.Sorted(maps.Keys(shadow)) {
		r.shadow = append(r.shadow, *shadow[v])
	}
	return r
}

// shadowOutput is the challenger's shadow prediction of a row ("" = none).
func (r rolloutRows) shadowOutput(row []string) string {
	for _, c := range r.shadow {
		if p := r.output(row, c[0], c[1]); p != "" {
			return p
		}
	}
	return ""
}

// output is a prediction from its columns: the prediction when present,
// else (binary) the score against the threshold; "" when neither.
func (r rolloutRows) output(row []string, pred, score int) string {
	if pred >= 0 {
		if p := strings.TrimSpace(row[pred]); p != "" {
			return p
		}
	}
	if r.binary && score >= 0 {
		if s, err := strconv.ParseFloat(strings.TrimSpace(row[score]), 64); err == nil {
			if s >= r.threshold {
				return "1"
			}
			return "0"
		}
	}
	return ""
}

// EvaluateRollout compares the challenger with the champion on the labeled
// records of [From, To) and, when at least MinRows events compare, folds
// them into the evidence and reads the always-valid interval for the gain
// of the challenger (analysis.Sequence, analysis.Decide with the margin).
//
// Shadow (paired): an event counts when the champion served it (its
// model_version) and the challenger scored it in shadow
// (shadow.<version>.prediction or .score); its observation is the
// challenger's per-event value minus the champion's, oriented so that
// positive is better. Canary (split traffic): each event served by either
// version counts for that side, with the inverse-propensity observation
// analysis.SplitTerm at the step's Percent. A window some of whose objects
// could not be read is an error (retried), never a partial verdict.
func (o *Ops) EvaluateRollout(ctx context.Context, in RolloutEvaluationRequest) (*RolloutEvaluation, error) {
	_, m, err := o.retrainModel(in.Model)
	if err != nil {
		return nil, err
	}
	champ, err := ParseVersion(in.Champion)
	if err != nil {
		return nil, err
	}
	chall, err := ParseVersion(in.Challenger)
	if err != nil {
		return nil, err
	}
	if champ == 0 || chall == 0 {
		return nil, permanentf("evaluate rollout of %s: needs a champion and a challenger (got %q, %q)", in.Model, in.Champion, in.Challenger)
	}
	metric, err := rolloutMetricOf(m.Task, in.Metric)
	if err != nil {
		return nil, fmt.Errorf("evaluate rollout of %s: %w", in.Model, err)
	}
	paired := in.Mode == config.RolloutShadow
	if !paired && (in.Mode != config.RolloutCanary || in.Percent < 1 || in.Percent > 99) {
		return nil, permanentf("evaluate rollout of %s: mode %q at %d%%: want shadow, or canary below 100%%", in.Model, in.Mode, in.Percent)
	}
	p := float64(in.Percent) / 100
	sign := 1.0
	if !metric.higher {
		sign = -1
	}

	// A shadow that began scoring mid-window (or a version column that
	// began mid-window) is in later objects only: name the columns.
	want := []string{VersionColumn, m.Columns.Prediction, m.Columns.Score}
	for _, v := range []string{FormatVersion(chall), strconv.Itoa(chall)} {
		want = append(want, store.ShadowColumn(v, "prediction"), store.ShadowColumn(v, "score"))
	}
	want = slices.DeleteFunc(want, func(c string) bool { return c == "" })
	if sm := m.Retrain.SageMaker; m.Source.Format == "sagemaker" && sm != nil && sm.Deploy != nil {
		// The endpoint staged by Stage captures each version under its
		// own variant: map them to versions (and the shadow variant's
		// answers to shadow columns).
		staged := *m
		staged.Source = train.StagedSource(m.Source, in.Mode, champ, chall)
		m = &staged
	}
	rows, _, err := o.st.OpenWindow(ctx, m, in.From, in.To, want...)
	if err != nil {
		return nil, err
	}
	defer func() {
		if c, ok := rows.(io.Closer); ok {
			c.Close()
		}
	}()
	cols := newRolloutRows(rows.Columns(), m, chall)
	if cols.target < 0 {
		return nil, permanentf("evaluate rollout of %s: the records of [%s, %s) have no target column %q", in.Model,
			in.From.Format("2006-01-02T15:04:05Z07:00"), in.To.Format("2006-01-02T15:04:05Z07:00"), m.Columns.Target)
	}
	var window Evidence
	seq := analysis.Sequence{}
	var labeled, unversioned, noShadow, others int64
	line := 0
	for rows.Next() {
		line++
		row := rows.Row()
		y := strings.TrimSpace(row[cols.target])
		if y == "" {
			continue
		}
		labeled++
		v := ""
		if cols.version >= 0 {
			v = strings.TrimSpace(row[cols.version])
		}
		if v == "" {
			unversioned++
			continue
		}
		served := cols.output(row, cols.pred, cols.score)
		switch {
		case paired && sameVersion(v, champ):
			shadow := cols.shadowOutput(row)
			if shadow == "" || served == "" {
				noShadow++
				continue
			}
			a, err := metric.value(y, served)
			if err != nil {
				return nil, permanentf("evaluate rollout of %s: record %d, champion %s: %v", in.Model, line, in.Champion, err)
			}
			b, err := metric.value(y, shadow)
			if err != nil {
				return nil, permanentf("evaluate rollout of %s: record %d, challenger %s: %v", in.Model, line, in.Challenger, err)
			}
			window.ChampionSum, window.ChallengerSum = window.ChampionSum+a, window.ChallengerSum+b
			window.ChampionRows++
			window.ChallengerRows++
			if err := seq.Add(sign * (b - a)); err != nil {
				return nil, err
			}
		case !paired && (sameVersion(v, champ) || sameVersion(v, chall)) && served != "":
			toB := sameVersion(v, chall)
			x, err := metric.value(y, served)
			if err != nil {
				return nil, permanentf("evaluate rollout of %s: record %d (%s): %v", in.Model, line, v, err)
			}
			if toB {
				window.ChallengerSum += x
				window.ChallengerRows++
			} else {
				window.ChampionSum += x
				window.ChampionRows++
			}
			if err := seq.Add(analysis.SplitTerm(sign*x, toB, p)); err != nil {
				return nil, err
			}
		default:
			others++
		}
	}
	if err := rows.Err(); err != nil {
		if errors.Is(err, store.ErrIncomplete) {
			return nil, fmt.Errorf("evaluate rollout of %s: %w", in.Model, err)
		}
		return nil, err
	}
	res := &RolloutEvaluation{Rows: seq.N, Evidence: in.Evidence, Decision: string(analysis.DecisionUndecided)}
	if !paired && (window.ChampionRows == 0 || window.ChallengerRows == 0) && seq.N > 0 {
		res.Note = fmt.Sprintf("%d events of %s and %d of %s: split traffic needs both", window.ChampionRows, in.Champion, window.ChallengerRows, in.Challenger)
	}
	if seq.N < int64(in.MinRows) {
		if res.Note == "" {
			res.Note = fmt.Sprintf("%d labeled records: %d compared, %d without model_version, %d without both predictions, %d of other versions",
				labeled, seq.N, unversioned, noShadow, others)
		}
		return res, nil
	}
	res.Enough = true
	ev := in.Evidence
	s := analysis.Sequence{N: ev.N, Mean: ev.Mean, M2: ev.M2}
	s.Merge(seq)
	ev.N, ev.Mean, ev.M2 = s.N, s.Mean, s.M2
	ev.ChampionSum += window.ChampionSum
	ev.ChampionRows += window.ChampionRows
	ev.ChallengerSum += window.ChallengerSum
	ev.ChallengerRows += window.ChallengerRows
	res.Evidence = ev
	opts := analysis.SequentialOptions{Alpha: in.Alpha}
	gain, err := s.Interval(opts)
	if err != nil {
		return nil, fmt.Errorf("evaluate rollout of %s: %w", in.Model, err)
	}
	pv, err := s.PValue(0, opts)
	if err != nil {
		return nil, fmt.Errorf("evaluate rollout of %s: %w", in.Model, err)
	}
	res.Decision = string(analysis.Decide(gain, in.Margin))
	step := RolloutStep{At: in.To, Percent: in.Percent, Rows: ev.N, Metric: in.Metric, PValue: pv,
		Difference: sign * gain.Difference, Lower: gain.Lower, Upper: gain.Upper}
	if sign < 0 {
		step.Lower, step.Upper = -gain.Upper, -gain.Lower
	}
	if ev.ChampionRows > 0 {
		step.Champion = ev.ChampionSum / float64(ev.ChampionRows)
	}
	if ev.ChallengerRows > 0 {
		step.Challenger = ev.ChallengerSum / float64(ev.ChallengerRows)
	}
	res.Step = step
	return res, nil
}
