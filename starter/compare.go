package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/vigilml/vigil/analysis"
)

// Columns an inference log uses for the version that served a prediction
// and for the predictions of shadow versions (JSONL's nested
// {"shadow": {"v2": {"prediction": …, "score": …}}} flattens to these).
const (
	versionColumn = "model_version"
	shadowPrefix  = "shadow."
)

// shadowColumn names the column holding a shadow version's field.
func shadowColumn(version, field string) string { return shadowPrefix + version + "." + field }

// comparison is the JSON `starter compare` writes. Difference, Lower and
// Upper are metric(b) − metric(a).
type comparison struct {
	Metric     string  `json:"metric"`
	A          float64 `json:"a"`
	B          float64 `json:"b"`
	Difference float64 `json:"difference"`
	Lower      float64 `json:"lower"`
	Upper      float64 `json:"upper"`
	PValue     float64 `json:"p_value"`
	// Winner is "a" or "b" when the test rejects at -alpha and the interval
	// lies wholly on that side of 0, else "none".
	Winner     string  `json:"winner"`
	Level      float64 `json:"level"`
	Paired     bool    `json:"paired"`
	Test       string  `json:"test"`
	IntervalBy string  `json:"interval"`
	NA         int     `json:"n_a"`
	NB         int     `json:"n_b"`
	Source     string  `json:"source"` // "columns" or "versions"
	Note       string  `json:"note,omitempty"`
}

// cmdCompare implements `starter compare`: which of two models (prediction
// columns or model versions of one inference log) is better, with a test
// and a confidence interval for the difference.
func cmdCompare(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		current, task, target, a, b, out, formatName, prediction string
		paired                                                   bool
		alpha                                                    float64
		rounds                                                   int
	)
	fs.StringVar(&current, "current", "", "labeled inference log `file` (csv, jsonl, parquet, sagemaker; required)")
	fs.StringVar(&task, "task", "", "binary|multiclass (metric accuracy) or regression (metric mae); required")
	fs.StringVar(&target, "target", "", "column with the true label or value; rows where it is empty are skipped (required)")
	fs.StringVar(&a, "a", "", "model a (the champion): a prediction `column`, else a model_version (required)")
	fs.StringVar(&b, "b", "", "model b (the challenger): a prediction `column`, else a model_version (required)")
	fs.BoolVar(&paired, "paired", false, "both models scored the same events (two columns, or a served and a shadow version):\nMcNemar (classification) or Wilcoxon (regression) and a paired bootstrap interval;\nwithout it, versions are compared on the traffic each served (Welch's test and interval)")
	fs.StringVar(&prediction, "prediction", "prediction", "column with the served version's prediction (version mode)")
	fs.Float64Var(&alpha, "alpha", 0.05, "significance level; intervals are at 1 − alpha")
	fs.IntVar(&rounds, "bootstrap-rounds", 2000, "resamples of the paired bootstrap")
	fs.StringVar(&formatName, "format", "", "csv|jsonl|parquet|sagemaker (default: detected from the file)")
	fs.StringVar(&out, "o", "", "write the JSON to this `file` instead of stdout")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: starter compare -current F -task T -target C -a COL_OR_VERSION -b COL_OR_VERSION [-paired] [-o F]

Compares two models on labeled events and prints JSON
{metric, a, b, difference, lower, upper, p_value, winner, ...} with
difference = metric(b) − metric(a). -a/-b name a column of predictions if the
file has one, else a model version: with -paired, events where both versions
predicted (the served one in -prediction, a shadow one in shadow.<version>.prediction);
without, the events each version served (model_version column).

Flags:
`)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if current == "" || task == "" || target == "" || a == "" || b == "" {
		fs.Usage()
		return fmt.Errorf("compare: -current, -task, -target, -a and -b are required: %w", errUsage)
	}
	if a == b {
		return fmt.Errorf("compare: -a and -b both name %q", a)
	}
	if task != "binary" && task != "multiclass" && task != "regression" {
		return fmt.Errorf("compare: -task %q: want binary, multiclass or regression", task)
	}
	if !(alpha > 0 && alpha < 1) || rounds < 100 {
		return fmt.Errorf("compare: want 0 < -alpha < 1 and -bootstrap-rounds >= 100 (got %g, %d)", alpha, rounds)
	}
	rows, closer, _, err := openInput(ctx, current, formatName)
	if err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	defer closer.Close()
	sel := selector{target: target, prediction: prediction, regression: task == "regression", paired: paired}
	if err := sel.resolve(rows.Columns(), a, b); err != nil {
		return fmt.Errorf("compare: %s: %w", current, err)
	}
	la, lb, err := sel.read(rows)
	if err != nil {
		return fmt.Errorf("compare: %s: %w", current, err)
	}
	res, err := compareLosses(la, lb, task, paired, alpha, rounds)
	if err != nil {
		return fmt.Errorf("compare: %s: %w", current, err)
	}
	res.Source = "versions"
	if sel.columns {
		res.Source = "columns"
	}
	return writeJSON(out, stdout, res)
}

// selector finds, per row, the prediction of model a and of model b.
type selector struct {
	target, prediction string
	regression, paired bool
	columns            bool // -a/-b are columns of the file
	ti, pi, vi         int  // target, served prediction, model_version
	ai, bi             int  // column mode: a's and b's columns; version mode: shadow columns or -1
	versionA, versionB string
}

func (s *selector) resolve(cols []string, a, b string) error {
	idx := func(name string) int { return slices.Index(cols, name) }
	if s.ti = idx(s.target); s.ti < 0 {
		return fmt.Errorf("no target column %q (columns: %s)", s.target, strings.Join(cols, ", "))
	}
	ca, cb := idx(a), idx(b)
	switch {
	case ca >= 0 && cb >= 0:
		if !s.paired {
			return errors.New("-a and -b are columns of the same rows, so the comparison is paired: add -paired")
		}
		s.columns, s.ai, s.bi = true, ca, cb
		return nil
	case ca >= 0 || cb >= 0:
		return fmt.Errorf("-a %q and -b %q must both be columns or both be model versions (only one is a column)", a, b)
	}
	s.versionA, s.versionB = a, b
	if s.vi = idx(versionColumn); s.vi < 0 {
		return fmt.Errorf("neither %q nor %q is a column, and there is no %s column to find them as versions (columns: %s)",
			a, b, versionColumn, strings.Join(cols, ", "))
	}
	if s.pi = idx(s.prediction); s.pi < 0 {
		return fmt.Errorf("no prediction column %q (set -prediction)", s.prediction)
	}
	s.ai, s.bi = idx(shadowColumn(a, "prediction")), idx(shadowColumn(b, "prediction"))
	if s.paired && s.ai < 0 && s.bi < 0 {
		return fmt.Errorf("-paired: neither version has shadow predictions (no column %s or %s)",
			shadowColumn(a, "prediction"), shadowColumn(b, "prediction"))
	}
	return nil
}

// read returns the per-event loss of a and of b (classification: 1 − hit,
// regression: absolute error); paired, the two slices are aligned by event.
func (s *selector) read(rows analysis.Rows) (la, lb []float64, err error) {
	line := 0
	for rows.Next() {
		line++
		row := rows.Row()
		y := row[s.ti]
		if strings.TrimSpace(y) == "" {
			continue
		}
		pa, pb := s.pick(row)
		if s.paired && (pa == "" || pb == "") {
			continue
		}
		for _, side := range []struct {
			name, pred string
			into       *[]float64
		}{{"a", pa, &la}, {"b", pb, &lb}} {
			if side.pred == "" {
				continue
			}
			l, err := s.loss(y, side.pred)
			if err != nil {
				return nil, nil, fmt.Errorf("record %d, model %s: %w", line, side.name, err)
			}
			*side.into = append(*side.into, l)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	return la, lb, nil
}

// pick returns the predictions of a and b on a row ("" = none).
func (s *selector) pick(row []string) (pa, pb string) {
	if s.columns {
		return strings.TrimSpace(row[s.ai]), strings.TrimSpace(row[s.bi])
	}
	v := strings.TrimSpace(row[s.vi])
	of := func(version string, shadow int) string {
		if v == version {
			return strings.TrimSpace(row[s.pi])
		}
		if s.paired && shadow >= 0 {
			return strings.TrimSpace(row[shadow])
		}
		return ""
	}
	return of(s.versionA, s.ai), of(s.versionB, s.bi)
}

func (s *selector) loss(y, pred string) (float64, error) {
	if !s.regression {
		return 1 - b2f(sameLabel(y, pred)), nil
	}
	yv, err1 := strconv.ParseFloat(y, 64)
	pv, err2 := strconv.ParseFloat(pred, 64)
	if err1 != nil || err2 != nil || math.IsNaN(yv+pv) || math.IsInf(yv+pv, 0) {
		return 0, fmt.Errorf("regression needs numbers: target %q, prediction %q", y, pred)
	}
	return math.Abs(pv - yv), nil
}

// sameLabel compares labels as analyze does: numbers by value ("1" = "1.0"),
// text after trimming.
func sameLabel(x, y string) bool {
	fx, ex := strconv.ParseFloat(x, 64)
	fy, ey := strconv.ParseFloat(y, 64)
	if ex == nil && ey == nil {
		return fx == fy
	}
	return x == y
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// compareLosses runs the tests on per-event losses (lower is better).
func compareLosses(la, lb []float64, task string, paired bool, alpha float64, rounds int) (*comparison, error) {
	res := &comparison{Metric: "accuracy", Paired: paired, Level: 1 - alpha, NA: len(la), NB: len(lb)}
	if task == "regression" {
		res.Metric = "mae"
	}
	if len(la) < 2 || len(lb) < 2 {
		return nil, fmt.Errorf("%w: %d labeled events for a and %d for b", analysis.ErrTooFewPairs, len(la), len(lb))
	}
	// metric of a side from its losses: accuracy = 1 − mean loss, MAE = mean loss
	metric := func(l []float64) float64 {
		m := mean(l)
		if res.Metric == "accuracy" {
			return 1 - m
		}
		return m
	}
	sign := 1.0 // metric(b) − metric(a) = sign·(mean loss b − mean loss a)
	if res.Metric == "accuracy" {
		sign = -1
	}
	res.A, res.B = metric(la), metric(lb)
	var iv analysis.Interval
	if paired {
		n := len(la)
		diff := func(idx []int) float64 {
			var s float64
			for _, i := range idx {
				s += lb[i] - la[i]
			}
			return sign * s / float64(len(idx))
		}
		var err error
		iv, err = analysis.PairedBootstrap(n, diff, analysis.BootstrapOptions{Rounds: rounds, Level: 1 - alpha, Seed: 1})
		if err != nil {
			return nil, err
		}
		res.IntervalBy = "paired percentile bootstrap"
		if res.Metric == "accuracy" {
			var onlyA, onlyB int
			for i := range la {
				switch {
				case la[i] == 0 && lb[i] == 1:
					onlyA++
				case la[i] == 1 && lb[i] == 0:
					onlyB++
				}
			}
			res.Test = "mcnemar exact"
			if res.PValue, err = analysis.McNemar(onlyA, onlyB); err != nil {
				return nil, err
			}
		} else {
			d := make([]float64, n)
			for i := range d {
				d[i] = lb[i] - la[i]
			}
			res.Test = "wilcoxon signed-rank"
			_, p, err := analysis.Wilcoxon(d)
			switch {
			case errors.Is(err, analysis.ErrTooFewPairs):
				res.PValue, res.Note = 1, "a and b have the same absolute error on every event"
			case err != nil:
				return nil, err
			default:
				res.PValue = p
			}
		}
	} else {
		var err error
		var p float64
		iv, p, err = analysis.Welch(la, lb, 1-alpha)
		if err != nil {
			return nil, err
		}
		// Welch's interval is for mean loss b − a; turn it into metric units.
		if sign < 0 {
			iv = analysis.Interval{Difference: -iv.Difference, Lower: -iv.Upper, Upper: -iv.Lower}
		}
		res.PValue, res.Test, res.IntervalBy = p, "welch t", "welch t"
	}
	res.Difference, res.Lower, res.Upper = res.B-res.A, iv.Lower, iv.Upper
	// gain of b over a: positive when b is better
	gainLo, gainHi := iv.Lower, iv.Upper
	if res.Metric == "mae" {
		gainLo, gainHi = -iv.Upper, -iv.Lower
	}
	res.Winner = "none"
	if res.PValue < alpha {
		switch {
		case gainLo > 0:
			res.Winner = "b"
		case gainHi < 0:
			res.Winner = "a"
		default:
			res.Note = "the test rejects but the interval includes 0: no winner"
		}
	}
	return res, nil
}

func mean(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}
