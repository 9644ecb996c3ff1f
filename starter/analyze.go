package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/vigilml/vigil/analysis"
	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/store"
	"github.com/vigilml/vigil/store/format"
)

// analyzeFlags are the flags shared by analyze and baseline.
type analyzeFlags struct {
	reference, current, task, target, prediction, score, latency, timeCol, eventID string
	features, categorical, driftMethod, format, out, baseline, positive            string
	driftThreshold, datasetShare, falseAlarmRate                                   float64
	exactLimit                                                                     int
	push, pushJob, pushModel                                                       string
}

func (f *analyzeFlags) register(fs *flag.FlagSet, withCurrent bool) {
	fs.StringVar(&f.reference, "reference", "", "reference window: a local `file` (csv, jsonl, ...)")
	if withCurrent {
		fs.StringVar(&f.current, "current", "", "current window `file` to compare with the reference (required)")
		fs.StringVar(&f.baseline, "baseline", "", "a `file` written by 'starter baseline': report the constraints the current window violates\n(with -baseline, -reference may be omitted: constraints and quality only, no drift)")
		fs.StringVar(&f.out, "o", "", "write the JSON report to this file instead of stdout")
		fs.StringVar(&f.driftMethod, "drift-method", "auto", "drift test: auto|ks|psi|wasserstein|jensenshannon|chisquare|hellinger|linf")
		fs.Float64Var(&f.datasetShare, "dataset-drift-share", 0.5, "share of drifted features at which the dataset counts as drifted")
		fs.StringVar(&f.push, "push", "", "also push the report's metrics to this Prometheus Pushgateway `URL` (for one-off runs in CI jobs)")
		fs.StringVar(&f.pushJob, "push-job", "vigil-analyze", "the Pushgateway job name")
		fs.StringVar(&f.pushModel, "model", "offline", "model label of the pushed metrics")
	} else {
		fs.StringVar(&f.out, "o", "baseline.json", "write the baseline to this file ('-' for stdout)")
		fs.StringVar(&f.driftMethod, "drift-method", "auto", "drift test the suggested drift constraints use")
	}
	fs.StringVar(&f.task, "task", "", "binary|multiclass|regression; without it only drift and data quality are reported")
	fs.StringVar(&f.target, "target", "", "column with the true label or value (rows where it is empty are unlabeled)")
	fs.StringVar(&f.prediction, "prediction", "", "column with the model's predicted label or value")
	fs.StringVar(&f.score, "score", "", "column with the positive-class probability (binary: roc_auc, log_loss)")
	fs.StringVar(&f.latency, "latency", "", "column with the latency in milliseconds (p50/p95/p99)")
	fs.StringVar(&f.timeCol, "time", "", "column with the event time, for throughput (default: a column named \"time\")")
	fs.StringVar(&f.eventID, "event-id", "", "column with the event id, for duplicate detection (default: a column named \"event_id\")")
	fs.StringVar(&f.features, "features", "", "comma-separated feature columns (default: every column without a role)")
	fs.StringVar(&f.categorical, "categorical", "", "comma-separated columns to treat as categorical (non-numeric columns are anyway)")
	fs.StringVar(&f.format, "format", "", "csv|jsonl|parquet|sagemaker (default: from the file extension, else csv)")
	fs.StringVar(&f.positive, "positive-label", "1", "positive class of a binary task")
	fs.Float64Var(&f.driftThreshold, "drift-threshold", 0, "drift threshold (0 = the method's default: p<0.05 for ks/chisquare, >=0.1 for distances;\nunder auto: the floor of the calibrated distance thresholds, 0.1 numeric, 0.05 categorical)")
	fs.Float64Var(&f.falseAlarmRate, "false-alarm-rate", 0.01, "auto: the share of stationary windows that may be flagged per feature, at any window size (α)")
	fs.IntVar(&f.exactLimit, "exact-limit", 0, "values per column kept exactly before switching to a streaming sketch (0 = 250000)")
}

func (f *analyzeFlags) options() analysis.Options {
	return analysis.Options{
		Task: f.task, Target: f.target, Prediction: f.prediction, Score: f.score, Latency: f.latency,
		Time: f.timeCol, EventID: f.eventID,
		Features: splitList(f.features), Categorical: splitList(f.categorical),
		DriftMethod: f.driftMethod, DriftThreshold: f.driftThreshold, DatasetDriftShare: f.datasetShare,
		FalseAlarmRate: f.falseAlarmRate, PositiveLabel: f.positive, ExactLimit: f.exactLimit,
	}
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// inputFormat picks the format of path: the flag, else its extension.
func inputFormat(path, flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	ext := strings.TrimPrefix(filepath.Ext(strings.TrimSuffix(path, ".gz")), ".")
	switch ext {
	case "jsonl", "json", "ndjson":
		return "jsonl"
	case "parquet":
		return "parquet"
	}
	return "csv"
}

// openInput opens one input for reading as rows. Paths are local files for
// now; this is the one place that learns other schemes (s3://).
func openInput(ctx context.Context, path, formatName string) (analysis.Rows, io.Closer, error) {
	if strings.HasPrefix(path, "s3://") || strings.HasPrefix(path, "file://") {
		// Through the store: S3 (default AWS credentials; AWS_ENDPOINT_URL_S3
		// and VIGIL_S3_PATH_STYLE=true for MinIO), prefixes, gzip.
		st := store.New(config.Storage{S3: config.S3{
			Endpoint: os.Getenv("AWS_ENDPOINT_URL_S3"), PathStyle: os.Getenv("VIGIL_S3_PATH_STYLE") == "true",
		}})
		return st.OpenURI(ctx, path, formatName, store.ReadOptions{})
	}
	if formatName == "csv" && !strings.HasSuffix(path, ".gz") {
		// Mapped rather than read: no copies between the page cache and the parser.
		rows, closer, err := format.OpenCSVFile(path, format.Options{})
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		return rows, closer, nil
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	rows, err := format.Open(fh, formatName, format.Options{})
	if err != nil {
		fh.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return rows, fh, nil
}

func writeJSON(path string, stdout io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "" || path == "-" {
		_, err = stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// cmdAnalyze implements `starter analyze`: compare a current window with a
// reference and print (or write) the JSON report.
func cmdAnalyze(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("analyze", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f analyzeFlags
	f.register(fs, true)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: starter analyze -reference REF -current CUR [flags]

Compares the current window of a model's inference log with a reference window
and prints a JSON report: row counts, performance (with -task and labels),
latency, per-feature drift and data quality, dataset drift.
Large inputs are streamed; memory grows with columns, not rows.

Example:
  starter analyze -reference ref.csv -current cur.csv -task binary \
    -target label -prediction prediction -score score -latency latency_ms -o report.json

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if f.current == "" || (f.reference == "" && f.baseline == "") {
		fs.Usage()
		return errors.New("analyze: -current and -reference are required")
	}
	opts := f.options()
	if err := opts.Validate(); err != nil {
		return err
	}
	if f.baseline != "" {
		b, err := os.ReadFile(f.baseline)
		if err != nil {
			return fmt.Errorf("analyze: %w", err)
		}
		opts.Baseline = new(analysis.Baseline)
		if err := json.Unmarshal(b, opts.Baseline); err != nil {
			return fmt.Errorf("analyze: %s is not a baseline (make one with `starter baseline`): %w", f.baseline, err)
		}
	}
	refPath := f.reference
	if refPath == "" {
		// Constraints only: the window is its own reference, so every drift
		// statistic is 0; the baseline's constraints still apply.
		refPath = f.current
	}
	ref, refC, err := openInput(ctx, refPath, inputFormat(refPath, f.format))
	if err != nil {
		return fmt.Errorf("analyze: reference: %w", err)
	}
	defer refC.Close()
	cur, curC, err := openInput(ctx, f.current, inputFormat(f.current, f.format))
	if err != nil {
		return fmt.Errorf("analyze: current: %w", err)
	}
	defer curC.Close()
	rep, err := analysis.Analyze(ref, cur, opts)
	if err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	if f.push != "" {
		if err := pushReport(ctx, f.push, f.pushJob, f.pushModel, rep); err != nil {
			return fmt.Errorf("analyze: push to %s: %w", f.push, err)
		}
	}
	return writeJSON(f.out, stdout, rep)
}

// cmdBaseline implements `starter baseline`: statistics and suggested
// constraints of a reference window, for `analyze -baseline`.
func cmdBaseline(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("baseline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f analyzeFlags
	f.register(fs, false)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: starter baseline -reference REF [-o baseline.json] [flags]

Profiles a reference window and writes per-feature statistics and suggested
constraints (kind, completeness, numeric range, allowed categories, drift
threshold). Edit the file as you see fit, then check windows against it with
  starter analyze -reference REF -current CUR -baseline baseline.json

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if f.reference == "" {
		fs.Usage()
		return errors.New("baseline: -reference is required")
	}
	ref, c, err := openInput(ctx, f.reference, inputFormat(f.reference, f.format))
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	defer c.Close()
	b, err := analysis.BuildBaseline(ref, f.options())
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	return writeJSON(f.out, stdout, b)
}
