package train

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"

	"github.com/vigilml/vigil/config"
)

// Deps are the clients New builds backends with; zero values mean
// defaults (os.Getenv, http.DefaultClient, a SageMaker client from the AWS
// default credential chain).
type Deps struct {
	Getenv    func(string) string
	HTTP      *http.Client
	SageMaker SageMakerAPI
}

// New builds the trainer a model's retrain section configures. Secrets are
// read here from the variables the config names; an unset one is an error,
// so the worker fails at start, not at the first retrain.
func New(ctx context.Context, r *config.Retrain, deps Deps) (Trainer, error) {
	getenv := deps.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	secret := func(field, name string) (string, error) {
		if name == "" {
			return "", nil
		}
		v := getenv(name)
		if v == "" {
			return "", fmt.Errorf("train: %s: environment variable %s is not set", field, name)
		}
		return v, nil
	}
	switch r.Trainer {
	case "command":
		return &Command{Argv: r.Command}, nil
	case "sagemaker":
		c, err := sageMakerClient(ctx, r.SageMaker, deps)
		if err != nil {
			return nil, err
		}
		s := r.SageMaker
		return &SageMaker{Client: c, RoleARN: s.RoleARN, Image: s.Image, InstanceType: s.InstanceType,
			InstanceCount: int32(s.InstanceCount), VolumeGB: int32(s.VolumeGB), MaxRuntime: r.Timeout.D(),
			PollInterval: s.PollInterval.D()}, nil
	case "gitlab":
		g := r.GitLab
		trigger, err := secret("gitlab.trigger_token_env", g.TriggerTokenEnv)
		if err != nil {
			return nil, err
		}
		api, err := secret("gitlab.api_token_env", g.APITokenEnv)
		if err != nil {
			return nil, err
		}
		return &GitLab{BaseURL: g.URL, Project: g.Project, Ref: g.Ref, TriggerToken: trigger, APIToken: api,
			PollInterval: g.PollInterval.D(), HTTP: deps.HTTP}, nil
	case "jenkins":
		j := r.Jenkins
		token, err := secret("jenkins.token_env", j.TokenEnv)
		if err != nil {
			return nil, err
		}
		return &Jenkins{BaseURL: j.URL, Job: j.Job, User: j.User, Token: token, PollInterval: j.PollInterval.D(), HTTP: deps.HTTP}, nil
	case "kubeflow":
		k := r.Kubeflow
		if k == nil {
			return nil, fmt.Errorf("train: trainer kubeflow needs a kubeflow section")
		}
		token, err := secret("kubeflow.token_env", k.TokenEnv)
		if err != nil {
			return nil, err
		}
		kf := &Kubeflow{BaseURL: k.URL, PipelineID: k.PipelineID, PipelineVersionID: k.PipelineVersionID,
			ExperimentID: k.ExperimentID, Namespace: k.Namespace, ServiceAccount: k.ServiceAccount,
			Token: token, UserID: k.UserID, PollInterval: k.PollInterval.D(), HTTP: deps.HTTP}
		if k.PipelineSpec != "" {
			if kf.PipelineSpec, err = LoadPipelineSpec(k.PipelineSpec); err != nil {
				return nil, err
			}
		}
		return kf, nil
	case "airflow":
		a := r.Airflow
		if a == nil {
			return nil, fmt.Errorf("train: trainer airflow needs an airflow section")
		}
		password, err := secret("airflow.password_env", a.PasswordEnv)
		if err != nil {
			return nil, err
		}
		return &Airflow{BaseURL: a.URL, API: a.API, DAG: a.DAG, User: a.User, Password: password,
			PollInterval: a.PollInterval.D(), HTTP: deps.HTTP}, nil
	}
	return nil, fmt.Errorf("train: unknown trainer %q", r.Trainer)
}

// NewDeployer builds the SageMaker endpoint deployer when the retrain
// section has sagemaker.deploy, and returns nil otherwise (promotion then
// only moves the registry alias).
func NewDeployer(ctx context.Context, r *config.Retrain, deps Deps) (*SageMakerDeployer, error) {
	if r == nil || r.SageMaker == nil || r.SageMaker.Deploy == nil {
		return nil, nil
	}
	c, err := sageMakerClient(ctx, r.SageMaker, deps)
	if err != nil {
		return nil, err
	}
	d := r.SageMaker.Deploy
	return &SageMakerDeployer{Client: c, Endpoint: d.Endpoint, Image: d.Image, RoleARN: d.RoleARN,
		InstanceType: d.InstanceType, InstanceCount: int32(d.InstanceCount), PollInterval: r.SageMaker.PollInterval.D()}, nil
}

func sageMakerClient(ctx context.Context, s *config.SageMaker, deps Deps) (SageMakerAPI, error) {
	if deps.SageMaker != nil {
		return deps.SageMaker, nil
	}
	if s == nil {
		return nil, fmt.Errorf("train: trainer sagemaker needs a sagemaker section")
	}
	var opts []func(*awsconfig.LoadOptions) error
	if s.Region != "" {
		opts = append(opts, awsconfig.WithRegion(s.Region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("train: AWS config: %w", err)
	}
	return sagemaker.NewFromConfig(cfg, func(o *sagemaker.Options) {
		if s.Endpoint != "" {
			o.BaseEndpoint = aws.String(s.Endpoint)
		}
	}), nil
}

// RunOutput is where run runID of model writes its artifacts: under the
// retrain section's output, by default <storage.registry>/<model>/runs.
func RunOutput(cfg *config.Config, m *config.Model, runID string) string {
	base := ""
	if m.Retrain != nil {
		base = m.Retrain.Output
	}
	if base == "" {
		base = strings.TrimRight(cfg.Storage.Registry, "/") + "/" + m.Name + "/runs"
	}
	return strings.TrimRight(base, "/") + "/" + unsafeName.ReplaceAllString(runID, "-")
}

// CodeVersion is the version of the training code recorded in the
// registry: VIGIL_CODE_VERSION, else the commit CI systems export
// (CI_COMMIT_SHA, GIT_COMMIT, GITHUB_SHA), else "".
func CodeVersion(getenv func(string) string) string {
	if getenv == nil {
		getenv = os.Getenv
	}
	for _, k := range []string{"VIGIL_CODE_VERSION", "CI_COMMIT_SHA", "GIT_COMMIT", "GITHUB_SHA"} {
		if v := getenv(k); v != "" {
			return v
		}
	}
	return ""
}
