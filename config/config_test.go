package config

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

var secrets = env(map[string]string{"SLACK_BOT_TOKEN": "xoxb-1", "PAGERDUTY_ROUTING_KEY": "R1"})

func TestLoadValidFillsDefaults(t *testing.T) {
	c, err := Load("testdata/valid.yaml", Options{Getenv: secrets})
	if err != nil {
		t.Fatal(err)
	}
	m := c.Model("churn")
	if m == nil {
		t.Fatal("model churn not loaded")
	}
	if got := m.Schedule.Every.D(); got != 15*time.Minute {
		t.Errorf("every = %s", got)
	}
	if m.Schedule.Window != m.Schedule.Every {
		t.Errorf("window defaults to every, got %s", m.Schedule.Window)
	}
	if m.GroundTruth.URI != "s3://ml-logs/churn/ground-truth" || m.GroundTruth.Format != "jsonl" {
		t.Errorf("ground truth default = %+v", m.GroundTruth)
	}
	if m.Reference.Format != "csv" {
		t.Errorf("reference format from extension = %q", m.Reference.Format)
	}
	r := m.Rules[1]
	if r.For != 1 || r.RecoverAfter != 1 || r.EscalateAfter.D() != 15*time.Minute {
		t.Errorf("rule defaults = %+v", r)
	}
	if b := m.Rules[0].Below; b == nil || *b != 0.85 || m.Rules[0].Above != nil {
		t.Errorf("rule bounds: below %v, above %v; want below 0.85 only", b, m.Rules[0].Above)
	}
	if m.Retrain.Metric != "performance.accuracy" || m.Retrain.Approval != "none" {
		t.Errorf("retrain defaults = %+v", m.Retrain)
	}
	crit := c.Notify.Routes["critical"]
	if strings.Join(crit.Notify, ",") != "slack" || strings.Join(crit.Escalate, ",") != "pagerduty" {
		t.Errorf("default critical route = %+v", crit)
	}
	if *c.Notify.Console {
		t.Error("console notifier must default off when a real integration is configured")
	}
	if c.Temporal.TaskQueue != "vigil" || c.Worker.HTTPAddr != DefaultHTTPAddr {
		t.Errorf("defaults: %+v %+v", c.Temporal, c.Worker)
	}
}

func TestLoadReportsEveryErrorWithLineAndPath(t *testing.T) {
	_, err := Load("testdata/errors.yaml", Options{Getenv: secrets})
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("want Errors, got %v", err)
	}
	// Decoding errors (an unknown field, wrong types) do not hide the
	// validation errors: every problem of the file, in file order. The
	// validation of a field that did not decode (schedule.every, rules[0]'s
	// threshold) would repeat its decoding error and is left out.
	want := []string{
		`testdata/errors.yaml:2: temporal.address: want host:port, got "localhost"`,
		`testdata/errors.yaml:3: temporal.namespase: unknown field (did you mean "namespace"?)`,
		`testdata/errors.yaml:6: models[0].task: want one of binary, multiclass, regression, got "binry"`,
		`testdata/errors.yaml:7: models[0].schedule.every: want a duration like 15m or 2h, got "soon"`,
		`testdata/errors.yaml:9: models[0].source.uri: unsupported scheme in "ftp://x/y": want file:// or s3://`,
		`testdata/errors.yaml:14: models[0].rules[0].below: want a number, got "high"`,
		`testdata/errors.yaml:15: models[0].rules[1].name: rule "acc" is defined twice for model "churn"`,
		`testdata/errors.yaml:18: models[0].rules[1].retrain: the rule asks for retraining but model "churn" has no retrain section`,
		`testdata/errors.yaml:19: models[1].name: model "churn" is already defined at models[0]`,
		`testdata/errors.yaml:23: models[1].rules[0]: set below or above (the threshold that breaches), or threshold: auto`,
		`testdata/errors.yaml:23: models[1].rules[0].severity: want one of info, warning, critical, got "urgent"`,
	}
	if got := strings.Split(err.Error(), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(errs) != len(want) {
		t.Errorf("want %d errors, got %d", len(want), len(errs))
	}
}

// A file that is not YAML has nothing to validate: only the syntax error.
func TestSyntaxErrorAlone(t *testing.T) {
	_, err := Parse("vigil.yaml", []byte("models: [\n  - name: x\n"), Options{Getenv: secrets})
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 1 || !strings.Contains(errs[0].Msg, "not valid YAML") {
		t.Fatalf("got %v, want the one syntax error", err)
	}
}

func TestValidationErrorsNameTheirLine(t *testing.T) {
	src, err := os.ReadFile("testdata/errors.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Fix the type errors so that validation runs.
	fixed := strings.NewReplacer("  namespase: prod\n", "", "every: soon", "every: 5m", "below: high", "below: 0.9").Replace(string(src))
	_, err = Parse("vigil.yaml", []byte(fixed), Options{Getenv: secrets})
	if err == nil {
		t.Fatal("want errors")
	}
	got := err.Error()
	for _, w := range []string{
		`vigil.yaml:2: temporal.address: want host:port, got "localhost"`,
		`vigil.yaml:5: models[0].task: want one of binary, multiclass, regression, got "binry"`,
		`vigil.yaml:8: models[0].source.uri: unsupported scheme in "ftp://x/y": want file:// or s3://`,
		`vigil.yaml:14: models[0].rules[1].name: rule "acc" is defined twice for model "churn"`,
		`vigil.yaml:17: models[0].rules[1].retrain: the rule asks for retraining but model "churn" has no retrain section`,
		`vigil.yaml:18: models[1].name: model "churn" is already defined at models[0]`,
		`vigil.yaml:22: models[1].rules[0]: set below or above`,
		`vigil.yaml:22: models[1].rules[0].severity: want one of info, warning, critical, got "urgent"`,
	} {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q in:\n%s", w, got)
		}
	}
}

func TestMetricMustExistForTheTask(t *testing.T) {
	for _, tc := range []struct {
		task, metric string
		ok           bool
	}{
		{"binary", "performance.roc_auc", true},
		{"regression", "performance.rmse", true},
		{"binary", "performance.rmse", false},
		{"", "performance.accuracy", false},
		{"", "dataset_drift.share", true},
		{"", "features.age.drift.statistic", true},
		{"", "features.age.mean", false},
		{"", "latency.p999_ms", false},
		{"", "nonsense", false},
		{"binary", "estimated_performance.accuracy", true},
		{"binary", "estimated_performance.roc_auc", true},
		{"binary", "estimated_performance.rmse", false},
		{"regression", "estimated_performance.mae", true},
		{"regression", "estimated_performance.accuracy", false},
		{"multiclass", "estimated_performance.accuracy", true},
		{"multiclass", "estimated_performance.roc_auc", true},
		{"multiclass", "estimated_performance.mae", false},
		{"", "estimated_performance.accuracy", false},
		{"", "multivariate_drift.statistic", true},
		{"", "multivariate_drift.threshold", false},
	} {
		err := CheckMetric(tc.task, tc.metric)
		if (err == nil) != tc.ok {
			t.Errorf("CheckMetric(%q, %q) = %v, want ok=%v", tc.task, tc.metric, err, tc.ok)
		}
	}
}

// A rule's bounds are below/above, or threshold: auto (the metric's band
// over reference chunks), never both.
func TestThresholdAutoRules(t *testing.T) {
	for _, tc := range []struct{ rule, wantErr string }{
		{"{name: r, metric: performance.accuracy, threshold: auto}", ""},
		{"{name: r, metric: estimated_performance.accuracy, threshold: auto}", ""},
		{"{name: r, metric: performance.accuracy, threshold: auto, below: 0.9}", "rules[0].threshold: threshold: auto sets the bounds from the reference: remove below and above"},
		{"{name: r, metric: performance.accuracy, threshold: fixed, below: 0.9}", `rules[0].threshold: want auto (the metric's band over reference chunks of the window's size), got "fixed"`},
		{"{name: r, metric: performance.accuracy}", "rules[0]: set below or above (the threshold that breaches), or threshold: auto"},
	} {
		src := "models:\n  - name: m\n    task: binary\n    columns: {target: y, score: p}\n    source: {uri: file://data}\n    reference: {uri: file://ref.csv}\n    rules: [" + tc.rule + "]\n"
		c, err := Parse("vigil.yaml", []byte(src), Options{SkipEnv: true})
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.rule, err)
		case tc.wantErr == "":
			r := c.Models[0].Rules[0]
			if !r.Auto() || r.Threshold() != "outside the reference band" {
				t.Errorf("%s: auto %v, threshold %q", tc.rule, r.Auto(), r.Threshold())
			}
		case err == nil || !strings.Contains(err.Error(), tc.wantErr):
			t.Errorf("%s: err %v, want %q", tc.rule, err, tc.wantErr)
		}
	}
}

// A rule on an estimated metric needs the columns the estimate is made
// from; without them it would never have a value to judge.
func TestEstimatedPerformanceRulesNeedScores(t *testing.T) {
	for _, tc := range []struct{ task, columns, wantErr string }{
		{"binary", "{target: y, score: p}", ""},
		{"binary", "{target: y, prediction: yhat}", `metric "estimated_performance.accuracy" needs columns.score`},
		{"multiclass", "{target: y, prediction: yhat, class_scores: {a: pa, b: pb}}", ""},
		{"multiclass", "{target: y, prediction: yhat}", `metric "estimated_performance.accuracy" needs columns.class_scores`},
	} {
		src := "models:\n  - name: m\n    task: " + tc.task + "\n    columns: " + tc.columns +
			"\n    source: {uri: file://data}\n    reference: {uri: file://ref.csv}\n    rules: [{name: r, metric: estimated_performance.accuracy, below: 0.8}]\n"
		_, err := Parse("vigil.yaml", []byte(src), Options{SkipEnv: true})
		if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%s %s: err %v, want %q", tc.task, tc.columns, err, tc.wantErr)
		}
	}
}

func TestSecretsAreEnvNamesThatMustBeSet(t *testing.T) {
	_, err := Load("testdata/valid.yaml", Options{Getenv: env(nil)})
	if err == nil || !strings.Contains(err.Error(), "notify.slack.token_env: environment variable SLACK_BOT_TOKEN is not set") {
		t.Errorf("want missing-env error, got %v", err)
	}
	if _, err := Load("testdata/valid.yaml", Options{SkipEnv: true}); err != nil {
		t.Errorf("SkipEnv must skip the env check: %v", err)
	}
	src := `notify: {slack: {token_env: "xoxb-123-secret", channel: "#a"}}`
	_, err = Parse("v.yaml", []byte(src), Options{SkipEnv: true})
	if err == nil || !strings.Contains(err.Error(), "want the NAME of an environment variable") {
		t.Errorf("a token pasted inline must be refused, got %v", err)
	}
	if err != nil && strings.Contains(err.Error(), "xoxb-123-secret") {
		t.Error("the error must not repeat the secret")
	}
}

func TestSyntaxErrorHasALine(t *testing.T) {
	_, err := Parse("v.yaml", []byte("models:\n  - name: a\n   bad: [\n"), Options{})
	if err == nil || !strings.HasPrefix(err.Error(), "v.yaml:") || !strings.Contains(err.Error(), "not valid YAML") {
		t.Errorf("got %v", err)
	}
}

func TestDemoConfigIsValid(t *testing.T) {
	c, err := Demo(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Models) == 0 {
		t.Fatal("demo config has no model")
	}
}

// The config reference in the README is a config: it parses and validates
// (environment variables aside), so the documentation cannot drift from the
// schema.
func TestReadmeConfigReferenceParses(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "## Config reference")
	if !ok {
		t.Fatal("README has no config reference")
	}
	_, block, ok := strings.Cut(after, "```yaml\n")
	block, _, closed := strings.Cut(block, "```")
	if !ok || !closed {
		t.Fatal("the config reference has no yaml block")
	}
	if _, err := Parse("README.md", []byte(block), Options{SkipEnv: true}); err != nil {
		t.Errorf("the README's config reference does not parse:\n%v", err)
	}
}

func TestIngestLimitsAndLabelLookahead(t *testing.T) {
	base := `
worker:
  ingest: {max_body_bytes: 1048576, max_record_bytes: 65536, rate_per_second: %s, burst: 10}
models:
  - name: churn
    source: {uri: "file:///data/pred"%s}
    ground_truth: {uri: "file:///data/gt", lookahead: %s}
    reference: {uri: "file:///data/ref.csv"}
`
	cfg, err := Parse("vigil.yaml", []byte(fmt.Sprintf(base, "20", "", "30d")), Options{SkipEnv: true})
	if err != nil {
		t.Fatal(err)
	}
	if l := cfg.Worker.Ingest; l.MaxBodyBytes != 1<<20 || l.MaxRecordBytes != 64<<10 || l.RatePerSecond != 20 || l.Burst != 10 {
		t.Errorf("ingest limits %+v", l)
	}
	if got := cfg.Models[0].GroundTruth.Lookahead; time.Duration(got) != 30*24*time.Hour {
		t.Errorf("lookahead %v, want 30d", got)
	}
	for _, tc := range []struct{ rate, src, lookahead, want string }{
		{"-5", "", "1d", "vigil.yaml:3: worker.ingest.rate_per_second: want requests per second, or -1 for no limit"},
		{"-1", ", lookahead: 1d", "1d", "vigil.yaml:6: models[0].source.lookahead: lookahead applies to ground_truth only"},
		{"1", "", "-1h", "vigil.yaml:7: models[0].ground_truth.lookahead: must not be negative"},
	} {
		_, err := Parse("vigil.yaml", []byte(fmt.Sprintf(base, tc.rate, tc.src, tc.lookahead)), Options{SkipEnv: true})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("rate %s, source %q, lookahead %s: err %v, want %q", tc.rate, tc.src, tc.lookahead, err, tc.want)
		}
	}
}

// A binary model that returns only a probability is configured with
// columns.score (and columns.threshold); other tasks still need a prediction.
func TestScoreOnlyBinaryModel(t *testing.T) {
	cases := []struct {
		name, task, columns, wantErr string
	}{
		{"binary, score only", "binary", "{target: label, score: p}", ""},
		{"binary, score and threshold", "binary", "{target: label, score: p, threshold: 0.3}", ""},
		{"threshold out of range", "binary", "{target: label, score: p, threshold: 1.5}", "columns.threshold: want a score in (0, 1], got 1.5"},
		{"multiclass needs a prediction", "multiclass", "{target: label, score: p}", "columns.prediction: task \"multiclass\" needs the prediction column name"},
		{"binary without score or prediction", "binary", "{target: label}", "columns.prediction"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := fmt.Sprintf("models:\n  - name: m\n    task: %s\n    columns: %s\n    source: {uri: file://data}\n    reference: {uri: file://ref.csv}\n", tc.task, tc.columns)
			_, err := Parse("vigil.yaml", []byte(src), Options{Getenv: secrets})
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("want no error, got %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("want %q, got %v", tc.wantErr, err)
			}
		})
	}
}

// A multiclass model names one probability column per class in
// columns.class_scores (its estimated performance comes from them); the
// key is wrong anywhere else, and each mistake names its line.
func TestClassScores(t *testing.T) {
	cases := []struct {
		name, task, scores, wantErr string
	}{
		{"three classes", "multiclass", "{setosa: p_setosa, versicolor: p_versicolor, virginica: p_virginica}", ""},
		{"binary", "binary", "{a: p_a, b: p_b}", `vigil.yaml:5: models[0].columns.class_scores: class probability columns need task multiclass, got "binary"`},
		{"no task", "\"\"", "{a: p_a, b: p_b}", `models[0].columns.class_scores: class probability columns need task multiclass, got ""`},
		{"one class", "multiclass", "{a: p_a}", "vigil.yaml:5: models[0].columns.class_scores: want a probability column for each of at least 2 classes, got 1"},
		{"empty column", "multiclass", "{a: p_a, b: \"\"}", `vigil.yaml:5: models[0].columns.class_scores.b: class "b" needs the name of its probability column`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := fmt.Sprintf("models:\n  - name: m\n    task: %s\n    columns:\n      class_scores: %s\n      target: label\n      prediction: pred\n    source: {uri: file://data}\n    reference: {uri: file://ref.csv}\n", tc.task, tc.scores)
			c, err := Parse("vigil.yaml", []byte(src), Options{Getenv: secrets})
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("want no error, got %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("want %q, got %v", tc.wantErr, err)
			case err != nil:
				return
			}
			want := map[string]string{"setosa": "p_setosa", "versicolor": "p_versicolor", "virginica": "p_virginica"}
			if got := c.Models[0].AnalysisOptions().ClassScores; !reflect.DeepEqual(got, want) {
				t.Errorf("analysis class scores %v, want %v", got, want)
			}
			out, err := c.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			back, err := Parse("written.yaml", out, Options{Getenv: secrets})
			if err != nil {
				t.Fatalf("written config does not parse: %v\n%s", err, out)
			}
			if got := back.Models[0].Columns.ClassScores; !reflect.DeepEqual(got, want) {
				t.Errorf("class scores read back as %v, want %v\n%s", got, want, out)
			}
		})
	}
}

// What `worker -dev` writes for `starter` reads back as the same config:
// the demo, the README's full reference and values that are set but zero.
func TestMarshalRoundTrips(t *testing.T) {
	demo, err := Demo("/tmp/state")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, _ := strings.Cut(string(readme), "## Config reference")
	_, block, _ := strings.Cut(after, "```yaml\n")
	block, _, _ = strings.Cut(block, "```")
	reference, err := Parse("README.md", []byte(block), Options{SkipEnv: true})
	if err != nil {
		t.Fatal(err)
	}
	zeros, err := Parse("zeros.yaml", []byte(`
notify: {console: false, webhook: {url_env: HOOK}, routes: {info: {}, critical: {notify: [webhook]}}}
models:
  - name: m
    task: binary
    columns: {target: label, prediction: prediction}
    schedule: {every: 1m, delay: 0s}
    source: {uri: "file:///data/m", format: csv}
    ground_truth: {uri: "file:///data/gt"}
    reference: {uri: "file:///data/ref.csv"}
    drift: {threshold: 0}
    rules:
      - {name: none, metric: rows.current, below: 0}
      - {name: "yes", metric: quality.missing_ratio, above: 0.5, for: 2}
    retrain: {trainer: command, command: ["true", "0.5"], min_improvement: 0, hyperparameters: {lr: "0.1", flag: "true"}}
`), Options{SkipEnv: true})
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*Config{"demo": demo, "README reference": reference, "zeros": zeros} {
		t.Run(name, func(t *testing.T) {
			first, err := c.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			back, err := Parse("written.yaml", first, Options{SkipEnv: true})
			if err != nil {
				t.Fatalf("Marshal's output does not parse: %v\n%s", err, first)
			}
			second, err := back.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if string(first) != string(second) {
				t.Errorf("config changed in a round trip:\n--- written\n%s\n--- read back and written\n%s", first, second)
			}
			again, err := Parse("written.yaml", second, Options{SkipEnv: true})
			if err != nil {
				t.Fatal(err)
			}
			back.File, again.File = "", ""
			if !reflect.DeepEqual(back, again) {
				t.Errorf("read back differently:\n%+v\n%+v", back, again)
			}
			if name == "zeros" {
				for _, want := range []string{"below: 0", "console: false", "info: {}"} {
					if !strings.Contains(string(first), want) {
						t.Errorf("written config lacks %q:\n%s", want, first)
					}
				}
			}
		})
	}
}

// Worker Versioning is opt-in: no temporal.deployment, no versioning.
func TestDeploymentIsOptIn(t *testing.T) {
	const models = `
models:
  - name: churn
    source: {uri: "file:///data/pred"}
    reference: {uri: "file:///data/ref.csv"}
`
	for _, tc := range []struct {
		name, temporal string
		want           Deployment
		err            string
	}{
		{name: "absent: off", temporal: ""},
		{name: "named", temporal: "temporal: {deployment: {name: vigil-prod, set_current: true}}\n",
			want: Deployment{Name: "vigil-prod", SetCurrent: true}},
		{name: "a dot is the server's version delimiter", temporal: "temporal: {deployment: {name: vigil.prod}}\n",
			err: `vigil.yaml:1: temporal.deployment.name: want lower-case letters, digits, - and _, got "vigil.prod"`},
		{name: "set_current without a name", temporal: "temporal: {deployment: {set_current: true}}\n",
			err: "vigil.yaml:1: temporal.deployment.set_current: needs temporal.deployment.name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("vigil.yaml", []byte(tc.temporal+models), Options{SkipEnv: true})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Temporal.Deployment != tc.want {
				t.Errorf("deployment %+v, want %+v", cfg.Temporal.Deployment, tc.want)
			}
		})
	}
}

// SageMaker capture folders name variants; source.variants maps them to
// model versions and source.shadow_variant marks the shadow one.
func TestSageMakerVariants(t *testing.T) {
	base := "models:\n  - name: m\n    source: {uri: \"s3://b/capture\", format: %s%s}\n    ground_truth: {uri: \"s3://b/gt\", format: sagemaker%s}\n    reference: {uri: \"file:///ref.csv\"}\n"
	cfg, err := Parse("vigil.yaml", []byte(fmt.Sprintf(base, "sagemaker", ", variants: {AllTraffic: \"3\", Shadow-1: \"4\"}, shadow_variant: Shadow-1", "")), Options{SkipEnv: true})
	if err != nil {
		t.Fatal(err)
	}
	if s := cfg.Models[0].Source; s.Variants["AllTraffic"] != "3" || s.Variants["Shadow-1"] != "4" || s.ShadowVariant != "Shadow-1" {
		t.Errorf("source %+v", s)
	}
	for _, tc := range []struct{ format, src, gt, want string }{
		{"jsonl", ", variants: {A: \"3\"}", "", "vigil.yaml:3: models[0].source.variants: variants and shadow_variant describe SageMaker capture folders"},
		{"sagemaker", ", variants: {A: \"3.1\"}", "", "vigil.yaml:3: models[0].source.variants: variant \"A\": want a model version without dots"},
		{"sagemaker", ", variants: {A_b: \"3\"}", "", "want a SageMaker variant name"},
		{"sagemaker", ", shadow_variant: \"a b\"", "", "vigil.yaml:3: models[0].source.shadow_variant: want a SageMaker variant name"},
		{"sagemaker", "", ", shadow_variant: S", "vigil.yaml:4: models[0].ground_truth.shadow_variant: variants and shadow_variant apply to source only"},
	} {
		_, err := Parse("vigil.yaml", []byte(fmt.Sprintf(base, tc.format, tc.src, tc.gt)), Options{SkipEnv: true})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("source %q, ground truth %q: err %v, want %q", tc.src, tc.gt, err, tc.want)
		}
	}
}

// worker.public_url is where people reach the dashboard: alerts link there.
func TestPublicURL(t *testing.T) {
	base := `
worker:
  public_url: %q
  dashboard: {token_env: DASH_TOKEN, hide_values: true}
models:
  - name: churn
    source: {uri: "file:///data/pred"}
    reference: {uri: "file:///data/ref.csv"}
`
	for _, tc := range []struct{ url, wantErr string }{
		{"https://vigil.example.com", ""},
		{"http://10.0.0.5:8088/vigil", ""},
		{"", ""},
		{"vigil.example.com", `vigil.yaml:3: worker.public_url: want an http(s) URL without a query`},
		{"https://vigil.example.com/?token=x", `worker.public_url: want an http(s) URL without a query`},
	} {
		cfg, err := Parse("vigil.yaml", []byte(fmt.Sprintf(base, tc.url)), Options{SkipEnv: true})
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%q: %v", tc.url, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%q: err %v, want %q", tc.url, err, tc.wantErr)
		case err == nil && (cfg.Worker.PublicURL != tc.url || !cfg.Worker.Dashboard.HideValues || cfg.Worker.Dashboard.TokenEnv != "DASH_TOKEN"):
			t.Errorf("%q: read as %+v", tc.url, cfg.Worker)
		}
	}
}

// Sharding is off unless analysis.shard_objects is set; negative counts are
// refused with their path. Shard documents left behind are kept 24h, or
// the longest run timeout of a model when longer, and never less than it:
// a shorter retention could delete those of an evaluation under way.
func TestAnalysisShardOptions(t *testing.T) {
	const models = `
models:
  - name: churn
    source: {uri: "file:///data/pred"}
    reference: {uri: "file:///data/ref.csv"}
`
	const daily = `
models:
  - name: churn
    schedule: {every: 24h}
    source: {uri: "file:///data/pred"}
    reference: {uri: "file:///data/ref.csv"}
`
	day := Duration(24 * time.Hour)
	for _, tc := range []struct {
		name, analysis, models string
		want                   Analysis
		err                    string
	}{
		{name: "absent: one activity per window", analysis: "", want: Analysis{ShardRetention: day}},
		{name: "set", analysis: "analysis: {shard_objects: 10, shard_slots: 2, shard_retention: 6h}\n",
			want: Analysis{ShardObjects: 10, ShardSlots: 2, ShardRetention: Duration(6 * time.Hour)}},
		{name: "retention defaults to a longer run timeout", analysis: "", models: daily,
			want: Analysis{ShardRetention: 2 * day}},
		{name: "negative objects", analysis: "analysis: {shard_objects: -1}\n",
			err: "vigil.yaml:1: analysis.shard_objects: want 0 (no sharding) or a number of objects per shard, got -1"},
		{name: "negative slots", analysis: "analysis: {shard_slots: -2}\n",
			err: "vigil.yaml:1: analysis.shard_slots: want 0 (one per CPU)"},
		{name: "retention below a run timeout", analysis: "analysis:\n  shard_objects: 10\n  shard_retention: 30m\n",
			err: "vigil.yaml:3: analysis.shard_retention: want at least the run timeout of model churn (35m), got 30m"},
		{name: "retention below the daily model's run timeout", analysis: "analysis: {shard_retention: 1d}\n", models: daily,
			err: "vigil.yaml:1: analysis.shard_retention: want at least the run timeout of model churn (48h), got 24h"},
		{name: "negative retention", analysis: "analysis: {shard_retention: -1h}\n",
			err: "vigil.yaml:1: analysis.shard_retention: want a positive duration like 24h, got -1h"},
		{name: "retention not a duration", analysis: "analysis: {shard_retention: soon}\n",
			err: "vigil.yaml:1: analysis.shard_retention: want a duration like 15m or 2h, got \"soon\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("vigil.yaml", []byte(tc.analysis+cmp.Or(tc.models, models)), Options{SkipEnv: true})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Analysis != tc.want {
				t.Errorf("analysis %+v, want %+v", cfg.Analysis, tc.want)
			}
		})
	}
}
