package config

import (
	"cmp"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"time"
)

// Config is one vigil.yaml.
type Config struct {
	Temporal Temporal `yaml:"temporal"`
	Worker   Worker   `yaml:"worker"`
	Dev      Dev      `yaml:"dev"`
	Storage  Storage  `yaml:"storage"`
	Notify   Notify   `yaml:"notify"`
	Models   []Model  `yaml:"models"`
	// Observability tunes the exported metrics (Prometheus, DogStatsD).
	Observability Observability `yaml:"observability"`
	// MLflow, when set, mirrors retrains and promotions into MLflow.
	MLflow *MLflow `yaml:"mlflow"`
	// Analysis tunes how windows are read and profiled.
	Analysis Analysis `yaml:"analysis"`
	// Audit, when audit.kafka is set, publishes the audit trail to Kafka.
	Audit Audit `yaml:"audit"`

	// File is the path the config was loaded from (for messages).
	File string `yaml:"-"`
}

// Analysis tunes how the monitor reads and profiles windows.
type Analysis struct {
	// ShardObjects, when positive, splits a window of more prediction
	// objects than it into shards of ShardObjects consecutive objects of
	// the window's listing: each shard is profiled by an activity of its
	// own, on any worker of the task queue, and one activity merges the
	// profiles. 0 (the default): every window is one activity.
	ShardObjects int `yaml:"shard_objects"`
	// ShardSlots is how many shard activities one worker process runs at
	// once (0: its number of CPUs), which bounds its memory; the other
	// shards wait in the task queue for any worker.
	ShardSlots int `yaml:"shard_slots"`
	// ShardRetention is how long the shard documents of an evaluation that
	// never deleted them (its worker killed, its workflow terminated or
	// timed out) are kept: PlanShards deletes a model's runs whose newest
	// document is older. At least every model's run timeout, so that no
	// evaluation under way loses its documents; default 24h, or the longest
	// run timeout when longer.
	ShardRetention Duration `yaml:"shard_retention"`
}

// DefaultShardRetention is analysis.shard_retention's default unless a
// model's run timeout is longer.
const DefaultShardRetention = 24 * time.Hour

// Temporal says how to reach the Temporal cluster.
type Temporal struct {
	Address   string `yaml:"address"`    // host:port; env VIGIL_TEMPORAL_ADDRESS overrides
	Namespace string `yaml:"namespace"`  // env VIGIL_TEMPORAL_NAMESPACE overrides
	TaskQueue string `yaml:"task_queue"` // one queue for every workflow and activity
	TLS       TLS    `yaml:"tls"`
	// APIKeyEnv names the variable holding a Temporal Cloud API key.
	APIKeyEnv string `yaml:"api_key_env"`
	// UIURL is the Temporal Web UI's base URL, used in links from alerts.
	UIURL string `yaml:"ui_url"`
	// Encryption, when set, encrypts payloads in Temporal (see Encryption).
	Encryption *Encryption `yaml:"encryption"`
	// Deployment, when Name is set, runs the worker as a version of a
	// Temporal Worker Deployment (Worker Versioning).
	Deployment Deployment `yaml:"deployment"`
}

// Deployment opts the worker into Temporal Worker Versioning: the worker
// polls as version {Name, build ID of its binary}; monitor, retrain and
// rollback runs stay on the build that started them, incident workflows
// move to the current build. Empty Name: versioning off.
type Deployment struct {
	Name string `yaml:"name"`
	// SetCurrent makes the worker set its own version current in the
	// deployment when it starts, so a rollout needs no separate step.
	SetCurrent bool `yaml:"set_current"`
}

// TLS holds client certificate paths; files, not secrets inline.
type TLS struct {
	CertFile   string `yaml:"cert_file"`
	KeyFile    string `yaml:"key_file"`
	CAFile     string `yaml:"ca_file"`
	ServerName string `yaml:"server_name"`
}

// Enabled reports whether any TLS setting is present.
func (t TLS) Enabled() bool { return t.CertFile != "" || t.CAFile != "" || t.ServerName != "" }

// Worker configures the worker process's own HTTP server.
type Worker struct {
	// HTTPAddr serves /healthz, /readyz, /metrics and the ingest API.
	HTTPAddr string `yaml:"http_addr"`
	// IngestTokenEnv names the variable with the bearer token ingest requires
	// (no token configured: ingest is open, which suits dev mode only).
	IngestTokenEnv string `yaml:"ingest_token_env"`
	// APITokenEnv names the variable with the bearer token the run API
	// (/v1/models/{m}/evaluations and /retrains, for orchestrators such as
	// Airflow) requires; unset: open, dev only.
	APITokenEnv string `yaml:"api_token_env"`
	// Ingest limits the ingest API; zero values take its defaults.
	Ingest IngestLimits `yaml:"ingest"`
	// PublicURL is the address people reach this worker's HTTP server at
	// (https://vigil.example.com); alerts link to its report pages. Empty:
	// alerts link to the stored report's URI.
	PublicURL string `yaml:"public_url"`
	// Dashboard configures the pages at / on HTTPAddr.
	Dashboard Dashboard `yaml:"dashboard"`
}

// Dashboard configures the read-only dashboard the worker serves.
type Dashboard struct {
	// TokenEnv names the variable with the token the pages require (unset:
	// open, as /metrics is).
	TokenEnv string `yaml:"token_env"`
	// HideValues keeps data values off the pages: category names become
	// "category 1, 2, ..." and read errors (which may quote records) are
	// counted, not shown.
	HideValues bool `yaml:"hide_values"`
}

// IngestLimits bounds what the ingest API accepts.
type IngestLimits struct {
	MaxBodyBytes   int64 `yaml:"max_body_bytes"`   // per request (default 8 MiB); larger: 413
	MaxRecordBytes int   `yaml:"max_record_bytes"` // per record (default 1 MiB); larger: 413
	// RatePerSecond is the sustained requests per second per model (default
	// 50; -1: no limit); Burst how many it takes at once (default 100).
	RatePerSecond float64 `yaml:"rate_per_second"`
	Burst         int     `yaml:"burst"`
}

// Dev configures `worker -dev`, the one-process server for laptops.
type Dev struct {
	DataDir      string   `yaml:"data_dir"`  // SQLite file and local stores
	Retention    Duration `yaml:"retention"` // how long closed workflows stay visible
	FrontendPort int      `yaml:"frontend_port"`
	UIPort       int      `yaml:"ui_port"`
}

// Storage says where Vigil writes what it produces.
type Storage struct {
	Reports  string `yaml:"reports"`  // file://dir or s3://bucket/prefix
	Registry string `yaml:"registry"` // model registry root
	S3       S3     `yaml:"s3"`
}

// S3 settings shared by every s3:// URI; credentials come from the AWS
// default chain (env, shared config, instance role).
type S3 struct {
	Region    string `yaml:"region"`
	Endpoint  string `yaml:"endpoint"`   // MinIO and other S3-compatible stores
	PathStyle bool   `yaml:"path_style"` // required by most of them
}

// Model is one monitored model.
type Model struct {
	Name        string   `yaml:"name"`
	Task        string   `yaml:"task"` // binary | multiclass | regression | "" (drift and quality only)
	Schedule    Schedule `yaml:"schedule"`
	Columns     Columns  `yaml:"columns"`
	Features    []string `yaml:"features"`    // empty: every other column
	Categorical []string `yaml:"categorical"` // forced categorical; non-numeric columns are anyway
	Source      Source   `yaml:"source"`
	GroundTruth Source   `yaml:"ground_truth"`
	Reference   Source   `yaml:"reference"`
	Drift       Drift    `yaml:"drift"`
	// MinRows is the fewest rows a window needs for a verdict; a smaller
	// one gets status insufficient-data (default 50).
	MinRows int      `yaml:"min_rows"`
	Rules   []Rule   `yaml:"rules"`
	Retrain *Retrain `yaml:"retrain"`
}

// Schedule is the cadence of evaluations.
type Schedule struct {
	Every Duration `yaml:"every"`
	// Window is how much recent data one evaluation reads, ending at the
	// scheduled time. Default: Every.
	Window Duration `yaml:"window"`
	// Delay shifts the window back so late-arriving records are in place.
	Delay Duration `yaml:"delay"`
	// Jitter delays each run by a random amount up to it (deterministic per
	// schedule), so many models on one cadence do not all start at once.
	// Windows still end at the nominal time.
	Jitter Duration `yaml:"jitter"`
	// CatchupWindow bounds how far back missed runs are made up after an outage.
	CatchupWindow Duration `yaml:"catchup_window"`
	Paused        bool     `yaml:"paused"`
	// RunTimeout bounds one evaluation run; 0: DefaultRunTimeout(every). With
	// overlapping runs skipped, a stuck run would skip windows for as long
	// as it is stuck.
	RunTimeout Duration `yaml:"run_timeout"`
}

// DefaultRunTimeout is schedule.run_timeout's default: two cadences, and at
// least 35 minutes, so one whole attempt at reading a window (30 minutes)
// fits.
func DefaultRunTimeout(every time.Duration) time.Duration {
	return max(2*every, 35*time.Minute)
}

// Columns names the special columns of a model's records.
type Columns struct {
	Target     string `yaml:"target"`
	Prediction string `yaml:"prediction"`
	Score      string `yaml:"score"`
	Latency    string `yaml:"latency"`
	Time       string `yaml:"time"`
	EventID    string `yaml:"event_id"`
	// Threshold (binary) is the score at or above which a record without a
	// prediction is predicted positive (0: 0.5), so a model that returns
	// only a probability needs no prediction column.
	Threshold float64 `yaml:"threshold"`
	// ClassScores (multiclass) maps each class label to the column of the
	// model's probability of that class: with them the report estimates
	// performance without labels (analysis.MulticlassCBPE).
	ClassScores map[string]string `yaml:"class_scores"`
}

// Source is where records are read from.
type Source struct {
	URI    string `yaml:"uri"`    // file://dir, s3://bucket/prefix, or a single file
	Format string `yaml:"format"` // csv | jsonl | parquet | sagemaker
	// Columns names the fields of headerless CSV payloads (SageMaker capture).
	Columns []string `yaml:"columns"`
	// Lookahead (ground_truth only) is how long after a window its labels
	// may still arrive and be joined (default 7d).
	Lookahead Duration `yaml:"lookahead"`
	// Variants (SageMaker capture) maps a production or shadow variant's
	// name, the folder its capture files are under, to the model version it
	// serves: rows get that model_version (default: the variant's name).
	Variants map[string]string `yaml:"variants"`
	// ShadowVariant (SageMaker capture) names the endpoint's shadow variant:
	// its records are not served traffic but the shadow predictions of the
	// production records with the same inferenceId.
	ShadowVariant string `yaml:"shadow_variant"`
	// Kafka (source and ground_truth only): the worker consumes this topic
	// and stores its records under URI, as the ingest API does.
	Kafka *Kafka `yaml:"kafka"`
}

// Drift configures the drift tests.
type Drift struct {
	Method       string  `yaml:"method"`        // auto | ks | psi | wasserstein | ...
	Threshold    float64 `yaml:"threshold"`     // 0: the method's default (auto: its practical floor)
	DatasetShare float64 `yaml:"dataset_share"` // share of drifted features that flags the dataset
	// FalseAlarmRate is auto's α: the share of stationary windows it may
	// flag per feature, at any window size (default 0.01).
	FalseAlarmRate float64 `yaml:"false_alarm_rate"`
	// Multivariate runs the domain-classifier test on a model without a
	// task (with a task it always runs; see the README's analysis section).
	Multivariate bool `yaml:"multivariate"`
}

// Rule is one alert rule on a report metric.
type Rule struct {
	Name   string   `yaml:"name"`
	Metric string   `yaml:"metric"` // a report path, e.g. performance.accuracy
	Below  *float64 `yaml:"below"`
	Above  *float64 `yaml:"above"`
	// ThresholdMode "auto" replaces below/above with the metric's band over
	// reference chunks of the window's size (ThresholdAuto).
	ThresholdMode string `yaml:"threshold"`
	// For is how many consecutive breaching windows open an incident.
	For int `yaml:"for"`
	// RecoverAfter is how many consecutive good windows resolve it.
	RecoverAfter  int      `yaml:"recover_after"`
	Severity      string   `yaml:"severity"` // info | warning | critical
	EscalateAfter Duration `yaml:"escalate_after"`
	// Cooldown keeps a resolved rule from re-opening an incident at once.
	Cooldown Duration `yaml:"cooldown"`
	Retrain  bool     `yaml:"retrain"`
}

// ThresholdAuto is Rule.ThresholdMode for reference-calibrated thresholds.
const ThresholdAuto = "auto"

// Auto reports whether the rule's bounds come from the reference band.
func (r Rule) Auto() bool { return r.ThresholdMode == ThresholdAuto }

// BandVerdict judges a threshold: auto rule: breached when the value (ok:
// it exists) is outside the metric's reference band [lower, upper]. Without
// a band (has false, or a note saying why there is none) the rule neither
// breaches nor recovers, and the threshold text says why.
func (r Rule) BandVerdict(v float64, ok, has bool, lower, upper float64, note string) (breached bool, threshold string) {
	switch {
	case !has:
		return false, "reference band: none computed"
	case note != "":
		return false, "reference band: " + note
	}
	return ok && (v < lower || v > upper), fmt.Sprintf("within the reference band [%.4g, %.4g]", lower, upper)
}

// Breached reports whether value violates the rule's threshold.
func (r Rule) Breached(value float64) bool {
	return (r.Below != nil && value < *r.Below) || (r.Above != nil && value > *r.Above)
}

// Threshold is the bound the rule checks, for messages.
func (r Rule) Threshold() string {
	switch {
	case r.Auto():
		return "outside the reference band"
	case r.Below != nil && r.Above != nil:
		return fmt.Sprintf("within [%g, %g]", *r.Below, *r.Above)
	case r.Below != nil:
		return fmt.Sprintf("< %g", *r.Below)
	default:
		return fmt.Sprintf("> %g", *r.Above)
	}
}

// Model returns the named model, or nil.
func (c *Config) Model(name string) *Model {
	for i := range c.Models {
		if c.Models[i].Name == name {
			return &c.Models[i]
		}
	}
	return nil
}

// Options change how Load checks a file.
type Options struct {
	// SkipEnv skips the check that every *_env variable is set: for
	// validating a config on a machine that will not run the worker.
	SkipEnv bool
	// Getenv looks up environment variables; nil means os.Getenv.
	Getenv func(string) string
}

// Load reads, defaults and validates the config at path. On failure the
// error is an Errors listing every problem.
func Load(path string, opts Options) (*Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, src, opts)
}

// Parse is Load for bytes already in memory; name is used in messages.
func Parse(name string, src []byte, opts Options) (*Config, error) {
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	d := &decoder{file: name, lines: map[string]int{}}
	var c Config
	d.decodeYAML(src, &c)
	decodeErrs := d.errs
	for _, e := range decodeErrs {
		if e.Path == "" { // not YAML, or not one document: nothing to validate
			return nil, d.errs
		}
	}
	c.File = name
	c.applyEnv(opts.Getenv)
	c.applyDefaults()
	// Validate even when some fields did not decode (an unknown field, a
	// wrong type): one typo must not hide every other problem. A field that
	// did not decode is left zero, so validation's complaints about it (or
	// about its parent) repeat the decoding error and are dropped.
	d.errs = nil
	c.validate(d, opts)
	all := slices.Clone(decodeErrs)
	for _, v := range d.errs {
		if !slices.ContainsFunc(decodeErrs, func(e Error) bool { return samePlace(e.Path, v.Path) }) {
			all = append(all, v)
		}
	}
	if len(all) > 0 {
		// In file order; problems without a line (absent fields) last.
		sort.SliceStable(all, func(i, j int) bool {
			li, lj := all[i].Line, all[j].Line
			return li != 0 && (lj == 0 || li < lj)
		})
		return nil, all
	}
	return &c, nil
}

// samePlace reports whether two field paths are the same field or one
// contains the other (models[0].rules[1] and models[0].rules[1].below).
func samePlace(a, b string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	return a == b || strings.HasPrefix(b, a+".") || strings.HasPrefix(b, a+"[")
}

func (c *Config) applyEnv(getenv func(string) string) {
	if v := getenv("VIGIL_TEMPORAL_ADDRESS"); v != "" {
		c.Temporal.Address = v
	}
	if v := getenv("VIGIL_TEMPORAL_NAMESPACE"); v != "" {
		c.Temporal.Namespace = v
	}
	if v := getenv("VIGIL_HTTP_ADDR"); v != "" {
		c.Worker.HTTPAddr = v
	}
}

// Defaults that users see in the README's config reference.
const (
	DefaultAddress   = "127.0.0.1:7233"
	DefaultNamespace = "default"
	DefaultTaskQueue = "vigil"
	DefaultHTTPAddr  = "127.0.0.1:8088"
	DefaultDataDir   = ".vigil"
)

// orDefault sets *v to def when it is the zero value (a field left out of
// the YAML), so each default names its field once.
func orDefault[T comparable](v *T, def T) { *v = cmp.Or(*v, def) }

func (c *Config) applyDefaults() {
	orDefault(&c.Temporal.Address, DefaultAddress)
	orDefault(&c.Temporal.Namespace, DefaultNamespace)
	orDefault(&c.Temporal.TaskQueue, DefaultTaskQueue)
	orDefault(&c.Worker.HTTPAddr, DefaultHTTPAddr)
	orDefault(&c.Dev.DataDir, DefaultDataDir)
	orDefault(&c.Dev.Retention, Duration(30*24*time.Hour))
	orDefault(&c.Dev.FrontendPort, 7233)
	orDefault(&c.Dev.UIPort, 8233)
	if c.Temporal.UIURL == "" {
		c.Temporal.UIURL = fmt.Sprintf("http://127.0.0.1:%d", c.Dev.UIPort)
	}
	orDefault(&c.Storage.Reports, "file://"+c.Dev.DataDir+"/reports")
	orDefault(&c.Storage.Registry, "file://"+c.Dev.DataDir+"/registry")
	c.Notify.applyDefaults()
	retention := DefaultShardRetention
	for i := range c.Models {
		c.Models[i].applyDefaults()
		retention = max(retention, runTimeout(&c.Models[i]))
	}
	orDefault(&c.Analysis.ShardRetention, Duration(retention))
}

func (m *Model) applyDefaults() {
	orDefault(&m.Schedule.Every, Duration(15*time.Minute))
	orDefault(&m.Schedule.Window, m.Schedule.Every)
	orDefault(&m.Schedule.CatchupWindow, Duration(time.Hour))
	orDefault(&m.Columns.Time, "time")
	orDefault(&m.Columns.EventID, "event_id")
	orDefault(&m.Source.Format, formatOf(m.Source.URI))
	if m.GroundTruth.URI == "" && m.Source.URI != "" && !IsFile(m.Source.URI) {
		m.GroundTruth.URI = strings.TrimSuffix(m.Source.URI, "/") + "/ground-truth"
	}
	orDefault(&m.GroundTruth.Format, m.Source.Format)
	if k := m.Source.Kafka; k != nil {
		orDefault(&k.Group, defaultKafkaGroup(m.Name, "predictions"))
	}
	if k := m.GroundTruth.Kafka; k != nil {
		orDefault(&k.Group, defaultKafkaGroup(m.Name, "ground_truth"))
	}
	orDefault(&m.Reference.Format, formatOf(m.Reference.URI))
	orDefault(&m.Drift.Method, "auto")
	orDefault(&m.Drift.DatasetShare, 0.5)
	orDefault(&m.Drift.FalseAlarmRate, 0.01)
	orDefault(&m.MinRows, 50)
	for i := range m.Rules {
		r := &m.Rules[i]
		orDefault(&r.For, 1)
		orDefault(&r.RecoverAfter, 1)
		orDefault(&r.Severity, "warning")
		orDefault(&r.EscalateAfter, Duration(15*time.Minute))
	}
	if m.Retrain != nil {
		m.Retrain.applyDefaults()
	}
}

// formatOf guesses a format from a file name; directories default to jsonl,
// the format Vigil's own ingest writes.
func formatOf(uri string) string {
	u := strings.TrimSuffix(strings.ToLower(uri), ".gz")
	for _, f := range []string{"csv", "jsonl", "parquet"} {
		if strings.HasSuffix(u, "."+f) {
			return f
		}
	}
	if strings.HasSuffix(u, ".json") {
		return "jsonl"
	}
	return "jsonl"
}

// IsFile reports whether uri names a single file (by its extension: .csv,
// .jsonl, .json, .parquet, each optionally .gz) rather than a partitioned
// prefix.
func IsFile(uri string) bool {
	u := strings.TrimSuffix(strings.ToLower(uri), ".gz")
	for _, ext := range []string{".csv", ".jsonl", ".json", ".parquet"} {
		if strings.HasSuffix(u, ext) {
			return true
		}
	}
	return false
}
