package config

import (
	"regexp"
	"slices"
	"strings"
	"time"
)

// Retrain configures how a model is retrained, validated and promoted.
type Retrain struct {
	// Trainer is the backend: command | sagemaker | gitlab | jenkins | kubeflow | airflow.
	Trainer string `yaml:"trainer"`
	// Command runs a local program (trainer: command). It receives the
	// training data URIs, an output dir and hyperparameters (see README).
	Command []string `yaml:"command"`
	// Hyperparameters are passed to the trainer as they are.
	Hyperparameters map[string]string `yaml:"hyperparameters"`
	// Metric decides champion vs challenger; default: the task's main metric.
	Metric string `yaml:"metric"`
	// MinImprovement is how much the challenger must beat the champion by.
	MinImprovement float64 `yaml:"min_improvement"`
	// Approval is none (promote when the gate passes) or required (wait for
	// an approve/reject Update, up to ApprovalTimeout).
	Approval        string   `yaml:"approval"`
	ApprovalTimeout Duration `yaml:"approval_timeout"`
	// Timeout bounds one training run.
	Timeout Duration `yaml:"timeout"`
	// TrainWindow is how much labeled production data, ending where the
	// validation window starts, the challenger is trained on.
	TrainWindow Duration `yaml:"train_window"`
	// ValidationWindow is the most recent labeled data, held out from
	// training, on which champion and challenger are compared.
	ValidationWindow Duration `yaml:"validation_window"`
	// Output is where training runs write their artifacts, one sub-directory
	// (or sub-prefix) per run: a local dir or file:// URI for trainer:
	// command, an s3:// prefix for sagemaker. Default: <storage.registry>/<model>/runs.
	Output string `yaml:"output"`
	// Baseline is a baseline.json (`starter baseline`) whose constraints the
	// held-out data the challenger is validated on must satisfy; a
	// violation refuses the promotion. Empty: not checked.
	Baseline string `yaml:"baseline"`

	// Rollout is how a challenger that passed the gate (and approval)
	// reaches production: direct (promote at once, the default), shadow
	// (score beside the champion on live traffic until the evidence
	// decides) or canary (serve a growing share of traffic).
	Rollout *Rollout `yaml:"rollout"`

	// Backend-specific settings; the one named by Trainer is required.
	SageMaker *SageMaker `yaml:"sagemaker"`
	GitLab    *GitLab    `yaml:"gitlab"`
	Jenkins   *Jenkins   `yaml:"jenkins"`
	Kubeflow  *Kubeflow  `yaml:"kubeflow"`
	Airflow   *Airflow   `yaml:"airflow"`
}

// SageMaker runs a SageMaker training job (trainer: sagemaker) and, when
// Deploy is set, points a SageMaker endpoint at the promoted model.
// Credentials come from the AWS default chain.
type SageMaker struct {
	Region string `yaml:"region"`
	// Endpoint overrides the SageMaker API URL (VPC endpoints, tests).
	Endpoint string `yaml:"endpoint"`
	// RoleARN is the execution role SageMaker assumes to read data and write artifacts.
	RoleARN string `yaml:"role_arn"`
	// Image is the training container image URI.
	Image         string `yaml:"image"`
	InstanceType  string `yaml:"instance_type"`  // default ml.m5.large
	InstanceCount int    `yaml:"instance_count"` // default 1
	VolumeGB      int    `yaml:"volume_gb"`      // default 10
	// PollInterval is how often DescribeTrainingJob is called; default 30s.
	PollInterval Duration         `yaml:"poll_interval"`
	Deploy       *SageMakerDeploy `yaml:"deploy"`
}

// SageMakerDeploy says which endpoint a promotion updates: Vigil creates a
// SageMaker model and an endpoint config for the version, then UpdateEndpoint.
type SageMakerDeploy struct {
	Endpoint      string `yaml:"endpoint"`       // existing endpoint name
	Image         string `yaml:"image"`          // inference image; default sagemaker.image
	InstanceType  string `yaml:"instance_type"`  // default ml.m5.large
	InstanceCount int    `yaml:"instance_count"` // default 1
	RoleARN       string `yaml:"role_arn"`       // default sagemaker.role_arn
}

// GitLab triggers a CI pipeline (trainer: gitlab) with the pipeline trigger
// API and polls it; the job is passed as VIGIL_* CI variables.
type GitLab struct {
	URL     string `yaml:"url"`     // default https://gitlab.com
	Project string `yaml:"project"` // numeric id or group/name path
	Ref     string `yaml:"ref"`     // default main
	// TriggerTokenEnv names the variable holding the pipeline trigger token.
	TriggerTokenEnv string `yaml:"trigger_token_env"`
	// APITokenEnv names a variable holding an API token (read_api) used to
	// poll the pipeline and find one already started for a run; required
	// for private projects.
	APITokenEnv  string   `yaml:"api_token_env"`
	PollInterval Duration `yaml:"poll_interval"` // default 30s
}

// Jenkins starts a parameterized job (trainer: jenkins) with
// buildWithParameters, the job receiving VIGIL_* parameters, and polls it.
type Jenkins struct {
	URL string `yaml:"url"` // e.g. https://jenkins.example.com
	// Job is the job's path, folders separated by "/" (e.g. ml/train-churn).
	Job  string `yaml:"job"`
	User string `yaml:"user"`
	// TokenEnv names the variable holding the user's API token.
	TokenEnv     string   `yaml:"token_env"`
	PollInterval Duration `yaml:"poll_interval"` // default 30s
}

// Airflow triggers a DAG run (trainer: airflow) through Airflow's REST API
// with the job as the run's conf, and polls it.
type Airflow struct {
	URL string `yaml:"url"` // e.g. https://airflow.example.com
	// API is v2 (Airflow 3: a JWT from /auth/token) or v1 (Airflow 2: basic
	// auth); default v2.
	API  string `yaml:"api"`
	DAG  string `yaml:"dag"`
	User string `yaml:"user"`
	// PasswordEnv names the variable holding the user's password.
	PasswordEnv  string   `yaml:"password_env"`
	PollInterval Duration `yaml:"poll_interval"` // default 30s
}

// Kubeflow creates a Kubeflow Pipelines run (trainer: kubeflow) through the
// KFP v2beta1 REST API and polls it; the job is passed as the run's VIGIL_*
// pipeline parameters.
type Kubeflow struct {
	// URL is the KFP API server, e.g. https://kubeflow.example.com/pipeline
	// or http://ml-pipeline.kubeflow:8888 inside the cluster.
	URL string `yaml:"url"`
	// PipelineID (and optionally PipelineVersionID; empty: the latest
	// version) name an uploaded pipeline; PipelineSpec is instead the path
	// of a compiled pipeline (JSON or single-document YAML) sent inline.
	PipelineID        string `yaml:"pipeline_id"`
	PipelineVersionID string `yaml:"pipeline_version_id"`
	PipelineSpec      string `yaml:"pipeline_spec"`
	ExperimentID      string `yaml:"experiment_id"`   // default: the namespace's default experiment
	Namespace         string `yaml:"namespace"`       // multi-user mode: the profile namespace
	ServiceAccount    string `yaml:"service_account"` // default: the pipeline runner's
	// TokenEnv names a variable holding a bearer token (e.g. a service
	// account token); UserID is sent as the kubeflow-userid header that
	// multi-user deployments authorize by.
	TokenEnv     string   `yaml:"token_env"`
	UserID       string   `yaml:"user_id"`
	PollInterval Duration `yaml:"poll_interval"` // default 30s
}

// Rollout configures testing a challenger in production before it takes all
// traffic (retrain.rollout). Each evaluation compares the challenger with
// the champion on the labeled records logged since the previous one, with
// an always-valid confidence sequence (analysis.Sequence), so the rollout
// may stop at the first evaluation whose interval decides.
type Rollout struct {
	// Mode is direct | shadow | canary; default direct.
	Mode string `yaml:"mode"`
	// Metric is compared per event: performance.accuracy (binary,
	// multiclass), performance.mae or performance.mse (regression). Default:
	// retrain.metric when it is one of them, else accuracy for
	// classification and mse for regression (rmse's order).
	Metric string `yaml:"metric"`
	// Margin is the non-inferiority margin in the metric's units: the
	// challenger is promoted when it is better, or worse by less than
	// Margin with confidence; 0 (default) asks for better.
	Margin float64 `yaml:"margin"`
	// Alpha is the error rate over all evaluations; default 0.05.
	Alpha float64 `yaml:"alpha"`
	// EvaluationInterval is how often the evidence is read; default 1h.
	EvaluationInterval Duration `yaml:"evaluation_interval"`
	// MinRows is how many newly compared events an evaluation needs; with
	// fewer, the window grows until the next interval. Default 100, at
	// least 30 (analysis.MinSequential).
	MinRows int `yaml:"min_rows"`
	// MaxDuration bounds the rollout: still undecided then, the challenger
	// is rejected and the champion keeps production. Default 7d.
	MaxDuration Duration `yaml:"max_duration"`
	// Steps (canary) are the challenger's traffic percents, increasing and
	// ending at 100 (the promotion); default [10, 50, 100].
	Steps []int `yaml:"steps"`
	// Hold (canary) is how long each step below 100 lasts at least; default 1d.
	Hold Duration `yaml:"hold"`
}

// MaxRolloutEvaluations bounds max_duration / evaluation_interval: every
// evaluation adds about a dozen events to the retrain's workflow history,
// which Temporal caps at 51,200.
const MaxRolloutEvaluations = 2000

// Rollout modes.
const (
	RolloutDirect = "direct"
	RolloutShadow = "shadow"
	RolloutCanary = "canary"
)

// RolloutMetrics are the metrics a rollout can compare, by task: each is
// the mean of a per-event value, so every event is one observation.
var RolloutMetrics = map[string][]string{
	"binary":     {"performance.accuracy"},
	"multiclass": {"performance.accuracy"},
	"regression": {"performance.mae", "performance.mse"},
}

// Staged reports whether the rollout puts the challenger beside the
// champion (shadow or canary) rather than promoting it at once.
func (r *Rollout) Staged() bool { return r != nil && r.Mode != RolloutDirect }

func (r *Rollout) applyDefaults(retrainMetric, task string) {
	orDefault(&r.Mode, RolloutDirect)
	orDefault(&r.Alpha, 0.05)
	orDefault(&r.EvaluationInterval, Duration(time.Hour))
	orDefault(&r.MinRows, 100)
	orDefault(&r.MaxDuration, Duration(7*24*time.Hour))
	if r.Mode == RolloutCanary {
		if r.Steps == nil {
			r.Steps = []int{10, 50, 100}
		}
		orDefault(&r.Hold, Duration(24*time.Hour))
	}
	if r.Metric == "" {
		switch {
		case slices.Contains(RolloutMetrics[task], retrainMetric):
			r.Metric = retrainMetric
		case task == "regression":
			r.Metric = "performance.mse"
		default:
			r.Metric = "performance.accuracy"
		}
	}
}

func (r *Rollout) validate(d *decoder, p, task string) {
	modes := []string{RolloutDirect, RolloutShadow, RolloutCanary}
	if !slices.Contains(modes, r.Mode) {
		d.at(p+".mode", "want one of %s, got %q", quoteList(modes), r.Mode)
		return
	}
	if ok := RolloutMetrics[task]; task != "" && !slices.Contains(ok, r.Metric) {
		d.at(p+".metric", "a rollout compares a per-event metric: want one of %s for task %s, got %q", quoteList(ok), task, r.Metric)
	}
	if r.Margin < 0 {
		d.at(p+".margin", "must not be negative, got %g", r.Margin)
	}
	if !(r.Alpha > 0 && r.Alpha < 1) {
		d.at(p+".alpha", "want 0 < alpha < 1, got %g", r.Alpha)
	}
	if r.EvaluationInterval.D() < time.Second {
		d.at(p+".evaluation_interval", "must be at least 1s, got %s", r.EvaluationInterval)
	}
	if r.MinRows < 30 {
		d.at(p+".min_rows", "must be at least 30 (the always-valid interval needs them), got %d", r.MinRows)
	}
	if r.MaxDuration.D() < r.EvaluationInterval.D() {
		d.at(p+".max_duration", "must be at least evaluation_interval (%s), got %s", r.EvaluationInterval, r.MaxDuration)
	} else if n := r.MaxDuration.D() / max(r.EvaluationInterval.D(), time.Second); n > MaxRolloutEvaluations {
		d.at(p+".max_duration", "%s / evaluation_interval %s is %d evaluations, at most %d (each is in the retrain's workflow history): lengthen evaluation_interval or shorten max_duration",
			r.MaxDuration, r.EvaluationInterval, n, MaxRolloutEvaluations)
	}
	if r.Mode != RolloutCanary {
		if len(r.Steps) > 0 {
			d.at(p+".steps", "only with mode: canary")
		}
		if r.Hold != 0 {
			d.at(p+".hold", "only with mode: canary")
		}
		return
	}
	switch {
	case len(r.Steps) < 2:
		d.at(p+".steps", "want at least one percent below 100 and then 100, e.g. [10, 50, 100], got %v", r.Steps)
	case r.Steps[len(r.Steps)-1] != 100:
		d.at(p+".steps", "must end at 100 (the promotion), got %v", r.Steps)
	default:
		for i, s := range r.Steps {
			if s < 1 || s > 100 || (i > 0 && s <= r.Steps[i-1]) {
				d.at(p+".steps", "want increasing percents in 1..100, got %v", r.Steps)
				break
			}
		}
	}
	if r.Hold.D() < r.EvaluationInterval.D() {
		d.at(p+".hold", "must be at least evaluation_interval (%s), got %s", r.EvaluationInterval, r.Hold)
	}
	if n := time.Duration(max(len(r.Steps)-1, 0)); r.MaxDuration.D() < n*r.Hold.D() {
		d.at(p+".max_duration", "must cover the holds of the steps below 100 (%d × %s), got %s", n, r.Hold, r.MaxDuration)
	}
}

var trainers = []string{"command", "sagemaker", "gitlab", "jenkins", "kubeflow", "airflow"}

// MainMetric is the metric a task's challengers are judged on by default.
func MainMetric(task string) string {
	switch task {
	case "regression":
		return "performance.rmse"
	case "multiclass":
		return "performance.f1_macro"
	default:
		return "performance.accuracy"
	}
}

func (r *Retrain) applyDefaults() {
	orDefault(&r.Trainer, "command")
	orDefault(&r.Approval, "none")
	orDefault(&r.ApprovalTimeout, Duration(24*time.Hour))
	orDefault(&r.Timeout, Duration(2*time.Hour))
	orDefault(&r.TrainWindow, Duration(7*24*time.Hour))
	orDefault(&r.ValidationWindow, Duration(24*time.Hour))
	if s := r.SageMaker; s != nil {
		orDefault(&s.InstanceType, "ml.m5.large")
		orDefault(&s.InstanceCount, 1)
		orDefault(&s.VolumeGB, 10)
		orDefault(&s.PollInterval, Duration(30*time.Second))
		if d := s.Deploy; d != nil {
			orDefault(&d.Image, s.Image)
			orDefault(&d.InstanceType, "ml.m5.large")
			orDefault(&d.InstanceCount, 1)
			orDefault(&d.RoleARN, s.RoleARN)
		}
	}
	if g := r.GitLab; g != nil {
		orDefault(&g.URL, "https://gitlab.com")
		orDefault(&g.Ref, "main")
		orDefault(&g.PollInterval, Duration(30*time.Second))
	}
	if j := r.Jenkins; j != nil {
		orDefault(&j.PollInterval, Duration(30*time.Second))
	}
	if a := r.Airflow; a != nil {
		orDefault(&a.API, "v2")
		orDefault(&a.PollInterval, Duration(30*time.Second))
	}
	if k := r.Kubeflow; k != nil {
		orDefault(&k.PollInterval, Duration(30*time.Second))
	}
}

func (r *Retrain) validate(d *decoder, p string, m *Model) {
	if !slices.Contains(trainers, r.Trainer) {
		d.at(p+".trainer", "want one of %s, got %q", quoteList(trainers), r.Trainer)
	}
	if r.Trainer == "command" && len(r.Command) == 0 {
		d.at(p+".command", "required with trainer: command (e.g. [python3, train.py])")
	}
	if m.Task == "" {
		d.at(p, "retraining needs a task and ground truth to compare champion and challenger")
	}
	if r.Metric == "" {
		r.Metric = MainMetric(m.Task)
	} else if err := CheckMetric(m.Task, r.Metric); err != nil {
		d.at(p+".metric", "%v", err)
	}
	if r.MinImprovement < 0 {
		d.at(p+".min_improvement", "must not be negative, got %g", r.MinImprovement)
	}
	if r.Approval != "none" && r.Approval != "required" {
		d.at(p+".approval", "want none or required, got %q", r.Approval)
	}
	if r.Timeout.D() <= 0 {
		d.at(p+".timeout", "must be positive")
	}
	if r.Output != "" {
		checkURI(d, p+".output", r.Output)
	}
	if ro := r.Rollout; ro != nil {
		// Defaults here, not in applyDefaults: the rollout's metric follows
		// retrain.metric, itself defaulted above.
		ro.applyDefaults(r.Metric, m.Task)
		ro.validate(d, p+".rollout", m.Task)
	}
	r.validateBackend(d, p)
}

func (r *Retrain) validateBackend(d *decoder, p string) {
	// Only the names of secrets are checked here; the worker fails at start
	// when a variable is unset (train.New).
	names := envChecker{d: d, skip: true}
	needs := func(set bool, section, example string) bool {
		if !set && r.Trainer == section {
			d.at(p+"."+section, "required with trainer: %s (e.g. %s)", section, example)
		}
		return set
	}
	required := func(path, v, what string) {
		if v == "" {
			d.at(path, "required: %s", what)
		}
	}
	positive := func(path string, v int) {
		if v < 1 {
			d.at(path, "must be at least 1, got %d", v)
		}
	}
	if s := r.SageMaker; needs(s != nil, "sagemaker", "{role_arn: arn:aws:iam::123456789012:role/sm, image: <ecr image>}") {
		sp := p + ".sagemaker"
		required(sp+".role_arn", s.RoleARN, "the execution role SageMaker assumes")
		required(sp+".image", s.Image, "the training image URI")
		if r.Trainer == "sagemaker" && !strings.HasPrefix(r.Output, "s3://") {
			d.at(p+".output", "trainer: sagemaker writes its artifacts to S3: want s3://bucket/prefix, got %q", r.Output)
		}
		if s.Endpoint != "" && !strings.HasPrefix(s.Endpoint, "http://") && !strings.HasPrefix(s.Endpoint, "https://") {
			d.at(sp+".endpoint", "want an http(s) URL, got %q", s.Endpoint)
		}
		positive(sp+".instance_count", s.InstanceCount)
		positive(sp+".volume_gb", s.VolumeGB)
		if s.PollInterval.D() < time.Second {
			d.at(sp+".poll_interval", "must be at least 1s, got %s", s.PollInterval)
		}
		if dep := s.Deploy; dep != nil {
			required(sp+".deploy.endpoint", dep.Endpoint, "the SageMaker endpoint a promotion updates")
			required(sp+".deploy.image", dep.Image, "the inference image URI")
			positive(sp+".deploy.instance_count", dep.InstanceCount)
		}
	}
	if g := r.GitLab; needs(g != nil, "gitlab", "{project: 42, trigger_token_env: GITLAB_TRIGGER_TOKEN}") {
		gp := p + ".gitlab"
		checkHTTPURL(d, gp+".url", g.URL)
		required(gp+".project", g.Project, "the project id or path (group/name)")
		required(gp+".trigger_token_env", g.TriggerTokenEnv, "the variable holding the pipeline trigger token")
		names.check(gp+".trigger_token_env", g.TriggerTokenEnv)
		names.check(gp+".api_token_env", g.APITokenEnv)
		if g.PollInterval.D() < time.Second {
			d.at(gp+".poll_interval", "must be at least 1s, got %s", g.PollInterval)
		}
	}
	if a := r.Airflow; needs(a != nil, "airflow", "{url: https://airflow.example.com, dag: train_churn, user: vigil, password_env: AIRFLOW_PASSWORD}") {
		a.validate(d, p+".airflow", names)
	}
	if j := r.Jenkins; needs(j != nil, "jenkins", "{url: https://jenkins.example.com, job: ml/train, user: vigil, token_env: JENKINS_TOKEN}") {
		jp := p + ".jenkins"
		required(jp+".url", j.URL, "the Jenkins base URL")
		if j.URL != "" {
			checkHTTPURL(d, jp+".url", j.URL)
		}
		required(jp+".job", j.Job, "the job path, e.g. ml/train-churn")
		required(jp+".user", j.User, "the user whose API token is in token_env")
		required(jp+".token_env", j.TokenEnv, "the variable holding the user's API token")
		names.check(jp+".token_env", j.TokenEnv)
		if j.PollInterval.D() < time.Second {
			d.at(jp+".poll_interval", "must be at least 1s, got %s", j.PollInterval)
		}
	}
	if k := r.Kubeflow; needs(k != nil, "kubeflow", "{url: https://kubeflow.example.com/pipeline, pipeline_id: <id>, token_env: KFP_TOKEN}") {
		kp := p + ".kubeflow"
		required(kp+".url", k.URL, "the KFP API server URL")
		if k.URL != "" {
			checkHTTPURL(d, kp+".url", k.URL)
		}
		switch {
		case k.PipelineID == "" && k.PipelineSpec == "":
			d.at(kp, "needs pipeline_id (an uploaded pipeline) or pipeline_spec (a compiled pipeline file)")
		case k.PipelineID != "" && k.PipelineSpec != "":
			d.at(kp+".pipeline_spec", "set pipeline_id or pipeline_spec, not both")
		case k.PipelineVersionID != "" && k.PipelineID == "":
			d.at(kp+".pipeline_version_id", "needs pipeline_id")
		}
		names.check(kp+".token_env", k.TokenEnv)
		if k.PollInterval.D() < time.Second {
			d.at(kp+".poll_interval", "must be at least 1s, got %s", k.PollInterval)
		}
	}
}

func (a *Airflow) validate(d *decoder, ap string, names envChecker) {
	required := func(path, v, what string) {
		if v == "" {
			d.at(path, "required: %s", what)
		}
	}
	required(ap+".url", a.URL, "the Airflow base URL")
	if a.URL != "" {
		checkHTTPURL(d, ap+".url", a.URL)
	}
	if a.API != "v1" && a.API != "v2" {
		d.at(ap+".api", "want v2 (Airflow 3) or v1 (Airflow 2), got %q", a.API)
	}
	if a.DAG == "" {
		d.at(ap+".dag", "required: the id of the DAG that trains the model")
	} else if !dagIDRE.MatchString(a.DAG) {
		d.at(ap+".dag", "want an Airflow DAG id (letters, digits, '.', '_', '-'), got %q", a.DAG)
	}
	required(ap+".user", a.User, "the user whose password is in password_env")
	required(ap+".password_env", a.PasswordEnv, "the variable holding the user's password")
	names.check(ap+".password_env", a.PasswordEnv)
	if a.PollInterval.D() < time.Second {
		d.at(ap+".poll_interval", "must be at least 1s, got %s", a.PollInterval)
	}
}

// dagIDRE is Airflow's rule for DAG ids (KEY_REGEX).
var dagIDRE = regexp.MustCompile(`^[\w.-]{1,250}$`)

func checkHTTPURL(d *decoder, path, u string) {
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		d.at(path, "want an http(s) URL, got %q", u)
	}
}
