package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

const retrainBase = `
models:
  - name: churn
    task: binary
    columns: {target: label, prediction: prediction}
    source: {uri: s3://ml-logs/churn}
    reference: {uri: file://ref.csv}
    retrain:
`

func TestRetrainBackendSectionsGetDefaults(t *testing.T) {
	c, err := Parse("vigil.yaml", []byte(retrainBase+`
      trainer: sagemaker
      output: s3://models/churn
      sagemaker:
        role_arn: arn:aws:iam::123456789012:role/sm
        image: 123.dkr.ecr.eu-west-1.amazonaws.com/train:1
        deploy: {endpoint: churn-prod}
      gitlab: {project: "42", trigger_token_env: GITLAB_TRIGGER_TOKEN}
      jenkins: {url: "https://ci.example.com", job: ml/train, user: vigil, token_env: JENKINS_TOKEN}
      kubeflow: {url: "https://kubeflow.example.com/pipeline", pipeline_id: pl-1, token_env: KFP_TOKEN}
`), Options{SkipEnv: true})
	if err != nil {
		t.Fatal(err)
	}
	r := c.Models[0].Retrain
	s := r.SageMaker
	if s.InstanceType != "ml.m5.large" || s.InstanceCount != 1 || s.VolumeGB != 10 || s.PollInterval.D() != 30*time.Second {
		t.Errorf("sagemaker defaults = %+v", s)
	}
	if d := s.Deploy; d.Image != s.Image || d.RoleARN != s.RoleARN || d.InstanceCount != 1 {
		t.Errorf("deploy defaults = %+v", d)
	}
	if r.GitLab.URL != "https://gitlab.com" || r.GitLab.Ref != "main" {
		t.Errorf("gitlab defaults = %+v", r.GitLab)
	}
	if r.Jenkins.PollInterval.D() != 30*time.Second {
		t.Errorf("jenkins defaults = %+v", r.Jenkins)
	}
	if r.Kubeflow.PollInterval.D() != 30*time.Second {
		t.Errorf("kubeflow defaults = %+v", r.Kubeflow)
	}
}

func TestRetrainBackendErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"      trainer: sagemaker\n", "models[0].retrain.sagemaker: required with trainer: sagemaker"},
		{"      trainer: sagemaker\n      output: file://x\n      sagemaker: {image: i}\n", "models[0].retrain.sagemaker.role_arn: required"},
		{"      trainer: sagemaker\n      output: file://x\n      sagemaker: {image: i, role_arn: r}\n", "models[0].retrain.output: trainer: sagemaker writes its artifacts to S3"},
		{"      trainer: sagemaker\n      output: s3://b/p\n      sagemaker: {image: i, role_arn: r, deploy: {instance_type: x}}\n", "models[0].retrain.sagemaker.deploy.endpoint: required"},
		{"      trainer: gitlab\n", "models[0].retrain.gitlab: required with trainer: gitlab"},
		{"      trainer: gitlab\n      gitlab: {project: '1', trigger_token_env: glptt-abc/def}\n", "models[0].retrain.gitlab.trigger_token_env: want the NAME of an environment variable"},
		{"      trainer: gitlab\n      gitlab: {trigger_token_env: T}\n", "models[0].retrain.gitlab.project: required"},
		{"      trainer: jenkins\n      jenkins: {url: ci.example.com, job: j, user: u, token_env: T}\n", "models[0].retrain.jenkins.url: want an http(s) URL"},
		{"      trainer: jenkins\n      jenkins: {url: 'https://ci', job: j, user: u}\n", "models[0].retrain.jenkins.token_env: required"},
		{"      trainer: kubeflow\n", "models[0].retrain.kubeflow: required with trainer: kubeflow"},
		{"      trainer: kubeflow\n      kubeflow: {pipeline_id: p}\n", "vigil.yaml:10: models[0].retrain.kubeflow.url: required"},
		{"      trainer: kubeflow\n      kubeflow: {url: 'http://kfp'}\n", "models[0].retrain.kubeflow: needs pipeline_id (an uploaded pipeline) or pipeline_spec"},
		{"      trainer: kubeflow\n      kubeflow: {url: 'http://kfp', pipeline_id: p, pipeline_spec: p.yaml}\n", "models[0].retrain.kubeflow.pipeline_spec: set pipeline_id or pipeline_spec, not both"},
		{"      trainer: kubeflow\n      kubeflow: {url: 'http://kfp', pipeline_spec: p.yaml, pipeline_version_id: v}\n", "models[0].retrain.kubeflow.pipeline_version_id: needs pipeline_id"},
		{"      trainer: kubeflow\n      kubeflow: {url: 'http://kfp', pipeline_id: p, token_env: 'eyJhbGci/x'}\n", "models[0].retrain.kubeflow.token_env: want the NAME of an environment variable"},
	} {
		_, err := Parse("vigil.yaml", []byte(retrainBase+tc.yaml), Options{SkipEnv: true})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v\nwant %q", tc.yaml, err, tc.want)
		}
	}
}

// trainer: airflow needs the DAG, the user and the variable holding the
// password; the API version is v2 (Airflow 3) unless it says v1.
func TestAirflowTrainer(t *testing.T) {
	base := `models:
  - name: churn
    task: binary
    columns: {target: label, prediction: prediction}
    source: {uri: "file:///data/pred"}
    reference: {uri: "file:///data/ref.csv"}
    retrain:
      trainer: airflow
      airflow: %s
`
	cfg, err := Parse("vigil.yaml", []byte(fmt.Sprintf(base, `{url: "https://airflow.example.com", dag: train_churn, user: vigil, password_env: AIRFLOW_PASSWORD}`)), Options{SkipEnv: true})
	if err != nil {
		t.Fatal(err)
	}
	if a := cfg.Models[0].Retrain.Airflow; a.API != "v2" || a.PollInterval.D() != 30*time.Second || a.DAG != "train_churn" {
		t.Errorf("airflow %+v", a)
	}
	for _, tc := range []struct{ airflow, want string }{
		{`{url: "https://a", dag: d, user: u, password_env: P, api: v3}`, `vigil.yaml:9: models[0].retrain.airflow.api: want v2 (Airflow 3) or v1 (Airflow 2), got "v3"`},
		{`{url: "https://a", user: u, password_env: P}`, `vigil.yaml:9: models[0].retrain.airflow.dag: required`},
		{`{url: "https://a", dag: "a/b", user: u, password_env: P}`, `vigil.yaml:9: models[0].retrain.airflow.dag: want an Airflow DAG id`},
		{`{url: "https://a", dag: d, user: u}`, `vigil.yaml:9: models[0].retrain.airflow.password_env: required`},
		{`{url: "https://a", dag: d, user: u, password_env: "hunter2 pass"}`, `vigil.yaml:9: models[0].retrain.airflow.password_env: want the NAME of an environment variable`},
		{`{url: "airflow:8080", dag: d, user: u, password_env: P}`, `vigil.yaml:9: models[0].retrain.airflow.url: want an http(s) URL`},
	} {
		_, err := Parse("vigil.yaml", []byte(fmt.Sprintf(base, tc.airflow)), Options{SkipEnv: true})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("airflow %s:\n got %v\nwant %q", tc.airflow, err, tc.want)
		}
	}
}

// retrain.rollout: absent or direct promotes at once; shadow and canary get
// their defaults, the metric following retrain.metric when it is per-event.
func TestRolloutDefaults(t *testing.T) {
	base := retrainBase + "      command: [train]\n"
	for _, tc := range []struct {
		name, task, yaml string
		want             Rollout
	}{
		{"shadow", "binary", "      rollout: {mode: shadow}\n", Rollout{Mode: "shadow", Metric: "performance.accuracy", Alpha: 0.05,
			EvaluationInterval: Duration(time.Hour), MinRows: 100, MaxDuration: Duration(7 * 24 * time.Hour)}},
		{"canary", "binary", "      rollout: {mode: canary, margin: 0.01}\n", Rollout{Mode: "canary", Metric: "performance.accuracy", Margin: 0.01,
			Alpha: 0.05, EvaluationInterval: Duration(time.Hour), MinRows: 100, MaxDuration: Duration(7 * 24 * time.Hour),
			Steps: []int{10, 50, 100}, Hold: Duration(24 * time.Hour)}},
		{"regression follows a per-event retrain metric", "regression", "      metric: performance.mae\n      rollout: {mode: shadow}\n",
			Rollout{Mode: "shadow", Metric: "performance.mae", Alpha: 0.05, EvaluationInterval: Duration(time.Hour), MinRows: 100,
				MaxDuration: Duration(7 * 24 * time.Hour)}},
		{"rmse is compared as mse", "regression", "      rollout: {mode: shadow}\n",
			Rollout{Mode: "shadow", Metric: "performance.mse", Alpha: 0.05, EvaluationInterval: Duration(time.Hour), MinRows: 100,
				MaxDuration: Duration(7 * 24 * time.Hour)}},
		{"f1_macro is compared as accuracy", "multiclass", "      metric: performance.f1_macro\n      rollout: {mode: shadow}\n",
			Rollout{Mode: "shadow", Metric: "performance.accuracy", Alpha: 0.05, EvaluationInterval: Duration(time.Hour), MinRows: 100,
				MaxDuration: Duration(7 * 24 * time.Hour)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("vigil.yaml", []byte(strings.Replace(base, "task: binary", "task: "+tc.task, 1)+tc.yaml), Options{SkipEnv: true})
			if err != nil {
				t.Fatal(err)
			}
			got := c.Models[0].Retrain.Rollout
			if fmt.Sprint(*got) != fmt.Sprint(tc.want) {
				t.Errorf("rollout = %+v\nwant      %+v", *got, tc.want)
			}
			if !got.Staged() {
				t.Error("a shadow or canary rollout must be staged")
			}
		})
	}
	c, err := Parse("vigil.yaml", []byte(base), Options{SkipEnv: true})
	if err != nil {
		t.Fatal(err)
	}
	if ro := c.Models[0].Retrain.Rollout; ro.Staged() {
		t.Errorf("no rollout section: %+v, want direct", ro)
	}
	c, err = Parse("vigil.yaml", []byte(base+"      rollout: {}\n"), Options{SkipEnv: true})
	if err != nil {
		t.Fatal(err)
	}
	if ro := c.Models[0].Retrain.Rollout; ro.Mode != RolloutDirect || ro.Staged() {
		t.Errorf("empty rollout section: %+v, want direct", ro)
	}
}

func TestRolloutErrorsNameTheField(t *testing.T) {
	base := retrainBase + "      command: [train]\n      rollout:\n"
	for _, tc := range []struct{ yaml, want string }{
		{"        mode: blue-green\n", `vigil.yaml:11: models[0].retrain.rollout.mode: want one of direct, shadow, canary, got "blue-green"`},
		{"        mode: shadow\n        metric: performance.roc_auc\n", `vigil.yaml:12: models[0].retrain.rollout.metric: a rollout compares a per-event metric: want one of performance.accuracy for task binary, got "performance.roc_auc"`},
		{"        mode: shadow\n        margin: -0.1\n", `vigil.yaml:12: models[0].retrain.rollout.margin: must not be negative`},
		{"        mode: shadow\n        alpha: 1.5\n", `vigil.yaml:12: models[0].retrain.rollout.alpha: want 0 < alpha < 1, got 1.5`},
		{"        mode: shadow\n        min_rows: 10\n", `models[0].retrain.rollout.min_rows: must be at least 30`},
		{"        mode: shadow\n        evaluation_interval: 2h\n        max_duration: 1h\n", `models[0].retrain.rollout.max_duration: must be at least evaluation_interval (2h0m0s), got 1h0m0s`},
		{"        mode: shadow\n        steps: [10, 100]\n", `models[0].retrain.rollout.steps: only with mode: canary`},
		{"        mode: shadow\n        hold: 1h\n", `models[0].retrain.rollout.hold: only with mode: canary`},
		{"        mode: canary\n        steps: [10, 50]\n", `models[0].retrain.rollout.steps: must end at 100 (the promotion), got [10 50]`},
		{"        mode: canary\n        steps: [100]\n", `models[0].retrain.rollout.steps: want at least one percent below 100 and then 100`},
		{"        mode: canary\n        steps: [50, 10, 100]\n", `models[0].retrain.rollout.steps: want increasing percents in 1..100, got [50 10 100]`},
		{"        mode: canary\n        steps: [0, 100]\n", `models[0].retrain.rollout.steps: want increasing percents in 1..100`},
		{"        mode: canary\n        evaluation_interval: 2h\n        hold: 1h\n", `models[0].retrain.rollout.hold: must be at least evaluation_interval (2h0m0s), got 1h0m0s`},
		{"        mode: canary\n        hold: 4d\n", `models[0].retrain.rollout.max_duration: must cover the holds of the steps below 100 (2 × 96h0m0s), got 168h0m0s`},
		{"        mode: shadow\n        evaluation_interval: 1m\n", `models[0].retrain.rollout.max_duration: 168h0m0s / evaluation_interval 1m0s is 10080 evaluations, at most 2000`},
	} {
		_, err := Parse("vigil.yaml", []byte(base+tc.yaml), Options{SkipEnv: true})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v\nwant %q", tc.yaml, err, tc.want)
		}
	}
}
