package train

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/store"
	"github.com/vigilml/vigil/train/registry"
)

func newPromoter(t *testing.T) (*Promoter, *fakeSageMaker) {
	t.Helper()
	f, client := newFakeSageMaker(t)
	blobs, err := store.New(config.Storage{}).Blobs(context.Background(), "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	reg := registry.New(blobs)
	for i := 1; i <= 2; i++ {
		if _, err := reg.Register(context.Background(), "churn", registry.Version{
			RunID: "run-" + string(rune('0'+i)), ArtifactURI: "s3://models/churn/run-" + string(rune('0'+i)) + "/model.tar.gz"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := reg.SetAlias(context.Background(), "churn", registry.AliasProduction, 1, "alice", "initial"); err != nil {
		t.Fatal(err)
	}
	d := &SageMakerDeployer{Client: client, Endpoint: "churn-prod", Image: "infer:1", RoleARN: "arn:role", PollInterval: time.Millisecond}
	return &Promoter{Registry: reg, Deployer: d}, f
}

func production(t *testing.T, p *Promoter) int {
	t.Helper()
	v, err := p.Registry.Resolve(context.Background(), "churn", registry.AliasProduction)
	if err != nil {
		t.Fatal(err)
	}
	return v.Version
}

func TestPromoteMovesAliasAndEndpointAndUndoRestoresBoth(t *testing.T) {
	ctx := context.Background()
	p, f := newPromoter(t)
	pr, err := p.Promote(ctx, "churn", 2, "vigil", "challenger beat champion by 0.04", nil)
	if err != nil {
		t.Fatal(err)
	}
	if pr.Previous != 1 || pr.Deployment.EndpointConfig != "vigil-churn-v2" || f.endpoint.config != "vigil-churn-v2" || production(t, p) != 2 {
		t.Fatalf("promotion = %+v, endpoint on %s", pr, f.endpoint.config)
	}
	if err := p.Undo(ctx, pr, "vigil", "compensation: notify step failed"); err != nil {
		t.Fatal(err)
	}
	if production(t, p) != 1 || f.endpoint.config != "vigil-churn-v1" {
		t.Errorf("after undo: production %d, endpoint on %s", production(t, p), f.endpoint.config)
	}
}

func TestPromoteRestoresTheAliasWhenTheEndpointUpdateFails(t *testing.T) {
	p, f := newPromoter(t)
	f.fail = "UpdateEndpoint"
	if _, err := p.Promote(context.Background(), "churn", 2, "vigil", "better", nil); err == nil || !strings.Contains(err.Error(), "in-progress") {
		t.Fatalf("got %v", err)
	}
	if production(t, p) != 1 {
		t.Errorf("production = %d, want the alias moved back to 1", production(t, p))
	}
	m, _ := p.Registry.Model(context.Background(), "churn")
	if last := m.History[len(m.History)-1]; !strings.HasPrefix(last.Reason, "compensation:") {
		t.Errorf("last move = %+v", last)
	}
}

func TestRollbackMovesAliasAndServesTheRestoredVersion(t *testing.T) {
	ctx := context.Background()
	p, f := newPromoter(t)
	if _, err := p.Promote(ctx, "churn", 2, "vigil", "better", nil); err != nil {
		t.Fatal(err)
	}
	pr, err := p.Rollback(ctx, "churn", 0, "bob", "v2 mis-scores new customers", nil)
	if err != nil {
		t.Fatal(err)
	}
	if pr.Version != 1 || pr.Previous != 2 || f.endpoint.config != "vigil-churn-v1" || production(t, p) != 1 {
		t.Errorf("rollback = %+v, endpoint on %s", pr, f.endpoint.config)
	}
}

func TestNewBuildsTheConfiguredBackendWithItsSecrets(t *testing.T) {
	ctx := context.Background()
	env := map[string]string{"GL_TRIGGER": "t", "JK_TOKEN": "j", "KFP_TOKEN": "k"}
	deps := Deps{Getenv: func(k string) string { return env[k] }, SageMaker: fakeAPI{}}
	for _, tc := range []struct {
		r    config.Retrain
		want string
	}{
		{config.Retrain{Trainer: "command", Command: []string{"python3", "train.py"}}, "command"},
		{config.Retrain{Trainer: "sagemaker", SageMaker: &config.SageMaker{RoleARN: "r", Image: "i"}}, "sagemaker"},
		{config.Retrain{Trainer: "gitlab", GitLab: &config.GitLab{Project: "1", TriggerTokenEnv: "GL_TRIGGER"}}, "gitlab"},
		{config.Retrain{Trainer: "jenkins", Jenkins: &config.Jenkins{URL: "http://ci", Job: "j", User: "u", TokenEnv: "JK_TOKEN"}}, "jenkins"},
		{config.Retrain{Trainer: "kubeflow", Kubeflow: &config.Kubeflow{URL: "http://kfp", PipelineID: "p", TokenEnv: "KFP_TOKEN"}}, "kubeflow"},
	} {
		tr, err := New(ctx, &tc.r, deps)
		if err != nil || tr.Name() != tc.want {
			t.Errorf("%s: %v %v", tc.want, tr, err)
		}
	}
	_, err := New(ctx, &config.Retrain{Trainer: "jenkins", Jenkins: &config.Jenkins{TokenEnv: "MISSING"}}, deps)
	if err == nil || !strings.Contains(err.Error(), "MISSING is not set") {
		t.Errorf("unset secret: %v", err)
	}
}

// fakeAPI satisfies SageMakerAPI for construction tests.
type fakeAPI struct{ SageMakerAPI }

func TestRunOutputDefaultsUnderTheRegistry(t *testing.T) {
	cfg := &config.Config{Storage: config.Storage{Registry: "file://.vigil/registry/"}}
	m := &config.Model{Name: "churn", Retrain: &config.Retrain{}}
	if got := RunOutput(cfg, m, "retrain-churn/2026-11-28T03:00"); got != "file://.vigil/registry/churn/runs/retrain-churn-2026-11-28T03-00" {
		t.Errorf("default = %s", got)
	}
	m.Retrain.Output = "s3://models/churn"
	if got := RunOutput(cfg, m, "r1"); got != "s3://models/churn/r1" {
		t.Errorf("configured = %s", got)
	}
}

func TestNewVersionRecordsLineageWithDataHashes(t *testing.T) {
	dir := t.TempDir()
	train := dir + "/train.jsonl"
	if err := writeFile(train, `{"x1":1,"label":0}`); err != nil {
		t.Fatal(err)
	}
	job := Job{Model: "churn", RunID: "r1", TrainData: "file://" + train, Output: dir, Hyperparameters: map[string]string{"l2": "1"}}
	res := &Result{Trainer: "command", BackendJobID: "r1/pid-1", ArtifactURI: "file://" + dir + "/model.json", Metrics: map[string]float64{"accuracy": 0.9}}
	v, err := NewVersion(context.Background(), job, res, nil, "abc123", "accuracy-drop")
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Data) != 1 || v.Data[0].Role != "train" || !strings.HasPrefix(v.Data[0].SHA256, "sha256:") ||
		v.CodeVersion != "abc123" || v.Hyperparameters["l2"] != "1" || v.Metrics["accuracy"] != 0.9 || v.RunID != "r1" {
		t.Errorf("version = %+v", v)
	}
}

func writeFile(path, body string) error { return os.WriteFile(path, []byte(body), 0o644) }
