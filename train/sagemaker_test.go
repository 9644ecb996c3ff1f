package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
)

// fakeSageMaker speaks enough of the SageMaker JSON API (awsJson1_1,
// X-Amz-Target: SageMaker.<Operation>) for the trainer and the deployer.
type fakeSageMaker struct {
	t  *testing.T
	mu sync.Mutex
	// calls counts operations by name.
	calls map[string]int
	// requests keeps the decoded body of every call, by operation.
	requests map[string][]map[string]any
	jobs     map[string]*fakeJob
	models   map[string]bool
	configs  map[string]bool
	// configBody keeps each created endpoint config's request, which
	// DescribeEndpointConfig answers and UpdateEndpoint deploys.
	configBody map[string]map[string]any
	endpoint   struct {
		config  string
		pending int // DescribeEndpoint calls left in Updating
		status  string
		// variants and shadows are the endpoint's production and shadow
		// variants: name → {current, desired} weight.
		variants, shadows []fakeVariant
	}
	// script is the sequence of states a new job goes through, one per Describe.
	script []string
	// fail names an operation that answers with an error.
	fail string
}

type fakeVariant struct {
	name             string
	current, desired float64
}

type fakeJob struct {
	states []string
	i      int
}

func newFakeSageMaker(t *testing.T) (*fakeSageMaker, *sagemaker.Client) {
	f := &fakeSageMaker{t: t, calls: map[string]int{}, requests: map[string][]map[string]any{},
		jobs: map[string]*fakeJob{}, models: map[string]bool{}, configs: map[string]bool{}, configBody: map[string]map[string]any{},
		script: []string{"InProgress/Starting", "InProgress/Training", "InProgress/Uploading", "Completed/Completed"}}
	f.endpoint.config, f.endpoint.status = "vigil-churn-v1", "InService"
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	client := sagemaker.NewFromConfig(aws.Config{
		Region:           "eu-west-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDTEST", "SECRET", ""),
		RetryMaxAttempts: 1,
	}, func(o *sagemaker.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	return f, client
}

func (f *fakeSageMaker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "SageMaker.")
	if !ok || r.Header.Get("Content-Type") != "application/x-amz-json-1.1" || !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=AKIDTEST/") {
		f.t.Errorf("bad request: target %q content-type %q auth %q", target, r.Header.Get("Content-Type"), r.Header.Get("Authorization"))
		http.Error(w, "bad", http.StatusBadRequest)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var in map[string]any
	json.Unmarshal(body, &in)
	f.calls[op]++
	f.requests[op] = append(f.requests[op], in)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	fail := func(code, msg string) {
		w.Header().Set("X-Amzn-ErrorType", code)
		w.WriteHeader(400)
		json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
	}
	reply := func(v any) { json.NewEncoder(w).Encode(v) }
	str := func(k string) string { s, _ := in[k].(string); return s }

	switch op {
	case "CreateTrainingJob":
		name := str("TrainingJobName")
		if _, dup := f.jobs[name]; dup {
			fail("ResourceInUse", "Training job names must be unique within an AWS account and region")
			return
		}
		f.jobs[name] = &fakeJob{states: f.script}
		reply(map[string]string{"TrainingJobArn": "arn:aws:sagemaker:eu-west-1:1:training-job/" + name})
	case "DescribeTrainingJob":
		j := f.jobs[str("TrainingJobName")]
		if j == nil {
			// What SageMaker really answers (aws/aws-sdk#165), not the
			// ResourceNotFound its API model declares.
			fail("ValidationException", "Requested resource not found.")
			return
		}
		st, sec, _ := strings.Cut(j.states[min(j.i, len(j.states)-1)], "/")
		j.i++
		out := map[string]any{"TrainingJobName": str("TrainingJobName"), "TrainingJobStatus": st, "SecondaryStatus": sec}
		switch st {
		case "Completed":
			out["ModelArtifacts"] = map[string]string{"S3ModelArtifacts": "s3://models/churn/" + str("TrainingJobName") + "/output/model.tar.gz"}
			out["FinalMetricDataList"] = []map[string]any{{"MetricName": "validation:accuracy", "Value": 0.91}}
		case "Failed":
			out["FailureReason"] = "AlgorithmError: KeyError: 'label'"
		}
		reply(out)
	case "StopTrainingJob":
		j := f.jobs[str("TrainingJobName")]
		j.states, j.i = []string{"Stopped/Stopped"}, 0
		reply(map[string]any{})
	case "DescribeModel", "DescribeEndpointConfig":
		set, key := f.models, "ModelName"
		if op == "DescribeEndpointConfig" {
			set, key = f.configs, "EndpointConfigName"
		}
		if !set[str(key)] {
			fail("ValidationException", "Could not find "+str(key))
			return
		}
		if body := f.configBody[str(key)]; op == "DescribeEndpointConfig" && body != nil {
			reply(body)
			return
		}
		reply(map[string]any{key: str(key)})
	case "CreateModel":
		if f.fail == "CreateModel" {
			fail("ValidationException", "Could not access model data at s3://m/v4.tar.gz.")
			return
		}
		f.models[str("ModelName")] = true
		reply(map[string]string{"ModelArn": "arn:model"})
	case "CreateEndpointConfig":
		if msg := f.checkEndpointConfig(in); msg != "" {
			fail("ValidationException", msg)
			return
		}
		f.configs[str("EndpointConfigName")] = true
		f.configBody[str("EndpointConfigName")] = in
		reply(map[string]string{"EndpointConfigArn": "arn:config"})
	case "UpdateEndpoint":
		if f.fail == "UpdateEndpoint" || f.endpoint.status != "InService" {
			fail("ValidationException", "Cannot update in-progress endpoint")
			return
		}
		f.endpoint.config, f.endpoint.status, f.endpoint.pending = str("EndpointConfigName"), "Updating", 2
		f.endpoint.variants, f.endpoint.shadows = variantsOf(f.configBody[f.endpoint.config], "ProductionVariants"), variantsOf(f.configBody[f.endpoint.config], "ShadowProductionVariants")
		reply(map[string]string{"EndpointArn": "arn:endpoint"})
	case "UpdateEndpointWeightsAndCapacities":
		// As the API reference says: the endpoint must be in service, each
		// named variant one of its production variants, named once.
		if f.endpoint.status != "InService" {
			fail("ValidationException", "Cannot update in-progress endpoint")
			return
		}
		desired, _ := in["DesiredWeightsAndCapacities"].([]any)
		if len(desired) == 0 || len(desired) > 10 {
			fail("ValidationException", "DesiredWeightsAndCapacities: want 1 to 10 items")
			return
		}
		seen := map[string]bool{}
		for _, d := range desired {
			m := d.(map[string]any)
			name, _ := m["VariantName"].(string)
			i := slices.IndexFunc(f.endpoint.variants, func(v fakeVariant) bool { return v.name == name })
			if i < 0 || seen[name] {
				fail("ValidationException", fmt.Sprintf("The variant name(s) %q is/are not present within endpoint configuration %q, or named twice.", name, f.endpoint.config))
				return
			}
			seen[name] = true
			if w, ok := m["DesiredWeight"].(float64); ok {
				f.endpoint.variants[i].desired = w
			}
		}
		f.endpoint.status, f.endpoint.pending = "Updating", 2
		reply(map[string]string{"EndpointArn": "arn:endpoint"})
	case "DescribeEndpoint":
		if f.endpoint.pending > 0 {
			f.endpoint.pending--
			if f.endpoint.pending == 0 {
				f.endpoint.status = "InService"
				for i := range f.endpoint.variants {
					f.endpoint.variants[i].current = f.endpoint.variants[i].desired
				}
			}
		}
		out := map[string]any{"EndpointName": str("EndpointName"), "EndpointConfigName": f.endpoint.config, "EndpointStatus": f.endpoint.status}
		if f.endpoint.status == "Updating" && f.endpoint.pending > 0 {
			out["PendingDeploymentSummary"] = map[string]any{"EndpointConfigName": f.endpoint.config}
		}
		summaries := func(vs []fakeVariant) []map[string]any {
			var l []map[string]any
			for _, v := range vs {
				l = append(l, map[string]any{"VariantName": v.name, "CurrentWeight": v.current, "DesiredWeight": v.desired})
			}
			return l
		}
		if len(f.endpoint.variants) > 0 {
			out["ProductionVariants"] = summaries(f.endpoint.variants)
		}
		if len(f.endpoint.shadows) > 0 {
			out["ShadowProductionVariants"] = summaries(f.endpoint.shadows)
		}
		reply(out)
	default:
		fail("UnknownOperationException", op)
	}
}

// checkEndpointConfig checks a CreateEndpointConfig request as the API
// reference specifies it: 1 to 10 production variants; with
// ShadowProductionVariants exactly one production and one shadow variant;
// variant names matching ^[a-zA-Z0-9]([\-a-zA-Z0-9]*[a-zA-Z0-9])?$ (at most 63)
// and unique across both lists; every variant's model created before; a
// weight not negative. It returns the error message, "" when valid.
func (f *fakeSageMaker) checkEndpointConfig(in map[string]any) string {
	prod, _ := in["ProductionVariants"].([]any)
	shadow, hasShadow := in["ShadowProductionVariants"].([]any)
	switch {
	case len(prod) < 1 || len(prod) > 10:
		return "ProductionVariants: want 1 to 10 items"
	case hasShadow && (len(prod) != 1 || len(shadow) != 1):
		return "If you use ShadowProductionVariants, you can only specify one variant for ProductionVariants and one variant for ShadowProductionVariants."
	}
	names := map[string]bool{}
	for _, v := range append(append([]any(nil), prod...), shadow...) {
		m := v.(map[string]any)
		name, _ := m["VariantName"].(string)
		model, _ := m["ModelName"].(string)
		w, hasW := m["InitialVariantWeight"].(float64)
		switch {
		case !variantNameRE.MatchString(name) || len(name) > 63:
			return fmt.Sprintf("VariantName %q does not satisfy the pattern", name)
		case names[name]:
			return fmt.Sprintf("VariantName %q is not unique", name)
		case !f.models[model]:
			return fmt.Sprintf("Could not find model %q.", model)
		case hasW && w < 0:
			return "InitialVariantWeight must be at least 0"
		}
		names[name] = true
	}
	return ""
}

var variantNameRE = regexp.MustCompile(`^[a-zA-Z0-9]([\-a-zA-Z0-9]*[a-zA-Z0-9])?$`)

// variantsOf reads a config's variants and their initial weights (default
// 1, as the API reference says).
func variantsOf(body map[string]any, key string) []fakeVariant {
	l, _ := body[key].([]any)
	var out []fakeVariant
	for _, v := range l {
		m := v.(map[string]any)
		w := 1.0
		if x, ok := m["InitialVariantWeight"].(float64); ok {
			w = x
		}
		name, _ := m["VariantName"].(string)
		out = append(out, fakeVariant{name: name, current: w, desired: w})
	}
	return out
}

func (f *fakeSageMaker) count(op string) int { f.mu.Lock(); defer f.mu.Unlock(); return f.calls[op] }

func smJob() Job {
	return Job{Model: "churn", RunID: "retrain-churn-7", TrainData: "s3://data/churn/train/", ValidationData: "s3://data/churn/val/",
		Output: "s3://models/churn/", Hyperparameters: map[string]string{"max_depth": "6"}}
}

func newSM(c *sagemaker.Client) *SageMaker {
	return &SageMaker{Client: c, RoleARN: "arn:aws:iam::1:role/sm", Image: "img:1", PollInterval: time.Millisecond}
}

func TestSageMakerCreatesPollsAndReturnsArtifacts(t *testing.T) {
	f, client := newFakeSageMaker(t)
	var progress lines
	res, err := newSM(client).Train(context.Background(), smJob(), progress.add)
	if err != nil {
		t.Fatal(err)
	}
	name := JobName("churn", "retrain-churn-7", 63)
	if res.ArtifactURI != "s3://models/churn/"+name+"/output/model.tar.gz" || res.BackendJobID != name {
		t.Errorf("result = %+v", res)
	}
	if got := res.Metrics["validation:accuracy"]; got < 0.909 || got > 0.911 {
		t.Errorf("metrics = %v", res.Metrics)
	}
	req := f.requests["CreateTrainingJob"][0]
	if req["RoleArn"] != "arn:aws:iam::1:role/sm" || req["HyperParameters"].(map[string]any)["max_depth"] != "6" {
		t.Errorf("CreateTrainingJob request = %v", req)
	}
	chans := req["InputDataConfig"].([]any)
	if len(chans) != 2 || chans[1].(map[string]any)["ChannelName"] != "validation" {
		t.Errorf("channels = %v", chans)
	}
	if out := req["OutputDataConfig"].(map[string]any)["S3OutputPath"]; out != "s3://models/churn/" {
		t.Errorf("output = %v", out)
	}
	for _, want := range []string{"created training job", "InProgress/Training", "Completed/Completed"} {
		if !strings.Contains(progress.all(), want) {
			t.Errorf("progress lacks %q:\n%s", want, progress.all())
		}
	}
}

func TestSageMakerRetryReattachesInsteadOfStartingASecondJob(t *testing.T) {
	f, client := newFakeSageMaker(t)
	sm := newSM(client)
	if _, err := sm.Train(context.Background(), smJob(), nil); err != nil {
		t.Fatal(err)
	}
	res, err := sm.Train(context.Background(), smJob(), nil)
	if err != nil || res.ArtifactURI == "" {
		t.Fatalf("retry: %+v %v", res, err)
	}
	if n := f.count("CreateTrainingJob"); n != 1 {
		t.Errorf("CreateTrainingJob called %d times for one run id", n)
	}
}

func TestSageMakerFailedJobIsPermanentWithTheReason(t *testing.T) {
	f, client := newFakeSageMaker(t)
	f.script = []string{"InProgress/Training", "Failed/Failed"}
	_, err := newSM(client).Train(context.Background(), smJob(), nil)
	if !IsPermanent(err) || !strings.Contains(err.Error(), "KeyError: 'label'") {
		t.Fatalf("got %v", err)
	}
}

func TestSageMakerCancellationStopsTheJob(t *testing.T) {
	f, client := newFakeSageMaker(t)
	f.script = []string{"InProgress/Training"}
	ctx, cancel := context.WithCancel(context.Background())
	sm := newSM(client)
	sm.PollInterval = 10 * time.Millisecond
	go func() {
		for f.count("DescribeTrainingJob") < 3 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, err := sm.Train(ctx, smJob(), nil)
	if !errors.Is(err, ErrStopped) || !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	if f.count("StopTrainingJob") != 1 {
		t.Errorf("StopTrainingJob called %d times", f.count("StopTrainingJob"))
	}
	if f.requests["StopTrainingJob"][0]["TrainingJobName"] != JobName("churn", "retrain-churn-7", 63) {
		t.Errorf("stopped %v", f.requests["StopTrainingJob"][0])
	}
}

func TestSageMakerRejectsNonS3Data(t *testing.T) {
	_, client := newFakeSageMaker(t)
	job := smJob()
	job.TrainData = "file:///data"
	if _, err := newSM(client).Train(context.Background(), job, nil); !IsPermanent(err) {
		t.Fatalf("got %v", err)
	}
}

func TestSageMakerDeployUpdatesTheEndpointAndCanBeRestored(t *testing.T) {
	f, client := newFakeSageMaker(t)
	d := &SageMakerDeployer{Client: client, Endpoint: "churn-prod", Image: "infer:1", RoleARN: "arn:role", PollInterval: time.Millisecond}
	dep, err := d.Deploy(context.Background(), "churn", 2, "s3://models/churn/run/model.tar.gz", nil)
	if err != nil {
		t.Fatal(err)
	}
	if dep.EndpointConfig != "vigil-churn-v2" || dep.PreviousConfig != "vigil-churn-v1" || f.endpoint.config != "vigil-churn-v2" {
		t.Fatalf("deployment = %+v, endpoint on %s", dep, f.endpoint.config)
	}
	cm := f.requests["CreateModel"][0]
	if cm["PrimaryContainer"].(map[string]any)["ModelDataUrl"] != "s3://models/churn/run/model.tar.gz" || cm["ExecutionRoleArn"] != "arn:role" {
		t.Errorf("CreateModel = %v", cm)
	}
	pv := f.requests["CreateEndpointConfig"][0]["ProductionVariants"].([]any)[0].(map[string]any)
	if pv["ModelName"] != "vigil-churn-v2" || pv["InstanceType"] != "ml.m5.large" {
		t.Errorf("variant = %v", pv)
	}
	// Deploying the same version again changes nothing.
	again, err := d.Deploy(context.Background(), "churn", 2, "s3://models/churn/run/model.tar.gz", nil)
	if err != nil || again.PreviousConfig != "" || f.count("CreateModel") != 1 || f.count("UpdateEndpoint") != 1 {
		t.Errorf("redeploy: %+v %v; CreateModel %d UpdateEndpoint %d", again, err, f.count("CreateModel"), f.count("UpdateEndpoint"))
	}
	// Compensation puts the old config back.
	if err := d.Restore(context.Background(), dep, nil); err != nil {
		t.Fatal(err)
	}
	if f.endpoint.config != "vigil-churn-v1" || f.endpoint.status != "InService" {
		t.Errorf("after restore: %+v", f.endpoint)
	}
}

// A Deploy retried while its endpoint update is still under way (the first
// attempt timed out, or its worker stopped) waits for that update instead
// of starting another, which SageMaker would refuse; an update under way to
// another config (a compensation racing a late update) is waited for, then
// replaced.
func TestSageMakerDeployReattachesToAnUpdateInProgress(t *testing.T) {
	f, client := newFakeSageMaker(t)
	d := &SageMakerDeployer{Client: client, Endpoint: "churn-prod", Image: "infer:1", RoleARN: "arn:role", PollInterval: time.Millisecond}
	f.models["vigil-churn-v2"], f.configs["vigil-churn-v2"] = true, true
	f.endpoint.config, f.endpoint.status, f.endpoint.pending = "vigil-churn-v2", "Updating", 3
	var progress lines
	if _, err := d.Deploy(context.Background(), "churn", 2, "s3://m/v2.tar.gz", progress.add); err != nil {
		t.Fatal(err)
	}
	if n := f.count("UpdateEndpoint"); n != 0 || f.endpoint.config != "vigil-churn-v2" || f.endpoint.status != "InService" {
		t.Fatalf("UpdateEndpoint called %d times; endpoint %+v", n, f.endpoint)
	}
	if !strings.Contains(progress.all(), "re-attaching to the update") {
		t.Errorf("progress = %s", progress.all())
	}

	// Compensation: v2's update is still running when v1 is redeployed.
	f.endpoint.status, f.endpoint.pending = "Updating", 3
	if _, err := d.SetConfig(context.Background(), "vigil-churn-v1", nil); err != nil {
		t.Fatal(err)
	}
	if n := f.count("UpdateEndpoint"); n != 1 || f.endpoint.config != "vigil-churn-v1" || f.endpoint.status != "InService" {
		t.Errorf("UpdateEndpoint called %d times; endpoint %+v; want one update back to v1 after v2's finished", n, f.endpoint)
	}
}
