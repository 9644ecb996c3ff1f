package train

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigilml/vigil/config"
)

// These tests run Stage against the hand-written fakeSageMaker, for what
// moto 5.2.1 does not implement (stage_moto_test.go covers the rest on
// moto): ShadowProductionVariants (moto accepts the field and drops it),
// DescribeEndpoint's ShadowProductionVariants, UpdateEndpoint, and an
// endpoint that stays Updating across polls. The fake checks request shapes
// as the SageMaker API reference specifies them (checkEndpointConfig,
// UpdateEndpointWeightsAndCapacities).

func newStageDeployer(t *testing.T) (*fakeSageMaker, *SageMakerDeployer) {
	f, client := newFakeSageMaker(t)
	f.models["vigil-churn-v3"], f.configs["vigil-churn-v3"] = true, true
	f.configBody["vigil-churn-v3"] = map[string]any{
		"EndpointConfigName": "vigil-churn-v3",
		"ProductionVariants": []any{map[string]any{"VariantName": "AllTraffic", "ModelName": "vigil-churn-v3"}},
		"DataCaptureConfig": map[string]any{"EnableCapture": true, "InitialSamplingPercentage": 100.0, "DestinationS3Uri": "s3://capture/churn",
			"CaptureOptions": []any{map[string]any{"CaptureMode": "Input"}, map[string]any{"CaptureMode": "Output"}}},
	}
	f.endpoint.config, f.endpoint.variants = "vigil-churn-v3", []fakeVariant{{name: "AllTraffic", current: 1, desired: 1}}
	return f, &SageMakerDeployer{Client: client, Endpoint: "churn-prod", Image: "infer:1", RoleARN: "arn:role", PollInterval: time.Millisecond}
}

func variantNames(l any) []string {
	var names []string
	for _, v := range l.([]any) {
		names = append(names, v.(map[string]any)["VariantName"].(string))
	}
	return names
}

// Shadow: one endpoint config with the champion as its production variant
// and the challenger as its shadow variant, named v<version>, keeping the
// data capture of the config before.
func TestStageShadowDeploysTheChallengerAsAShadowVariant(t *testing.T) {
	f, d := newStageDeployer(t)
	if err := d.Stage(context.Background(), "churn", 3, 4, "s3://m/v3.tar.gz", "s3://m/v4.tar.gz", StageShadow, 0, nil); err != nil {
		t.Fatal(err)
	}
	const name = "vigil-churn-v3-shadow-v4"
	if f.endpoint.config != name || f.endpoint.status != "InService" {
		t.Fatalf("endpoint %+v; want in service on %s", f.endpoint, name)
	}
	req := f.requests["CreateEndpointConfig"][0]
	prod, shadow := req["ProductionVariants"].([]any), req["ShadowProductionVariants"].([]any)
	if got := variantNames(prod); len(got) != 1 || got[0] != "v3" || prod[0].(map[string]any)["ModelName"] != "vigil-churn-v3" {
		t.Errorf("production variants %v", prod)
	}
	if got := variantNames(shadow); len(got) != 1 || got[0] != "v4" || shadow[0].(map[string]any)["ModelName"] != "vigil-churn-v4" {
		t.Errorf("shadow variants %v", shadow)
	}
	if dc, _ := req["DataCaptureConfig"].(map[string]any); dc["DestinationS3Uri"] != "s3://capture/churn" || dc["EnableCapture"] != true {
		t.Errorf("data capture %v; want the previous config's", req["DataCaptureConfig"])
	}
	if len(f.endpoint.shadows) != 1 || f.endpoint.shadows[0].name != "v4" {
		t.Errorf("DescribeEndpoint's shadow variants %+v", f.endpoint.shadows)
	}
	// The same call again (a retried activity) creates and updates nothing.
	if err := d.Stage(context.Background(), "churn", 3, 4, "s3://m/v3.tar.gz", "s3://m/v4.tar.gz", StageShadow, 0, nil); err != nil {
		t.Fatal(err)
	}
	if f.count("CreateEndpointConfig") != 1 || f.count("UpdateEndpoint") != 1 || f.count("CreateModel") != 1 {
		t.Errorf("after a retry: CreateEndpointConfig %d, UpdateEndpoint %d, CreateModel %d; want 1, 1, 1",
			f.count("CreateEndpointConfig"), f.count("UpdateEndpoint"), f.count("CreateModel"))
	}
}

// A Stage retried while its UpdateEndpoint is still under way (the first
// attempt's worker was killed) waits for it instead of calling
// UpdateEndpoint again, which SageMaker would refuse.
func TestStageReattachesToItsUpdateInProgress(t *testing.T) {
	f, d := newStageDeployer(t)
	ctx := context.Background()
	if err := d.Stage(ctx, "churn", 3, 4, "a3", "a4", StageShadow, 0, nil); err != nil {
		t.Fatal(err)
	}
	f.endpoint.status, f.endpoint.pending = "Updating", 4 // the update is "still running"
	var progress lines
	if err := d.Stage(ctx, "churn", 3, 4, "a3", "a4", StageShadow, 0, progress.add); err != nil {
		t.Fatal(err)
	}
	if n := f.count("UpdateEndpoint"); n != 1 || f.endpoint.status != "InService" {
		t.Errorf("UpdateEndpoint called %d times, endpoint %+v; want the one update, waited for", n, f.endpoint)
	}
	if !strings.Contains(progress.all(), "re-attaching") {
		t.Errorf("progress = %s", progress.all())
	}
}

// Canary: two production variants weighted 100-p and p; a later step with
// both variants serving moves only the weights
// (UpdateEndpointWeightsAndCapacities, no redeployment); a step retried
// while its weight update runs waits for it.
func TestStageCanaryStepsMoveWeightsNotConfigs(t *testing.T) {
	f, d := newStageDeployer(t)
	ctx := context.Background()
	if err := d.Stage(ctx, "churn", 3, 4, "a3", "a4", StageCanary, 10, nil); err != nil {
		t.Fatal(err)
	}
	const name = "vigil-churn-v3-canary-v4"
	prod := f.requests["CreateEndpointConfig"][0]["ProductionVariants"].([]any)
	if got := variantNames(prod); len(got) != 2 || got[0] != "v3" || got[1] != "v4" ||
		prod[0].(map[string]any)["InitialVariantWeight"] != 90.0 || prod[1].(map[string]any)["InitialVariantWeight"] != 10.0 {
		t.Fatalf("canary variants %v; want v3 at 90 and v4 at 10", prod)
	}
	if f.endpoint.config != name || f.count("UpdateEndpointWeightsAndCapacities") != 0 {
		t.Fatalf("endpoint on %s, %d weight updates; want %s and none", f.endpoint.config, f.count("UpdateEndpointWeightsAndCapacities"), name)
	}

	if err := d.Stage(ctx, "churn", 3, 4, "a3", "a4", StageCanary, 50, nil); err != nil {
		t.Fatal(err)
	}
	if f.count("UpdateEndpoint") != 1 || f.count("UpdateEndpointWeightsAndCapacities") != 1 || f.count("CreateEndpointConfig") != 1 {
		t.Fatalf("step to 50%%: UpdateEndpoint %d, weight updates %d, configs %d; want 1, 1, 1",
			f.count("UpdateEndpoint"), f.count("UpdateEndpointWeightsAndCapacities"), f.count("CreateEndpointConfig"))
	}
	w := f.requests["UpdateEndpointWeightsAndCapacities"][0]["DesiredWeightsAndCapacities"].([]any)
	if w[0].(map[string]any)["VariantName"] != "v3" || w[0].(map[string]any)["DesiredWeight"] != 50.0 || w[1].(map[string]any)["DesiredWeight"] != 50.0 {
		t.Errorf("weights request %v", w)
	}

	// The 80% step's weight update is under way when the activity is retried.
	if err := d.Stage(ctx, "churn", 3, 4, "a3", "a4", StageCanary, 80, nil); err != nil {
		t.Fatal(err)
	}
	f.endpoint.status, f.endpoint.pending = "Updating", 3
	f.endpoint.variants[0].current, f.endpoint.variants[1].current = 50, 50
	if err := d.Stage(ctx, "churn", 3, 4, "a3", "a4", StageCanary, 80, nil); err != nil {
		t.Fatal(err)
	}
	if n := f.count("UpdateEndpointWeightsAndCapacities"); n != 2 || f.endpoint.status != "InService" || f.endpoint.variants[1].current != 80 {
		t.Errorf("%d weight updates, endpoint %+v; want 2 and v4 at 80", n, f.endpoint)
	}
}

// Percent 100 deploys the challenger alone, as Deploy does; a rollout
// undone (mode direct, or canary at 0%) deploys the champion alone.
func TestStageEndsOnOneVersion(t *testing.T) {
	cases := []struct {
		mode    string
		percent int
		want    string
	}{
		{StageCanary, 100, "vigil-churn-v4"},
		{StageShadow, 100, "vigil-churn-v4"},
		{StageCanary, 0, "vigil-churn-v3"},
		{"direct", 0, "vigil-churn-v3"},
		{"", 0, "vigil-churn-v3"},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s at %d%%", cmp.Or(tc.mode, "no mode"), tc.percent), func(t *testing.T) {
			f, d := newStageDeployer(t)
			if err := d.Stage(context.Background(), "churn", 3, 4, "a3", "a4", StageCanary, 30, nil); err != nil {
				t.Fatal(err)
			}
			if err := d.Stage(context.Background(), "churn", 3, 4, "a3", "a4", tc.mode, tc.percent, nil); err != nil {
				t.Fatal(err)
			}
			if f.endpoint.config != tc.want || f.endpoint.status != "InService" || len(f.endpoint.variants) != 1 {
				t.Errorf("endpoint %+v; want in service on %s alone", f.endpoint, tc.want)
			}
		})
	}
}

func TestStageRefusesWhatCannotBeStaged(t *testing.T) {
	_, d := newStageDeployer(t)
	for _, tc := range []struct {
		champion, challenger, percent int
		mode, want                    string
	}{
		{3, 4, -5, StageCanary, "percent -5 is negative"},
		{3, 3, 10, StageCanary, "both version 3"},
	} {
		err := d.Stage(context.Background(), "churn", tc.champion, tc.challenger, "a", "b", tc.mode, tc.percent, nil)
		var perm *PermanentError
		if !errors.As(err, &perm) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Stage(%+v) = %v; want a PermanentError saying %q", tc, err, tc.want)
		}
	}
}

// StagedSource maps a staged endpoint's variant folders to versions for the
// capture reader, keeping the user's own entries.
func TestStagedSourceMapsVariantsToVersions(t *testing.T) {
	src := config.Source{URI: "s3://capture/churn-prod", Format: "sagemaker", Variants: map[string]string{"AllTraffic": "3"}}
	shadow := StagedSource(src, StageShadow, 3, 4)
	if shadow.Variants["v3"] != "3" || shadow.Variants["v4"] != "4" || shadow.Variants["AllTraffic"] != "3" || shadow.ShadowVariant != "v4" {
		t.Errorf("shadow: %+v", shadow)
	}
	canary := StagedSource(src, StageCanary, 3, 4)
	if canary.ShadowVariant != "" || canary.Variants["v4"] != "4" {
		t.Errorf("canary: %+v", canary)
	}
	if len(src.Variants) != 1 {
		t.Errorf("StagedSource modified its argument: %+v", src.Variants)
	}
}

// A model SageMaker refuses (ValidationException: say, model data it cannot
// read) is a permanent error, not endless retries, and nothing is deployed.
func TestStageRefusedModelIsPermanent(t *testing.T) {
	f, d := newStageDeployer(t)
	f.fail = "CreateModel"
	err := d.Stage(context.Background(), "churn", 3, 4, "s3://m/v3.tar.gz", "s3://m/v4.tar.gz", StageCanary, 10, nil)
	var perm *PermanentError
	if !errors.As(err, &perm) || !strings.Contains(err.Error(), "CreateModel rejected the model") {
		t.Errorf("Stage = %v; want a PermanentError from CreateModel", err)
	}
	if f.count("CreateEndpointConfig") != 0 || f.count("UpdateEndpoint") != 0 {
		t.Errorf("CreateEndpointConfig %d, UpdateEndpoint %d; want neither", f.count("CreateEndpointConfig"), f.count("UpdateEndpoint"))
	}
}
