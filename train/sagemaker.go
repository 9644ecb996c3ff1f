package train

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	smtypes "github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/vigilml/vigil/config"
)

// SageMakerAPI is the part of *sagemaker.Client the SageMaker trainer and
// deployer use.
type SageMakerAPI interface {
	CreateTrainingJob(context.Context, *sagemaker.CreateTrainingJobInput, ...func(*sagemaker.Options)) (*sagemaker.CreateTrainingJobOutput, error)
	DescribeTrainingJob(context.Context, *sagemaker.DescribeTrainingJobInput, ...func(*sagemaker.Options)) (*sagemaker.DescribeTrainingJobOutput, error)
	StopTrainingJob(context.Context, *sagemaker.StopTrainingJobInput, ...func(*sagemaker.Options)) (*sagemaker.StopTrainingJobOutput, error)
	CreateModel(context.Context, *sagemaker.CreateModelInput, ...func(*sagemaker.Options)) (*sagemaker.CreateModelOutput, error)
	DescribeModel(context.Context, *sagemaker.DescribeModelInput, ...func(*sagemaker.Options)) (*sagemaker.DescribeModelOutput, error)
	CreateEndpointConfig(context.Context, *sagemaker.CreateEndpointConfigInput, ...func(*sagemaker.Options)) (*sagemaker.CreateEndpointConfigOutput, error)
	DescribeEndpointConfig(context.Context, *sagemaker.DescribeEndpointConfigInput, ...func(*sagemaker.Options)) (*sagemaker.DescribeEndpointConfigOutput, error)
	DescribeEndpoint(context.Context, *sagemaker.DescribeEndpointInput, ...func(*sagemaker.Options)) (*sagemaker.DescribeEndpointOutput, error)
	UpdateEndpoint(context.Context, *sagemaker.UpdateEndpointInput, ...func(*sagemaker.Options)) (*sagemaker.UpdateEndpointOutput, error)
	UpdateEndpointWeightsAndCapacities(context.Context, *sagemaker.UpdateEndpointWeightsAndCapacitiesInput, ...func(*sagemaker.Options)) (*sagemaker.UpdateEndpointWeightsAndCapacitiesOutput, error)
}

// SageMaker trains with a SageMaker training job. The job is named after the
// model and run id (JobName, 63 characters at most), and Train describes it
// before creating it, so a retried activity re-attaches to its job.
// Channels "train" and (if set) "validation" get the data prefixes; the
// hyperparameters are passed as they are; Job.Output is the S3 output path.
type SageMaker struct {
	Client        SageMakerAPI
	RoleARN       string
	Image         string
	InstanceType  string // default ml.m5.large
	InstanceCount int32  // default 1
	VolumeGB      int32  // default 10
	// MaxRuntime is the job's stopping condition; default 2h.
	MaxRuntime time.Duration
	// PollInterval is the DescribeTrainingJob cadence; default 30s.
	PollInterval time.Duration
}

// Name implements Trainer.
func (s *SageMaker) Name() string { return "sagemaker" }

// Train implements Trainer.
func (s *SageMaker) Train(ctx context.Context, job Job, progress func(string)) (*Result, error) {
	if err := job.Validate(); err != nil {
		return nil, err
	}
	progress = progressOrNop(progress)
	name := JobName(job.Model, job.RunID, 63)
	_, err := s.Client.DescribeTrainingJob(ctx, &sagemaker.DescribeTrainingJobInput{TrainingJobName: &name})
	switch {
	case err == nil:
		progress("re-attaching to training job " + name)
	case isNotFound(err):
		if err := s.create(ctx, name, job); err != nil {
			return nil, err
		}
		progress("created training job " + name)
	default:
		return nil, fmt.Errorf("train: describe SageMaker job %s: %w", name, err)
	}
	return s.wait(ctx, name, progress)
}

func (s *SageMaker) create(ctx context.Context, name string, job Job) error {
	for _, uri := range []string{job.TrainData, job.ValidationData, job.Output} {
		if uri != "" && !strings.HasPrefix(uri, "s3://") {
			return &PermanentError{Backend: "sagemaker", JobID: name, Reason: fmt.Sprintf("SageMaker reads and writes S3 only, got %q", uri)}
		}
	}
	channels := []smtypes.Channel{channel("train", job.TrainData)}
	if job.ValidationData != "" {
		channels = append(channels, channel("validation", job.ValidationData))
	}
	in := &sagemaker.CreateTrainingJobInput{
		TrainingJobName: &name,
		RoleArn:         &s.RoleARN,
		AlgorithmSpecification: &smtypes.AlgorithmSpecification{
			TrainingImage:     &s.Image,
			TrainingInputMode: smtypes.TrainingInputModeFile,
		},
		InputDataConfig:  channels,
		OutputDataConfig: &smtypes.OutputDataConfig{S3OutputPath: aws.String(job.Output)},
		ResourceConfig: &smtypes.ResourceConfig{
			InstanceType:   smtypes.TrainingInstanceType(cmp.Or(s.InstanceType, "ml.m5.large")),
			InstanceCount:  aws.Int32(orInt(s.InstanceCount, 1)),
			VolumeSizeInGB: aws.Int32(orInt(s.VolumeGB, 10)),
		},
		StoppingCondition: &smtypes.StoppingCondition{MaxRuntimeInSeconds: aws.Int32(int32(orDur(s.MaxRuntime, 2*time.Hour).Seconds()))},
		HyperParameters:   job.Hyperparameters,
		Tags: []smtypes.Tag{
			{Key: aws.String("vigil:model"), Value: aws.String(job.Model)},
			{Key: aws.String("vigil:run-id"), Value: aws.String(tagValue(job.RunID))},
		},
	}
	_, err := s.Client.CreateTrainingJob(ctx, in)
	switch {
	case err == nil, isAWSError(err, "ResourceInUse"): // ResourceInUse: a concurrent attempt created it
		return nil
	case isAWSError(err, "ValidationException"):
		return &PermanentError{Backend: "sagemaker", JobID: name, Reason: "CreateTrainingJob rejected the job: " + err.Error()}
	}
	return fmt.Errorf("train: create SageMaker job %s: %w", name, err)
}

func (s *SageMaker) wait(ctx context.Context, name string, progress func(string)) (*Result, error) {
	last := ""
	var res *Result
	err := poller{interval: s.PollInterval}.run(ctx, func() (bool, error) {
		out, err := s.Client.DescribeTrainingJob(ctx, &sagemaker.DescribeTrainingJobInput{TrainingJobName: &name})
		if err != nil {
			return false, fmt.Errorf("train: describe SageMaker job %s: %w", name, err)
		}
		state := fmt.Sprintf("%s/%s", out.TrainingJobStatus, out.SecondaryStatus)
		if state != last {
			progress("SageMaker job " + name + ": " + state)
			last = state
		}
		switch out.TrainingJobStatus {
		case smtypes.TrainingJobStatusCompleted:
			res = sageMakerResult(name, out)
			return true, nil
		case smtypes.TrainingJobStatusFailed:
			return false, &PermanentError{Backend: "sagemaker", JobID: name, Reason: aws.ToString(out.FailureReason)}
		case smtypes.TrainingJobStatusStopped:
			return false, &PermanentError{Backend: "sagemaker", JobID: name, Reason: "the job was stopped: " + ErrStopped.Error()}
		}
		return false, nil
	}, func(stopCtx context.Context) error {
		_, err := s.Client.StopTrainingJob(stopCtx, &sagemaker.StopTrainingJobInput{TrainingJobName: &name})
		return err
	})
	if errors.Is(err, ErrDetached) {
		progress("worker shutting down: SageMaker job " + name + " left running for the next attempt")
	}
	if errors.Is(err, ErrDetached) || errors.Is(err, ErrStopped) {
		return nil, fmt.Errorf("train: SageMaker job %s: %w", name, err)
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

func sageMakerResult(name string, out *sagemaker.DescribeTrainingJobOutput) *Result {
	res := &Result{Trainer: "sagemaker", BackendJobID: name, Metrics: map[string]float64{},
		LogsURI: "cloudwatch-logs:/aws/sagemaker/TrainingJobs/" + name}
	if out.ModelArtifacts != nil {
		res.ArtifactURI = aws.ToString(out.ModelArtifacts.S3ModelArtifacts)
	}
	for _, m := range out.FinalMetricDataList {
		if m.MetricName != nil && m.Value != nil {
			res.Metrics[*m.MetricName] = float64(*m.Value)
		}
	}
	return res
}

func channel(name, uri string) smtypes.Channel {
	return smtypes.Channel{ChannelName: aws.String(name), DataSource: &smtypes.DataSource{S3DataSource: &smtypes.S3DataSource{
		S3Uri: aws.String(uri), S3DataType: smtypes.S3DataTypeS3Prefix, S3DataDistributionType: smtypes.S3DataDistributionFullyReplicated,
	}}}
}

// SageMakerDeployer points an existing SageMaker endpoint at a model
// version: it creates a SageMaker model and an endpoint config named after
// the version (idempotently), calls UpdateEndpoint and waits for InService.
type SageMakerDeployer struct {
	Client        SageMakerAPI
	Endpoint      string
	Image         string
	RoleARN       string
	InstanceType  string // default ml.m5.large
	InstanceCount int32  // default 1
	PollInterval  time.Duration
}

// Deployment says what a deployment changed, so it can be undone.
type Deployment struct {
	Endpoint       string `json:"endpoint"`
	EndpointConfig string `json:"endpoint_config"`
	// PreviousConfig is the config the endpoint had before (compensation
	// passes it to Restore); empty when nothing changed.
	PreviousConfig string `json:"previous_config,omitempty"`
}

// Deploy serves artifactURI, version `version` of model, on the endpoint.
// The new endpoint config keeps the data capture of the endpoint's current
// one, so monitoring goes on after a deploy.
func (d *SageMakerDeployer) Deploy(ctx context.Context, model string, version int, artifactURI string, progress func(string)) (*Deployment, error) {
	progress = progressOrNop(progress)
	name, err := d.ensureModel(ctx, model, version, artifactURI, progress)
	if err != nil {
		return nil, err
	}
	err = d.ensureConfig(ctx, name, func(capture *smtypes.DataCaptureConfig) *sagemaker.CreateEndpointConfigInput {
		return &sagemaker.CreateEndpointConfigInput{
			EndpointConfigName: &name,
			ProductionVariants: []smtypes.ProductionVariant{d.variant("AllTraffic", name, 1)},
			DataCaptureConfig:  capture,
		}
	}, progress)
	if err != nil {
		return nil, err
	}
	prev, err := d.SetConfig(ctx, name, progress)
	if err != nil {
		return nil, err
	}
	dep := &Deployment{Endpoint: d.Endpoint, EndpointConfig: name}
	if prev != name {
		dep.PreviousConfig = prev
	}
	return dep, nil
}

// ensureModel creates the SageMaker model of a version unless it exists
// (vigil-<model>-v<version>) and returns its name.
func (d *SageMakerDeployer) ensureModel(ctx context.Context, model string, version int, artifactURI string, progress func(string)) (string, error) {
	name := JobName(model, fmt.Sprintf("v%d", version), 63)
	_, err := d.Client.DescribeModel(ctx, &sagemaker.DescribeModelInput{ModelName: &name})
	switch {
	case err == nil:
		return name, nil
	case !isNotFound(err):
		return "", fmt.Errorf("train: describe SageMaker model %s: %w", name, err)
	}
	_, err = d.Client.CreateModel(ctx, &sagemaker.CreateModelInput{
		ModelName:        &name,
		ExecutionRoleArn: &d.RoleARN,
		PrimaryContainer: &smtypes.ContainerDefinition{Image: &d.Image, ModelDataUrl: &artifactURI},
		Tags:             []smtypes.Tag{{Key: aws.String("vigil:model"), Value: aws.String(model)}},
	})
	switch {
	case err == nil, isAWSError(err, "ResourceInUse"): // ResourceInUse: a concurrent attempt created it
	case isAWSError(err, "ValidationException"):
		return "", &PermanentError{Backend: "sagemaker", JobID: name, Reason: "CreateModel rejected the model: " + err.Error()}
	default:
		return "", fmt.Errorf("train: create SageMaker model %s: %w", name, err)
	}
	progress("created SageMaker model " + name)
	return name, nil
}

// ensureConfig creates endpoint config `name` unless it exists; build makes
// the request from the data capture of the endpoint's current config (nil
// when it has none), which the new config keeps.
func (d *SageMakerDeployer) ensureConfig(ctx context.Context, name string, build func(*smtypes.DataCaptureConfig) *sagemaker.CreateEndpointConfigInput, progress func(string)) error {
	_, err := d.Client.DescribeEndpointConfig(ctx, &sagemaker.DescribeEndpointConfigInput{EndpointConfigName: &name})
	switch {
	case err == nil:
		return nil
	case !isNotFound(err):
		return fmt.Errorf("train: describe SageMaker endpoint config %s: %w", name, err)
	}
	capture, err := d.currentCapture(ctx, progress)
	if err != nil {
		return err
	}
	_, err = d.Client.CreateEndpointConfig(ctx, build(capture))
	switch {
	case err == nil, isAWSError(err, "ResourceInUse"):
	case isAWSError(err, "ValidationException"):
		return &PermanentError{Backend: "sagemaker", JobID: name, Reason: "CreateEndpointConfig rejected the config: " + err.Error()}
	default:
		return fmt.Errorf("train: create SageMaker endpoint config %s: %w", name, err)
	}
	progress("created SageMaker endpoint config " + name)
	return nil
}

// currentCapture is the data capture of the endpoint's current config;
// nil when that config was deleted (SageMaker allows deleting the config of
// a running endpoint), which progress says.
func (d *SageMakerDeployer) currentCapture(ctx context.Context, progress func(string)) (*smtypes.DataCaptureConfig, error) {
	ep, err := d.describeEndpoint(ctx)
	if err != nil {
		return nil, err
	}
	cur := aws.ToString(ep.EndpointConfigName)
	if cur == "" {
		return nil, nil
	}
	out, err := d.Client.DescribeEndpointConfig(ctx, &sagemaker.DescribeEndpointConfigInput{EndpointConfigName: &cur})
	if isNotFound(err) {
		progress(fmt.Sprintf("endpoint %s's config %s no longer exists: the new config has no data capture", d.Endpoint, cur))
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("train: describe SageMaker endpoint config %s (for its data capture): %w", cur, err)
	}
	dc := out.DataCaptureConfig
	if dc == nil || aws.ToString(dc.DestinationS3Uri) == "" || len(dc.CaptureOptions) == 0 {
		return nil, nil // none (moto answers an empty DataCaptureConfig for none)
	}
	return dc, nil
}

// variant is one variant of an endpoint config.
func (d *SageMakerDeployer) variant(name, model string, weight float32) smtypes.ProductionVariant {
	return smtypes.ProductionVariant{
		VariantName:          aws.String(name),
		ModelName:            aws.String(model),
		InstanceType:         smtypes.ProductionVariantInstanceType(cmp.Or(d.InstanceType, "ml.m5.large")),
		InitialInstanceCount: aws.Int32(orInt(d.InstanceCount, 1)),
		InitialVariantWeight: aws.Float32(weight),
	}
}

// Stage modes: how a challenger runs beside the champion on one endpoint.
const (
	// StageShadow: the champion answers every request (production variant)
	// and SageMaker copies requests to the challenger (shadow variant),
	// whose answers are only captured.
	StageShadow = "shadow"
	// StageCanary: two production variants split live traffic by weight.
	StageCanary = "canary"
)

// VariantName is the name Stage gives the variant that serves a version,
// production or shadow: "v3". The capture of a staged endpoint lands under
// <prefix>/<endpoint>/v3/yyyy/mm/dd/hh/; StagedSource maps those folders to
// versions.
func VariantName(version int) string { return fmt.Sprintf("v%d", version) }

// StagedSource returns src (a SageMaker capture source) with the variant
// mapping of an endpoint staged by Stage: source.variants gains
// v<champion> → "<champion>" and v<challenger> → "<challenger>" (the
// versions as decimal strings, the model_version of their rows), and in
// shadow mode source.shadow_variant is v<challenger>, so the challenger's
// captured answers become the shadow.<challenger>.prediction/score columns
// of the champion's rows. The entries src already has (a user's mapping of
// AllTraffic) are kept; src itself is not modified.
func StagedSource(src config.Source, mode string, champion, challenger int) config.Source {
	out := src
	out.Variants = make(map[string]string, len(src.Variants)+2)
	for k, v := range src.Variants {
		out.Variants[k] = v
	}
	for _, v := range []int{champion, challenger} {
		out.Variants[VariantName(v)] = strconv.Itoa(v)
	}
	if mode == StageShadow {
		out.ShadowVariant = VariantName(challenger)
	}
	return out
}

// Stage serves challenger beside champion on the endpoint (version numbers
// of model; the artifacts are their model data, used when their SageMaker
// model does not exist yet):
//
//   - mode "shadow": endpoint config vigil-<model>-v<champion>-shadow-v<challenger>
//     with the champion as its one production variant (v<champion>) and the
//     challenger as its one shadow variant (v<challenger>, ShadowProductionVariants),
//     both weight 1; percent is ignored. SageMaker copies requests to the
//     shadow and returns only the champion's answers; how much of the
//     traffic it copies for a weight is not something we could confirm in
//     its documentation: the capture reader counts the pairs it finds
//     (store.WindowInfo.ShadowPaired).
//   - mode "canary", 0 < percent < 100: endpoint config
//     vigil-<model>-v<champion>-canary-v<challenger> with two production variants
//     weighted 100-percent and percent. When the endpoint already runs that
//     config, a new percent is set with UpdateEndpointWeightsAndCapacities
//     (no redeployment).
//   - percent >= 100 (promotion): Deploy of the challenger alone.
//   - mode "canary" with percent 0, or any other mode with percent < 100
//     ("direct", "": the rollout is undone): Deploy of the champion alone.
//
// Every config keeps the data capture of the endpoint's config before it.
// Like Deploy it is idempotent and re-attaches: models and configs that
// exist are used as they are, an update already under way to the wanted
// config (or weights) is waited for, not started again, and an update
// under way to anything else is waited for first; a retry after a crash
// converges on the same endpoint state.
func (d *SageMakerDeployer) Stage(ctx context.Context, model string, champion, challenger int, championArtifact, challengerArtifact, mode string, percent int, progress func(string)) error {
	progress = progressOrNop(progress)
	switch {
	case percent < 0:
		return &PermanentError{Backend: "sagemaker", JobID: d.Endpoint, Reason: fmt.Sprintf("stage: percent %d is negative", percent)}
	case percent >= 100:
		_, err := d.Deploy(ctx, model, challenger, challengerArtifact, progress)
		return err
	case mode != StageShadow && (mode != StageCanary || percent == 0):
		_, err := d.Deploy(ctx, model, champion, championArtifact, progress)
		return err
	case champion == challenger:
		return &PermanentError{Backend: "sagemaker", JobID: d.Endpoint, Reason: fmt.Sprintf("stage: champion and challenger are both version %d", champion)}
	}
	champModel, err := d.ensureModel(ctx, model, champion, championArtifact, progress)
	if err != nil {
		return err
	}
	chalModel, err := d.ensureModel(ctx, model, challenger, challengerArtifact, progress)
	if err != nil {
		return err
	}
	name := JobName(model, fmt.Sprintf("v%d-%s-v%d", champion, mode, challenger), 63)
	champVar, chalVar := VariantName(champion), VariantName(challenger)
	err = d.ensureConfig(ctx, name, func(capture *smtypes.DataCaptureConfig) *sagemaker.CreateEndpointConfigInput {
		in := &sagemaker.CreateEndpointConfigInput{EndpointConfigName: &name, DataCaptureConfig: capture,
			Tags: []smtypes.Tag{{Key: aws.String("vigil:model"), Value: aws.String(model)}}}
		if mode == StageShadow {
			in.ProductionVariants = []smtypes.ProductionVariant{d.variant(champVar, champModel, 1)}
			in.ShadowProductionVariants = []smtypes.ProductionVariant{d.variant(chalVar, chalModel, 1)}
		} else {
			in.ProductionVariants = []smtypes.ProductionVariant{
				d.variant(champVar, champModel, float32(100-percent)),
				d.variant(chalVar, chalModel, float32(percent)),
			}
		}
		return in
	}, progress)
	if err != nil {
		return err
	}
	if _, err := d.SetConfig(ctx, name, progress); err != nil {
		return err
	}
	if mode == StageShadow {
		return nil
	}
	return d.setWeights(ctx, name, champVar, chalVar, percent, progress)
}

// setWeights gives the canary variants the split percent/100-percent on an
// endpoint in service on config, unless they have it (or are being given
// it) already.
func (d *SageMakerDeployer) setWeights(ctx context.Context, config, champVar, chalVar string, percent int, progress func(string)) error {
	cur, err := d.waitSettled(ctx, progress)
	if err != nil {
		return err
	}
	if got, ok := challengerShare(cur.ProductionVariants, champVar, chalVar); !ok || !sameShare(got, percent) {
		_, err := d.Client.UpdateEndpointWeightsAndCapacities(ctx, &sagemaker.UpdateEndpointWeightsAndCapacitiesInput{
			EndpointName: &d.Endpoint,
			DesiredWeightsAndCapacities: []smtypes.DesiredWeightAndCapacity{
				{VariantName: aws.String(champVar), DesiredWeight: aws.Float32(float32(100 - percent))},
				{VariantName: aws.String(chalVar), DesiredWeight: aws.Float32(float32(percent))},
			},
		})
		if err != nil {
			return fmt.Errorf("train: set the weights of endpoint %s to %s %d%%, %s %d%%: %w", d.Endpoint, champVar, 100-percent, chalVar, percent, err)
		}
		progress(fmt.Sprintf("endpoint %s: %s now gets %d%% of the traffic (was %.0f%%)", d.Endpoint, chalVar, percent, 100*got))
	}
	if err := d.waitInService(ctx, config, progress); err != nil {
		return err
	}
	cur, err = d.describeEndpoint(ctx)
	if err != nil {
		return err
	}
	if got, ok := challengerShare(cur.ProductionVariants, champVar, chalVar); !ok || !sameShare(got, percent) {
		return &PermanentError{Backend: "sagemaker", JobID: d.Endpoint,
			Reason: fmt.Sprintf("endpoint is in service with %s at %.1f%% of the traffic, not %d%%", chalVar, 100*got, percent)}
	}
	return nil
}

// challengerShare is chal's share of the two variants' weights (the desired
// weight where SageMaker reports one, else the current); ok is false when
// either variant is missing or both weigh nothing.
func challengerShare(vs []smtypes.ProductionVariantSummary, champ, chal string) (share float64, ok bool) {
	var wc, wh float64
	found := 0
	for _, v := range vs {
		w := v.DesiredWeight
		if w == nil {
			w = v.CurrentWeight
		}
		switch aws.ToString(v.VariantName) {
		case champ:
			wc = float64(aws.ToFloat32(w))
			found++
		case chal:
			wh = float64(aws.ToFloat32(w))
			found++
		}
	}
	if found != 2 || wc+wh <= 0 {
		return 0, false
	}
	return wh / (wc + wh), true
}

func sameShare(share float64, percent int) bool { return math.Abs(share*100-float64(percent)) < 0.05 }

// Restore puts the endpoint back on a previous config (compensation).
func (d *SageMakerDeployer) Restore(ctx context.Context, dep *Deployment, progress func(string)) error {
	if dep == nil || dep.PreviousConfig == "" {
		return nil
	}
	_, err := d.SetConfig(ctx, dep.PreviousConfig, progressOrNop(progress))
	return err
}

// SetConfig moves the endpoint to an endpoint config and waits until it is
// in service; it returns the config the endpoint had before. Calling it
// with the current config does nothing. An update already under way to
// config (an earlier attempt's, whose activity timed out or whose worker
// stopped) is waited for, not started again; an update under way to another
// config is waited for first, so the endpoint ends on config whatever order
// a deploy and its compensation ran in. Updates of a real endpoint take
// minutes to over half an hour: progress reports every poll, so an
// activity can heartbeat, and ctx bounds the wait.
func (d *SageMakerDeployer) SetConfig(ctx context.Context, config string, progress func(string)) (previous string, err error) {
	progress = progressOrNop(progress)
	cur, err := d.describeEndpoint(ctx)
	if err != nil {
		return "", err
	}
	if inProgress(cur.EndpointStatus) {
		if pending := pendingConfig(cur); pending == config {
			progress(fmt.Sprintf("re-attaching to the update of endpoint %s to %s", d.Endpoint, config))
			return aws.ToString(cur.EndpointConfigName), d.waitInService(ctx, config, progress)
		}
		progress(fmt.Sprintf("endpoint %s is %s (to %s); waiting before moving it to %s", d.Endpoint, cur.EndpointStatus, pendingConfig(cur), config))
		if cur, err = d.waitSettled(ctx, progress); err != nil {
			return "", err
		}
	}
	previous = aws.ToString(cur.EndpointConfigName)
	if previous != config || cur.EndpointStatus != smtypes.EndpointStatusInService {
		if previous != config {
			if _, err := d.Client.UpdateEndpoint(ctx, &sagemaker.UpdateEndpointInput{EndpointName: &d.Endpoint, EndpointConfigName: &config}); err != nil {
				return "", fmt.Errorf("train: update SageMaker endpoint %s to %s: %w", d.Endpoint, config, err)
			}
			progress(fmt.Sprintf("updating endpoint %s: %s → %s", d.Endpoint, previous, config))
		}
		if err := d.waitInService(ctx, config, progress); err != nil {
			return "", err
		}
	}
	return previous, nil
}

func (d *SageMakerDeployer) describeEndpoint(ctx context.Context) (*sagemaker.DescribeEndpointOutput, error) {
	out, err := d.Client.DescribeEndpoint(ctx, &sagemaker.DescribeEndpointInput{EndpointName: &d.Endpoint})
	if err != nil {
		if isNotFound(err) {
			return nil, &PermanentError{Backend: "sagemaker", JobID: d.Endpoint,
				Reason: fmt.Sprintf("endpoint %s does not exist (retrain.sagemaker.deploy.endpoint names an existing endpoint): %v", d.Endpoint, err)}
		}
		return nil, fmt.Errorf("train: describe SageMaker endpoint %s: %w", d.Endpoint, err)
	}
	return out, nil
}

// inProgress reports the statuses in which UpdateEndpoint is refused.
func inProgress(s smtypes.EndpointStatus) bool {
	switch s {
	case smtypes.EndpointStatusCreating, smtypes.EndpointStatusUpdating, smtypes.EndpointStatusSystemUpdating,
		smtypes.EndpointStatusRollingBack, smtypes.EndpointStatusUpdateRollbackFailed:
		return true
	}
	return false
}

// pendingConfig is the config an in-progress deployment moves to, "" when
// DescribeEndpoint does not say.
func pendingConfig(out *sagemaker.DescribeEndpointOutput) string {
	if out.PendingDeploymentSummary == nil {
		return ""
	}
	return aws.ToString(out.PendingDeploymentSummary.EndpointConfigName)
}

// waitSettled polls until the endpoint is no longer changing.
func (d *SageMakerDeployer) waitSettled(ctx context.Context, progress func(string)) (*sagemaker.DescribeEndpointOutput, error) {
	for {
		out, err := d.describeEndpoint(ctx)
		if err != nil {
			return nil, err
		}
		if !inProgress(out.EndpointStatus) || out.EndpointStatus == smtypes.EndpointStatusUpdateRollbackFailed {
			return out, nil
		}
		progress(fmt.Sprintf("endpoint %s: %s", d.Endpoint, out.EndpointStatus))
		if err := d.sleep(ctx); err != nil {
			return nil, err
		}
	}
}

// waitInService polls until the endpoint is in service on config; in
// service on another config means the update was rolled back.
func (d *SageMakerDeployer) waitInService(ctx context.Context, config string, progress func(string)) error {
	for {
		out, err := d.describeEndpoint(ctx)
		if err != nil {
			return err
		}
		switch out.EndpointStatus {
		case smtypes.EndpointStatusInService:
			if got := aws.ToString(out.EndpointConfigName); got != config {
				return &PermanentError{Backend: "sagemaker", JobID: d.Endpoint,
					Reason: fmt.Sprintf("endpoint is in service on %s, not %s (the update was rolled back: %s)", got, config, aws.ToString(out.FailureReason))}
			}
			return nil
		case smtypes.EndpointStatusFailed, smtypes.EndpointStatusUpdateRollbackFailed, smtypes.EndpointStatusOutOfService:
			return &PermanentError{Backend: "sagemaker", JobID: d.Endpoint,
				Reason: fmt.Sprintf("endpoint %s: %s", out.EndpointStatus, aws.ToString(out.FailureReason))}
		}
		progress(fmt.Sprintf("endpoint %s: %s", d.Endpoint, out.EndpointStatus))
		if err := d.sleep(ctx); err != nil {
			return err
		}
	}
}

func (d *SageMakerDeployer) sleep(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return fmt.Errorf("train: waiting for SageMaker endpoint %s (the update goes on; a retry re-attaches): %w", d.Endpoint, ctx.Err())
	case <-time.After(orDur(d.PollInterval, 30*time.Second)):
		return nil
	}
}

// isNotFound reports whether err says a SageMaker resource does not exist.
// SageMaker answers Describe* of a missing job, model, endpoint config or
// endpoint with ValidationException ("Requested resource not found.", or
// "Could not find …" for an endpoint; moto: "Could not find training job
// …"), not with the ResourceNotFound its API model declares
// (aws/aws-sdk#165); other ValidationExceptions (a malformed name) are not
// "missing".
func isNotFound(err error) bool {
	if isAWSError(err, "ResourceNotFound", "ResourceNotFoundException") {
		return true
	}
	if !isAWSError(err, "ValidationException") {
		return false
	}
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "not found") || strings.Contains(msg, "could not find") || strings.Contains(msg, "does not exist")
}

// isAWSError reports whether err is an API error with one of the codes.
func isAWSError(err error, codes ...string) bool {
	var api interface{ ErrorCode() string }
	if err == nil || !errors.As(err, &api) {
		return false
	}
	for _, c := range codes {
		if api.ErrorCode() == c {
			return true
		}
	}
	return false
}

func tagValue(s string) string {
	if len(s) > 256 {
		return s[:256]
	}
	return s
}

// orInt and orDur take any non-positive value as unset (cmp.Or would keep
// a negative one).
func orInt(v, def int32) int32 {
	if v > 0 {
		return v
	}
	return def
}

func orDur(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}
