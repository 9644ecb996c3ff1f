package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/vigilml/vigil/analysis"
	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/dashboard"
	"github.com/vigilml/vigil/store"
	"github.com/vigilml/vigil/store/format"
)

// analyzeFlags are the flags shared by analyze and baseline.
type analyzeFlags struct {
	reference, current, task, target, prediction, score, latency, timeCol, eventID string
	features, categorical, driftMethod, format, out, baseline, positive            string
	refFormat, curFormat                                                           string
	driftThreshold, datasetShare, threshold, falseAlarmRate                        float64
	exactLimit                                                                     int
	push, pushJob, pushModel                                                       string
	html                                                                           string
}

func (f *analyzeFlags) register(fs *flag.FlagSet, withCurrent bool) {
	fs.StringVar(&f.reference, "reference", "", "reference window: a local `file` (csv, jsonl, ...)")
	if withCurrent {
		fs.StringVar(&f.current, "current", "", "current window `file` to compare with the reference (required)")
		fs.StringVar(&f.baseline, "baseline", "", "a `file` written by 'starter baseline': report the constraints the current window violates\n(with -baseline, -reference may be omitted: constraints and quality only, no drift)")
		fs.StringVar(&f.out, "o", "", "write the JSON report to this file instead of stdout")
		fs.StringVar(&f.html, "html", "", "also write the report as one self-contained HTML `file` (charts and tables, no network access needed)")
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
	fs.StringVar(&f.format, "format", "", "csv|jsonl|parquet|sagemaker for both sides (default: detected per file from its extension and content)")
	fs.StringVar(&f.refFormat, "reference-format", "", "format of the reference only (overrides -format)")
	if withCurrent {
		fs.StringVar(&f.curFormat, "current-format", "", "format of the current window only (overrides -format)")
	}
	fs.Float64Var(&f.threshold, "threshold", 0.5, "binary: the score at or above which a row without a prediction is predicted positive")
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
		PositiveLabel: f.positive, ExactLimit: f.exactLimit, Threshold: f.threshold,
		FalseAlarmRate: f.falseAlarmRate,
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

// sideFormat is the format flag of one side: its own flag, else -format,
// else "" (detected from the file's name and content).
func sideFormat(own, all string) string {
	if own != "" {
		return own
	}
	return all
}

// openInput opens one input for reading as rows and says which format it
// was read as. Local CSV files are mapped; everything else (other formats,
// gzip, directories, file:// and s3:// URIs) goes through the store, which
// detects the format of each object from its name and first bytes when
// formatName is "" (a prefix of .jsonl.gz objects is read as JSONL, a
// capture file as SageMaker).
func openInput(ctx context.Context, path, formatName string) (analysis.Rows, io.Closer, string, error) {
	local := !strings.Contains(path, "://")
	if local && formatName == "" {
		f, err := detectFile(path)
		if err != nil {
			return nil, nil, "", err
		}
		formatName = f
	}
	if local && formatName == "csv" && !isGzip(path) {
		// Mapped rather than read: no copies between the page cache and the parser.
		rows, closer, err := format.OpenCSVFile(path, format.Options{})
		if err != nil {
			return nil, nil, "", fmt.Errorf("%s: %w", path, err)
		}
		return rows, closer, formatName, nil
	}
	// Through the store: S3 (default AWS credentials; AWS_ENDPOINT_URL_S3
	// and VIGIL_S3_PATH_STYLE=true for MinIO), prefixes, gzip.
	st := store.New(config.Storage{S3: config.S3{
		Endpoint: os.Getenv("AWS_ENDPOINT_URL_S3"), PathStyle: os.Getenv("VIGIL_S3_PATH_STYLE") == "true",
	}})
	rows, closer, err := st.OpenURI(ctx, path, formatName, store.ReadOptions{})
	if err != nil {
		return nil, nil, "", err
	}
	if formatName == "" {
		formatName = "detected per object"
	}
	return rows, closer, formatName, nil
}

// detectFile names the format of a local file from its name and first
// bytes (gzip is looked through); "" for a directory (each file is
// detected on its own).
func detectFile(path string) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return "", err
	}
	if st.IsDir() {
		return "", nil
	}
	var r io.Reader = bufio.NewReaderSize(fh, format.SniffBytes)
	if magic, _ := r.(*bufio.Reader).Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
		r = zr
	}
	head := make([]byte, format.SniffBytes)
	n, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return format.Detect(path, head[:n]), nil
}

// isGzip reports whether a local file starts with the gzip magic bytes.
func isGzip(path string) bool {
	fh, err := os.Open(path)
	if err != nil {
		return false
	}
	defer fh.Close()
	var magic [2]byte
	n, _ := io.ReadFull(fh, magic[:])
	return n == 2 && magic[0] == 0x1f && magic[1] == 0x8b
}

// sideError names the file and format of the side an analysis error is
// about (analysis.InputError knows the side and column, not the file).
func sideError(err error, refPath, refFormat, curPath, curFormat string) error {
	var ie *analysis.InputError
	if !errors.As(err, &ie) {
		return err
	}
	p, f, flagName := curPath, curFormat, "-current-format"
	if ie.Side == analysis.SideReference {
		p, f, flagName = refPath, refFormat, "-reference-format"
	}
	return fmt.Errorf("%s %s (read as %s; %s to override): %w", ie.Side, p, f, flagName, err)
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
	ref, refC, refFormat, err := openInput(ctx, refPath, sideFormat(f.refFormat, f.format))
	if err != nil {
		return fmt.Errorf("analyze: reference: %w", err)
	}
	defer refC.Close()
	cur, curC, curFormat, err := openInput(ctx, f.current, sideFormat(f.curFormat, f.format))
	if err != nil {
		return fmt.Errorf("analyze: current: %w", err)
	}
	defer curC.Close()
	rep, err := analysis.Analyze(ref, cur, opts)
	if err == nil && rep.Rows.Current == 0 {
		// An empty window has no verdict: "drifted: false" would be a
		// silent wrong answer.
		err = &analysis.InputError{Side: analysis.SideCurrent, Msg: fmt.Sprintf(
			"has no rows (%d malformed records skipped): nothing to analyse", rep.Rows.Invalid)}
	}
	if err == nil {
		err = analysis.CheckVerdict(rep)
	}
	if err != nil {
		return fmt.Errorf("analyze: %w", sideError(err, refPath, refFormat, f.current, curFormat))
	}
	if f.push != "" {
		if err := pushReport(ctx, f.push, f.pushJob, f.pushModel, rep); err != nil {
			return fmt.Errorf("analyze: push to %s: %w", f.push, err)
		}
	}
	if f.html != "" {
		page := dashboard.NewReportPage(f.pushModel, &dashboard.Stored{Report: *rep}, nil)
		page.Subtitle = fmt.Sprintf("%s compared with %s", f.current, refPath)
		if err := writeHTML(f.html, page); err != nil {
			return fmt.Errorf("analyze: %w", err)
		}
	}
	return writeJSON(f.out, stdout, rep)
}

// writeHTML writes a report page as one self-contained file.
func writeHTML(path string, page *dashboard.ReportPage) error {
	var b bytes.Buffer
	if err := (dashboard.Renderer{}).Report(&b, page, true); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
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
	ref, c, _, err := openInput(ctx, f.reference, sideFormat(f.refFormat, f.format))
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
