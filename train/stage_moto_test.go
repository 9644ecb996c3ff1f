package train

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	smtypes "github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/vigilml/vigil/internal/motoserver"
)

func TestMain(m *testing.M) { os.Exit(motoserver.Main(m)) }

// motoSageMaker is moto's SageMaker for the deployer. What moto 5.2.1
// implements is used as it is: CreateModel, CreateEndpointConfig (its
// ProductionVariants and DataCaptureConfig; ShadowProductionVariants is
// accepted and dropped), DescribeEndpointConfig, DescribeEndpoint (its
// variants' CurrentWeight/DesiredWeight) and UpdateEndpointWeightsAndCapacities
// (it checks the variant names against the endpoint's). moto has no
// UpdateEndpoint: it is emulated by deleting and re-creating the endpoint
// on the new config (moto's endpoints are in service at once). Calls are
// counted.
type motoSageMaker struct {
	*sagemaker.Client
	mu               sync.Mutex
	updates, weights int
}

func (m *motoSageMaker) UpdateEndpoint(ctx context.Context, in *sagemaker.UpdateEndpointInput, opts ...func(*sagemaker.Options)) (*sagemaker.UpdateEndpointOutput, error) {
	m.mu.Lock()
	m.updates++
	m.mu.Unlock()
	if _, err := m.Client.DeleteEndpoint(ctx, &sagemaker.DeleteEndpointInput{EndpointName: in.EndpointName}); err != nil {
		return nil, err
	}
	out, err := m.Client.CreateEndpoint(ctx, &sagemaker.CreateEndpointInput{EndpointName: in.EndpointName, EndpointConfigName: in.EndpointConfigName})
	if err != nil {
		return nil, err
	}
	return &sagemaker.UpdateEndpointOutput{EndpointArn: out.EndpointArn}, nil
}

func (m *motoSageMaker) UpdateEndpointWeightsAndCapacities(ctx context.Context, in *sagemaker.UpdateEndpointWeightsAndCapacitiesInput, opts ...func(*sagemaker.Options)) (*sagemaker.UpdateEndpointWeightsAndCapacitiesOutput, error) {
	m.mu.Lock()
	m.weights++
	m.mu.Unlock()
	return m.Client.UpdateEndpointWeightsAndCapacities(ctx, in, opts...)
}

func (m *motoSageMaker) counts() (updates, weights int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.updates, m.weights
}

// motoEndpoint creates, on moto, endpoint `model` serving version 3 of
// model `model` (config vigil-<model>-v3, variant AllTraffic) with data
// capture to s3://capture/<model>, as a user's endpoint would be before
// Vigil stages anything on it. Tests share the moto server: each names its
// own model.
func motoEndpoint(t *testing.T, model string) (*motoSageMaker, *SageMakerDeployer) {
	t.Helper()
	srv := motoserver.Start(t)
	ctx := context.Background()
	sm := &motoSageMaker{Client: sagemaker.NewFromConfig(srv.Config(), func(o *sagemaker.Options) { o.BaseEndpoint = aws.String(srv.URL) })}
	endpoint := model
	d := &SageMakerDeployer{Client: sm, Endpoint: endpoint, Image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/churn-infer:1",
		RoleARN: "arn:aws:iam::123456789012:role/vigil", PollInterval: time.Millisecond}
	name, err := d.ensureModel(ctx, model, 3, "s3://models/"+model+"/v3/model.tar.gz", func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sm.CreateEndpointConfig(ctx, &sagemaker.CreateEndpointConfigInput{EndpointConfigName: &name,
		ProductionVariants: []smtypes.ProductionVariant{d.variant("AllTraffic", name, 1)},
		DataCaptureConfig: &smtypes.DataCaptureConfig{EnableCapture: aws.Bool(true), InitialSamplingPercentage: aws.Int32(100),
			DestinationS3Uri: aws.String("s3://capture/" + endpoint),
			CaptureOptions:   []smtypes.CaptureOption{{CaptureMode: smtypes.CaptureModeInput}, {CaptureMode: smtypes.CaptureModeOutput}}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.CreateEndpoint(ctx, &sagemaker.CreateEndpointInput{EndpointName: &endpoint, EndpointConfigName: &name}); err != nil {
		t.Fatal(err)
	}
	return sm, d
}

func weightsOf(vs []smtypes.ProductionVariantSummary) map[string]float32 {
	w := map[string]float32{}
	for _, v := range vs {
		w[aws.ToString(v.VariantName)] = aws.ToFloat32(v.CurrentWeight)
	}
	return w
}

// A canary on moto: the staged config's two production variants and their
// weights as moto stores and reports them, each step's weights set through
// moto's UpdateEndpointWeightsAndCapacities, then the challenger alone.
func TestStageCanaryOnMoto(t *testing.T) {
	sm, d := motoEndpoint(t, "churn-canary")
	ctx := context.Background()
	if err := d.Stage(ctx, "churn-canary", 3, 4, "s3://models/churn-canary/v3/model.tar.gz", "s3://models/churn-canary/v4/model.tar.gz", StageCanary, 10, nil); err != nil {
		t.Fatal(err)
	}
	cfg, err := sm.DescribeEndpointConfig(ctx, &sagemaker.DescribeEndpointConfigInput{EndpointConfigName: aws.String("vigil-churn-canary-v3-canary-v4")})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.ProductionVariants) != 2 || aws.ToString(cfg.ProductionVariants[0].VariantName) != "v3" || aws.ToString(cfg.ProductionVariants[1].ModelName) != "vigil-churn-canary-v4" ||
		aws.ToFloat32(cfg.ProductionVariants[0].InitialVariantWeight) != 90 || aws.ToFloat32(cfg.ProductionVariants[1].InitialVariantWeight) != 10 {
		t.Errorf("canary config on moto: %+v", cfg.ProductionVariants)
	}
	if cfg.DataCaptureConfig == nil || aws.ToString(cfg.DataCaptureConfig.DestinationS3Uri) != "s3://capture/churn-canary" {
		t.Errorf("data capture of the canary config = %+v; want the previous config's", cfg.DataCaptureConfig)
	}
	model, err := sm.DescribeModel(ctx, &sagemaker.DescribeModelInput{ModelName: aws.String("vigil-churn-canary-v4")})
	if err != nil || aws.ToString(model.PrimaryContainer.ModelDataUrl) != "s3://models/churn-canary/v4/model.tar.gz" {
		t.Errorf("the challenger's model on moto: %+v, %v", model, err)
	}
	ep := describe(t, sm, "churn-canary")
	if aws.ToString(ep.EndpointConfigName) != "vigil-churn-canary-v3-canary-v4" || weightsOf(ep.ProductionVariants)["v4"] != 10 || weightsOf(ep.ProductionVariants)["v3"] != 90 {
		t.Fatalf("endpoint on moto: config %s, weights %v", aws.ToString(ep.EndpointConfigName), weightsOf(ep.ProductionVariants))
	}

	for _, step := range []int{50, 50} { // the second: a retried activity
		if err := d.Stage(ctx, "churn-canary", 3, 4, "s3://models/churn-canary/v3/model.tar.gz", "s3://models/churn-canary/v4/model.tar.gz", StageCanary, step, nil); err != nil {
			t.Fatal(err)
		}
	}
	if updates, weights := sm.counts(); updates != 1 || weights != 1 {
		t.Errorf("UpdateEndpoint %d, UpdateEndpointWeightsAndCapacities %d; want 1 and 1", updates, weights)
	}
	if w := weightsOf(describe(t, sm, "churn-canary").ProductionVariants); w["v3"] != 50 || w["v4"] != 50 {
		t.Errorf("weights on moto after the 50%% step: %v", w)
	}

	if err := d.Stage(ctx, "churn-canary", 3, 4, "", "s3://models/churn-canary/v4/model.tar.gz", StageCanary, 100, nil); err != nil {
		t.Fatal(err)
	}
	ep = describe(t, sm, "churn-canary")
	if aws.ToString(ep.EndpointConfigName) != "vigil-churn-canary-v4" || len(ep.ProductionVariants) != 1 || aws.ToString(ep.ProductionVariants[0].VariantName) != "AllTraffic" {
		t.Errorf("after 100%%: config %s, variants %v", aws.ToString(ep.EndpointConfigName), weightsOf(ep.ProductionVariants))
	}
	if cfg, err := sm.DescribeEndpointConfig(ctx, &sagemaker.DescribeEndpointConfigInput{EndpointConfigName: aws.String("vigil-churn-canary-v4")}); err != nil ||
		cfg.DataCaptureConfig == nil || aws.ToString(cfg.DataCaptureConfig.DestinationS3Uri) != "s3://capture/churn-canary" {
		t.Errorf("the promoted config's data capture: %+v, %v", cfg, err)
	}
}

// Shadow on moto: what moto implements of it. moto 5.2.1 accepts
// ShadowProductionVariants and drops it, so only the production side is
// checked here; the shadow variant's request and DescribeEndpoint's shadow
// variants are checked against the fake (TestStageShadowDeploysTheChallengerAsAShadowVariant).
func TestStageShadowOnMoto(t *testing.T) {
	sm, d := motoEndpoint(t, "churn-shadow")
	ctx := context.Background()
	if err := d.Stage(ctx, "churn-shadow", 3, 4, "s3://models/churn-shadow/v3/model.tar.gz", "s3://models/churn-shadow/v4/model.tar.gz", StageShadow, 0, nil); err != nil {
		t.Fatal(err)
	}
	ep := describe(t, sm, "churn-shadow")
	if aws.ToString(ep.EndpointConfigName) != "vigil-churn-shadow-v3-shadow-v4" || len(ep.ProductionVariants) != 1 || aws.ToString(ep.ProductionVariants[0].VariantName) != "v3" {
		t.Errorf("endpoint on moto: config %s, production variants %v", aws.ToString(ep.EndpointConfigName), weightsOf(ep.ProductionVariants))
	}
	// Undone: the champion alone again, on its own config.
	if err := d.Stage(ctx, "churn-shadow", 3, 4, "s3://models/churn-shadow/v3/model.tar.gz", "", "direct", 0, nil); err != nil {
		t.Fatal(err)
	}
	if ep := describe(t, sm, "churn-shadow"); aws.ToString(ep.EndpointConfigName) != "vigil-churn-shadow-v3" {
		t.Errorf("after undoing the shadow: endpoint on %s", aws.ToString(ep.EndpointConfigName))
	}
}

func describe(t *testing.T, sm *motoSageMaker, endpoint string) *sagemaker.DescribeEndpointOutput {
	t.Helper()
	out, err := sm.DescribeEndpoint(context.Background(), &sagemaker.DescribeEndpointInput{EndpointName: &endpoint})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
