package config

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// Names become workflow IDs, schedule IDs, metric labels and path segments,
// so they are kept to a safe alphabet (no "/" or "..": no path traversal).
var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

var (
	tasks        = []string{"", "binary", "multiclass", "regression"}
	formats      = []string{"csv", "jsonl", "parquet", "sagemaker"}
	driftMethods = []string{"auto", "ks", "psi", "wasserstein", "jensenshannon", "chisquare", "hellinger", "linf"}
	severities   = []string{"info", "warning", "critical"}
)

// Performance metrics by task, as the analysis report names them.
var taskMetrics = map[string][]string{
	"binary":     {"accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"},
	"multiclass": {"accuracy", "f1_macro", "f1_weighted"},
	"regression": {"mae", "mse", "rmse", "r2", "mape"},
}

func quoteList(xs []string) string {
	var q []string
	for _, x := range xs {
		if x != "" {
			q = append(q, x)
		}
	}
	return strings.Join(q, ", ")
}

func (c *Config) validate(d *decoder, opts Options) {
	if _, _, err := net.SplitHostPort(c.Temporal.Address); err != nil {
		d.at("temporal.address", "want host:port, got %q", c.Temporal.Address)
	}
	if !nameRE.MatchString(c.Temporal.TaskQueue) {
		d.at("temporal.task_queue", "want lower-case letters, digits, - and _, got %q", c.Temporal.TaskQueue)
	}
	if dep := c.Temporal.Deployment; dep.Name != "" && !nameRE.MatchString(dep.Name) {
		d.at("temporal.deployment.name", "want lower-case letters, digits, - and _, got %q", dep.Name)
	} else if dep.Name == "" && dep.SetCurrent {
		d.at("temporal.deployment.set_current", "needs temporal.deployment.name (empty: versioning is off)")
	}
	if c.Temporal.TLS.KeyFile != "" && c.Temporal.TLS.CertFile == "" {
		d.at("temporal.tls.cert_file", "key_file is set, so cert_file is required")
	}
	c.Analysis.validate(d, c.Models)
	if _, _, err := net.SplitHostPort(c.Worker.HTTPAddr); err != nil {
		d.at("worker.http_addr", "want host:port, got %q", c.Worker.HTTPAddr)
	}
	if c.Dev.Retention.D() < 24*time.Hour {
		d.at("dev.retention", "must be at least 24h (Temporal's minimum), got %s", c.Dev.Retention)
	}
	for _, f := range []struct{ path, uri string }{
		{"storage.reports", c.Storage.Reports}, {"storage.registry", c.Storage.Registry},
	} {
		checkURI(d, f.path, f.uri)
	}
	env := envChecker{d: d, getenv: opts.Getenv, skip: opts.SkipEnv}
	env.check("temporal.api_key_env", c.Temporal.APIKeyEnv)
	env.check("worker.ingest_token_env", c.Worker.IngestTokenEnv)
	env.check("worker.api_token_env", c.Worker.APITokenEnv)
	env.check("worker.dashboard.token_env", c.Worker.Dashboard.TokenEnv)
	if u := c.Worker.PublicURL; u != "" {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.RawQuery != "" {
			d.at("worker.public_url", "want an http(s) URL without a query, like https://vigil.example.com, got %q", u)
		}
	}
	if l := c.Worker.Ingest; l.MaxBodyBytes < 0 || l.MaxRecordBytes < 0 || l.Burst < 0 {
		d.at("worker.ingest", "limits must not be negative (0 takes the default)")
	}
	if r := c.Worker.Ingest.RatePerSecond; r < 0 && r != -1 {
		d.at("worker.ingest.rate_per_second", "want requests per second, or -1 for no limit, got %g", r)
	}
	if c.Temporal.Encryption != nil {
		c.Temporal.Encryption.validate(d, env)
	}
	c.Notify.validate(d, env)
	c.Observability.validate(d, env)
	if c.MLflow != nil {
		c.MLflow.validate(d, env)
	}
	c.Audit.validate(d, env)

	seen := map[string]int{}
	for i := range c.Models {
		m := &c.Models[i]
		p := fmt.Sprintf("models[%d]", i)
		if first, dup := seen[m.Name]; dup {
			d.at(p+".name", "model %q is already defined at models[%d]", m.Name, first)
		}
		seen[m.Name] = i
		m.validate(d, p, c)
		if k := m.Source.Kafka; k != nil {
			k.validate(d, p+".source.kafka", m.Source, env)
		}
		if k := m.GroundTruth.Kafka; k != nil {
			k.validate(d, p+".ground_truth.kafka", m.GroundTruth, env)
		}
		if m.Reference.Kafka != nil {
			d.at(p+".reference.kafka", "kafka applies to source and ground_truth only (the reference is a fixed data set)")
		}
	}
}

func (m *Model) validate(d *decoder, p string, c *Config) {
	if !nameRE.MatchString(m.Name) {
		d.at(p+".name", "want 1-63 lower-case letters, digits, - and _, starting with a letter or digit, got %q", m.Name)
	}
	if !slices.Contains(tasks, m.Task) {
		d.at(p+".task", "want one of %s, got %q", quoteList(tasks), m.Task)
	}
	if m.Schedule.Every.D() < time.Second {
		d.at(p+".schedule.every", "must be at least 1s, got %s", m.Schedule.Every)
	}
	if m.Schedule.Window.D() <= 0 {
		d.at(p+".schedule.window", "must be positive, got %s", m.Schedule.Window)
	}
	if m.Schedule.RunTimeout < 0 || (m.Schedule.RunTimeout > 0 && m.Schedule.RunTimeout.D() < time.Second) {
		d.at(p+".schedule.run_timeout", "want 0 (two cadences, at least 35m) or at least 1s, got %s", m.Schedule.RunTimeout)
	}
	if j := m.Schedule.Jitter.D(); j < 0 || (j > 0 && j >= m.Schedule.Every.D()) {
		d.at(p+".schedule.jitter", "want 0 up to less than schedule.every (%s), got %s", m.Schedule.Every, m.Schedule.Jitter)
	}
	if m.Task != "" {
		if m.Columns.Target == "" {
			d.at(p+".columns.target", "task %q needs the ground-truth column name", m.Task)
		}
		if m.Columns.Prediction == "" && !(m.Task == "binary" && m.Columns.Score != "") {
			d.at(p+".columns.prediction", "task %q needs the prediction column name (a binary model may give only columns.score, predicted positive at columns.threshold)", m.Task)
		}
	}
	if cs := m.Columns.ClassScores; len(cs) > 0 {
		switch {
		case m.Task != "multiclass":
			d.at(p+".columns.class_scores", "class probability columns need task multiclass, got %q (a binary model names its score in columns.score)", m.Task)
		case len(cs) < 2:
			d.at(p+".columns.class_scores", "want a probability column for each of at least 2 classes, got %d", len(cs))
		}
		for _, class := range slices.Sorted(maps.Keys(cs)) {
			if strings.TrimSpace(class) == "" {
				d.at(p+".columns.class_scores", "a class label is empty")
			}
			if strings.TrimSpace(cs[class]) == "" {
				d.at(p+".columns.class_scores."+class, "class %q needs the name of its probability column", class)
			}
		}
	}
	if t := m.Columns.Threshold; t < 0 || t > 1 {
		d.at(p+".columns.threshold", "want a score in (0, 1], got %g", t)
	}
	if m.Source.URI == "" {
		d.at(p+".source.uri", "required: where the model's predictions are (file://dir or s3://bucket/prefix)")
	} else {
		checkURI(d, p+".source.uri", m.Source.URI)
	}
	if m.Reference.URI == "" {
		d.at(p+".reference.uri", "required: the data drift is measured against (e.g. the training set)")
	} else {
		checkURI(d, p+".reference.uri", m.Reference.URI)
	}
	if _, written := d.lines[p+".ground_truth.uri"]; written {
		checkURI(d, p+".ground_truth.uri", m.GroundTruth.URI)
	}
	if m.GroundTruth.Lookahead < 0 {
		d.at(p+".ground_truth.lookahead", "must not be negative, got %s", m.GroundTruth.Lookahead)
	}
	for _, f := range []string{".ground_truth.variants", ".ground_truth.shadow_variant", ".reference.variants", ".reference.shadow_variant"} {
		if _, written := d.lines[p+f]; written {
			d.at(p+f, "variants and shadow_variant apply to source only (SageMaker capture)")
		}
	}
	checkVariants(d, p+".source", m.Source)
	for _, f := range []string{".source.lookahead", ".reference.lookahead"} {
		if _, written := d.lines[p+f]; written {
			d.at(p+f, "lookahead applies to ground_truth only (how long labels may arrive after a window)")
		}
	}
	for _, s := range []struct {
		path string
		src  Source
	}{{p + ".source.format", m.Source}, {p + ".ground_truth.format", m.GroundTruth}, {p + ".reference.format", m.Reference}} {
		if !slices.Contains(formats, s.src.Format) {
			d.at(s.path, "want one of %s, got %q", quoteList(formats), s.src.Format)
		}
	}
	if !slices.Contains(driftMethods, m.Drift.Method) {
		d.at(p+".drift.method", "want one of %s, got %q", quoteList(driftMethods), m.Drift.Method)
	}
	if m.Drift.DatasetShare <= 0 || m.Drift.DatasetShare > 1 {
		d.at(p+".drift.dataset_share", "want a share in (0, 1], got %g", m.Drift.DatasetShare)
	}
	if m.Drift.FalseAlarmRate <= 0 || m.Drift.FalseAlarmRate >= 0.5 {
		d.at(p+".drift.false_alarm_rate", "want a rate in (0, 0.5), got %g", m.Drift.FalseAlarmRate)
	}
	if m.MinRows < 1 {
		d.at(p+".min_rows", "want at least 1, got %d", m.MinRows)
	}
	if m.Drift.Threshold < 0 {
		d.at(p+".drift.threshold", "must not be negative, got %g", m.Drift.Threshold)
	}
	rules := map[string]bool{}
	for j := range m.Rules {
		r := &m.Rules[j]
		rp := fmt.Sprintf("%s.rules[%d]", p, j)
		if !nameRE.MatchString(r.Name) {
			d.at(rp+".name", "want lower-case letters, digits, - and _, got %q", r.Name)
		} else if rules[r.Name] {
			d.at(rp+".name", "rule %q is defined twice for model %q", r.Name, m.Name)
		}
		rules[r.Name] = true
		if err := CheckMetric(m.Task, r.Metric); err != nil {
			d.at(rp+".metric", "%v", err)
		} else if strings.HasPrefix(r.Metric, "estimated_performance.") {
			// Without the columns CBPE reads, the rule would never have a
			// value to judge.
			switch {
			case m.Task == "binary" && m.Columns.Score == "":
				d.at(rp+".metric", "metric %q needs columns.score: a binary model's performance is estimated from its scores", r.Metric)
			case m.Task == "multiclass" && len(m.Columns.ClassScores) == 0:
				d.at(rp+".metric", "metric %q needs columns.class_scores (a probability column per class): a multiclass model's performance is estimated from them", r.Metric)
			}
		}
		switch {
		case r.ThresholdMode != "" && !r.Auto():
			d.at(rp+".threshold", "want auto (the metric's band over reference chunks of the window's size), got %q", r.ThresholdMode)
		case r.Auto() && (r.Below != nil || r.Above != nil):
			d.at(rp+".threshold", "threshold: auto sets the bounds from the reference: remove below and above")
		case !r.Auto() && r.Below == nil && r.Above == nil:
			d.at(rp, "set below or above (the threshold that breaches), or threshold: auto")
		}
		if r.Below != nil && r.Above != nil && *r.Below >= *r.Above {
			d.at(rp+".below", "below (%g) must be less than above (%g): together they bound an allowed band", *r.Below, *r.Above)
		}
		if r.For < 1 {
			d.at(rp+".for", "must be at least 1, got %d", r.For)
		}
		if r.RecoverAfter < 1 {
			d.at(rp+".recover_after", "must be at least 1, got %d", r.RecoverAfter)
		}
		if !slices.Contains(severities, r.Severity) {
			d.at(rp+".severity", "want one of %s, got %q", quoteList(severities), r.Severity)
		}
		if r.EscalateAfter.D() <= 0 {
			d.at(rp+".escalate_after", "must be positive, got %s", r.EscalateAfter)
		}
		if r.Cooldown.D() < 0 {
			d.at(rp+".cooldown", "must not be negative, got %s", r.Cooldown)
		}
		if r.Retrain && m.Retrain == nil {
			d.at(rp+".retrain", "the rule asks for retraining but model %q has no retrain section", m.Name)
		}
	}
	if m.Retrain != nil {
		m.Retrain.validate(d, p+".retrain", m)
	}
}

// CheckMetric reports whether metric names a value the analysis report has
// for a model of the given task.
func CheckMetric(task, metric string) error {
	parts := strings.Split(metric, ".")
	one := func(allowed ...string) error {
		if len(parts) == 2 && slices.Contains(allowed, parts[1]) {
			return nil
		}
		return fmt.Errorf("unknown metric %q: %s.* has %s", metric, parts[0], strings.Join(allowed, ", "))
	}
	switch parts[0] {
	case "rows":
		return one("reference", "current", "invalid", "labeled")
	case "latency":
		return one("p50_ms", "p95_ms", "p99_ms")
	case "throughput":
		return one("rows_per_second")
	case "dataset_drift":
		return one("share", "drifted_features")
	case "prediction_drift":
		return one("statistic", "p_value")
	case "multivariate_drift":
		return one("statistic")
	case "estimated_performance":
		switch task {
		case "binary", "multiclass":
			return one("accuracy", "precision", "recall", "f1", "roc_auc")
		case "regression":
			return one("mae", "mse", "rmse")
		}
		return fmt.Errorf("metric %q: performance is estimated without labels for binary models with a score column, multiclass models with columns.class_scores and regression models", metric)
	case "quality":
		return one("missing_ratio", "type_mismatches", "out_of_range", "unseen_categories", "duplicate_event_ids", "constant_columns")
	case "performance":
		if task == "" {
			return fmt.Errorf("metric %q needs a task (binary, multiclass or regression) and ground truth", metric)
		}
		allowed, known := taskMetrics[task]
		if !known {
			return nil // the task itself is reported as wrong
		}
		return one(allowed...)
	case "features":
		if len(parts) >= 3 {
			tail := strings.Join(parts[2:], ".")
			if tail == "missing_ratio" || tail == "drift.statistic" || tail == "drift.p_value" {
				return nil
			}
		}
		return fmt.Errorf("unknown metric %q: want features.<name>.drift.statistic, features.<name>.drift.p_value or features.<name>.missing_ratio", metric)
	}
	return fmt.Errorf("unknown metric %q: want one of rows.*, performance.*, estimated_performance.*, multivariate_drift.statistic, latency.*, throughput.*, dataset_drift.*, prediction_drift.*, quality.*, features.<name>.*", metric)
}

func checkURI(d *decoder, path, uri string) {
	switch {
	case strings.HasPrefix(uri, "file://"):
		if strings.TrimPrefix(uri, "file://") == "" {
			d.at(path, "file:// needs a path")
		}
	case strings.HasPrefix(uri, "s3://"):
		rest := strings.TrimPrefix(uri, "s3://")
		if rest == "" || strings.HasPrefix(rest, "/") {
			d.at(path, "want s3://bucket/prefix, got %q", uri)
		}
	case strings.Contains(uri, "://"):
		d.at(path, "unsupported scheme in %q: want file:// or s3://", uri)
	}
}

// envChecker verifies that secrets named by *_env fields are present, so a
// worker fails at start rather than at the first page.
type envChecker struct {
	d      *decoder
	getenv func(string) string
	skip   bool
}

// require is check for a secret the integration cannot work without.
func (e envChecker) require(path, name, what string) bool {
	if name == "" {
		e.d.at(path, "required: %s", what)
		return false
	}
	return e.check(path, name)
}

// check reports a badly named or unset variable; it returns true when the
// variable is set and its value may be inspected (not with SkipEnv).
func (e envChecker) check(path, name string) bool {
	if name == "" {
		return false
	}
	if strings.ContainsAny(name, " /:=+") || strings.HasPrefix(name, "http") || strings.HasPrefix(name, "xox") {
		e.d.at(path, "want the NAME of an environment variable, not a secret value (e.g. SLACK_BOT_TOKEN)")
		return false
	}
	if e.skip {
		return false
	}
	if e.getenv(name) == "" {
		e.d.at(path, "environment variable %s is not set", name)
		return false
	}
	return true
}

// variantRE is SageMaker's pattern for variant names.
var variantRE = regexp.MustCompile(`^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$`)

// checkVariants validates source.variants and source.shadow_variant: only for
// SageMaker capture, variant names as SageMaker spells them, versions
// usable as shadow column names (no dots), and a shadow variant that is not
// the version of a production one.
func checkVariants(d *decoder, p string, src Source) {
	_, vw := d.lines[p+".variants"]
	_, sw := d.lines[p+".shadow_variant"]
	if (vw || sw) && src.Format != "sagemaker" {
		at := p + ".variants"
		if !vw {
			at = p + ".shadow_variant"
		}
		d.at(at, "variants and shadow_variant describe SageMaker capture folders; source.format is %q", src.Format)
		return
	}
	names := make([]string, 0, len(src.Variants))
	for name := range src.Variants {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		v := src.Variants[name]
		switch {
		case !variantRE.MatchString(name) || len(name) > 63:
			d.at(p+".variants", "variant %q: want a SageMaker variant name (letters, digits, -; at most 63)", name)
		case v == "" || strings.ContainsAny(v, ".\n"):
			d.at(p+".variants", "variant %q: want a model version without dots, got %q", name, v)
		}
	}
	if sw && !variantRE.MatchString(src.ShadowVariant) {
		d.at(p+".shadow_variant", "want a SageMaker variant name (letters, digits, -), got %q", src.ShadowVariant)
	}
}

func (a *Analysis) validate(d *decoder, models []Model) {
	if a.ShardObjects < 0 {
		d.at("analysis.shard_objects", "want 0 (no sharding) or a number of objects per shard, got %d", a.ShardObjects)
	}
	if a.ShardSlots < 0 {
		d.at("analysis.shard_slots", "want 0 (one per CPU) or a number of concurrent shards per worker, got %d", a.ShardSlots)
	}
	if a.ShardRetention <= 0 {
		d.at("analysis.shard_retention", "want a positive duration like 24h, got %s", shortDuration(a.ShardRetention))
		return
	}
	// A run older than its timeout has ended, so its documents are
	// abandoned; a younger one may be under way.
	for i := range models {
		if t := runTimeout(&models[i]); a.ShardRetention.D() < t {
			d.at("analysis.shard_retention", "want at least the run timeout of model %s (%s), got %s: a shorter retention could delete the shard documents of an evaluation under way",
				models[i].Name, shortDuration(Duration(t)), shortDuration(a.ShardRetention))
			return
		}
	}
}

// runTimeout is the longest a scheduled evaluation of m runs.
func runTimeout(m *Model) time.Duration {
	if m.Schedule.RunTimeout > 0 {
		return m.Schedule.RunTimeout.D()
	}
	return DefaultRunTimeout(m.Schedule.Every.D())
}
