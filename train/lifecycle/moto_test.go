package lifecycle

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	smtypes "github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/internal/motoserver"
	"github.com/vigilml/vigil/store"
	"github.com/vigilml/vigil/train"
	"github.com/vigilml/vigil/train/demo"
	"github.com/vigilml/vigil/train/registry"
)

// heldSageMaker is moto's SageMaker with what moto 5.2.1 lacks, for the
// faults these tests inject: moto completes a training job at once, so
// while running is set DescribeTrainingJob reports it in progress (the
// container is "still training"); moto has no StopTrainingJob, so stops are
// counted; moto has no UpdateEndpoint, so it is emulated by deleting and
// re-creating the endpoint on the new config (moto's endpoints are in
// service at once).
type heldSageMaker struct {
	*sagemaker.Client
	mu                       sync.Mutex
	running                  bool
	describes, stops, update int
}

func (h *heldSageMaker) DescribeTrainingJob(ctx context.Context, in *sagemaker.DescribeTrainingJobInput, opts ...func(*sagemaker.Options)) (*sagemaker.DescribeTrainingJobOutput, error) {
	out, err := h.Client.DescribeTrainingJob(ctx, in, opts...)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.describes++
	if err == nil && h.running {
		out.TrainingJobStatus, out.SecondaryStatus = smtypes.TrainingJobStatusInProgress, smtypes.SecondaryStatusTraining
	}
	return out, err
}

func (h *heldSageMaker) StopTrainingJob(context.Context, *sagemaker.StopTrainingJobInput, ...func(*sagemaker.Options)) (*sagemaker.StopTrainingJobOutput, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stops++
	return &sagemaker.StopTrainingJobOutput{}, nil
}

func (h *heldSageMaker) UpdateEndpoint(ctx context.Context, in *sagemaker.UpdateEndpointInput, opts ...func(*sagemaker.Options)) (*sagemaker.UpdateEndpointOutput, error) {
	h.mu.Lock()
	h.update++
	h.mu.Unlock()
	if _, err := h.Client.DeleteEndpoint(ctx, &sagemaker.DeleteEndpointInput{EndpointName: in.EndpointName}); err != nil {
		return nil, err
	}
	out, err := h.Client.CreateEndpoint(ctx, &sagemaker.CreateEndpointInput{EndpointName: in.EndpointName, EndpointConfigName: in.EndpointConfigName})
	if err != nil {
		return nil, err
	}
	return &sagemaker.UpdateEndpointOutput{EndpointArn: out.EndpointArn}, nil
}

func (h *heldSageMaker) count() (describes, stops, updates int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.describes, h.stops, h.update
}

func (h *heldSageMaker) hold(on bool) { h.mu.Lock(); h.running = on; h.mu.Unlock() }

type motoFixture struct {
	*fixture
	moto   *motoserver.Server
	sm     *heldSageMaker
	s3     *s3.Client
	bucket string
}

// newMotoFixture is the demo model with its registry and run outputs in
// moto's S3 and a SageMaker trainer and endpoint on moto's SageMaker.
// Predictions and labels stay on the local disk.
func newMotoFixture(t *testing.T, bucket string) *motoFixture {
	t.Helper()
	ctx := context.Background()
	srv := motoserver.Start(t)
	motoserver.Env(t)
	dir := t.TempDir()
	yaml := fmt.Sprintf(`
storage:
  reports: file://%[1]s/reports
  registry: s3://%[2]s/registry
  s3: {endpoint: %[3]q, path_style: true, region: us-east-1}
models:
  - name: demo
    task: binary
    schedule: {every: 1h}
    columns: {target: label, prediction: prediction, score: score, latency: latency_ms}
    source: {uri: "file://%[1]s/predictions", format: jsonl}
    ground_truth: {uri: "file://%[1]s/ground-truth", format: jsonl}
    reference: {uri: "file://%[1]s/reference.csv"}
    retrain:
      trainer: sagemaker
      train_window: 4h
      validation_window: 2h
      min_improvement: 0.05
      output: s3://%[2]s/runs
      sagemaker:
        region: us-east-1
        endpoint: %[3]q
        role_arn: arn:aws:iam::123456789012:role/vigil-training
        image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/churn-train:1
        poll_interval: 1s
        deploy: {endpoint: demo-prod}
`, dir, bucket, srv.URL)
	cfg, err := config.Parse("test.yaml", []byte(yaml), config.Options{SkipEnv: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Models[0].Retrain.SageMaker.PollInterval = config.Duration(20 * time.Millisecond) // config's minimum is 1s
	st := store.New(cfg.Storage, store.WithClock(func() time.Time { return driftAt.Add(24 * time.Hour) }))
	s3c, err := st.S3Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	blobs, err := st.Blobs(ctx, cfg.Storage.Registry)
	if err != nil {
		t.Fatal(err)
	}
	reg := registry.New(blobs)
	g := demo.NewGenerator(demo.GeneratorConfig{Seed: 11, DriftAt: driftAt})
	v, err := demo.Bootstrap(ctx, reg, "demo", filepath.Join(dir, "runs"), filepath.Join(dir, "reference.csv"), g, driftAt.Add(-time.Hour), 2000)
	if err != nil {
		t.Fatal(err)
	}
	v1, err := demo.LoadURI(v.ArtifactURI)
	if err != nil {
		t.Fatal(err)
	}
	sm := &heldSageMaker{Client: sagemaker.NewFromConfig(srv.Config(), func(o *sagemaker.Options) { o.BaseEndpoint = aws.String(srv.URL) })}
	// Deliberately no WithS3Lister: the lifecycle must hash s3:// data
	// through the store's client by default, as the worker builds it.
	ops := New(func() *config.Config { return cfg }, st, reg, train.Deps{Getenv: func(string) string { return "" }, SageMaker: sm}, nil)
	f := &fixture{dir: dir, cfg: cfg, st: st, reg: reg, ops: ops, gen: g, v1: v1}
	return &motoFixture{fixture: f, moto: srv, sm: sm, s3: s3c, bucket: bucket}
}

// container does what a training container following the contract does:
// it reads the validation channel and writes validation_predictions.jsonl
// and metrics.json to /opt/ml/output/data, which SageMaker uploads as
// <S3OutputPath>/<job>/output/output.tar.gz. Its predictions are the
// labels, one in ten flipped: accuracy 0.9.
func (f *motoFixture) container(t *testing.T, output, job string) {
	t.Helper()
	ctx := context.Background()
	blobs, err := f.st.Blobs(ctx, output)
	if err != nil {
		t.Fatal(err)
	}
	val, _, err := blobs.Get(ctx, ValidationFile)
	if err != nil {
		t.Fatalf("the validation channel: %v", err)
	}
	var preds bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(val))
	for i := 0; sc.Scan(); i++ {
		var rec struct {
			EventID string `json:"event_id"`
			Label   int    `json:"label"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		p := rec.Label
		if i%10 == 0 {
			p = 1 - p
		}
		fmt.Fprintf(&preds, `{"event_id":%q,"prediction":%d,"score":%g}`+"\n", rec.EventID, p, 0.1+0.8*float64(p))
	}
	var archive bytes.Buffer
	zw := gzip.NewWriter(&archive)
	tw := tar.NewWriter(zw)
	for name, data := range map[string][]byte{"./" + ValidationPredictionsFile: preds.Bytes(), train.MetricsFile: []byte(`{"accuracy": 0.9, "epochs": 3}`)} {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	tw.Close()
	zw.Close()
	if _, err := f.st.PutObject(ctx, output+"/"+job, SageMakerOutputArchive, archive.Bytes()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.PutObject(ctx, output+"/"+job, "output/model.tar.gz", []byte("model bytes")); err != nil {
		t.Fatal(err)
	}
}

// TestSageMakerRetrainOnMoto runs a retrain's activities against moto: the
// first Train creates its job (moto, like SageMaker, answers a Describe of a
// missing job with ValidationException), a worker shutdown mid-training
// leaves the job running and the next attempt re-attaches (one job, one
// version), the container's predictions are collected from output.tar.gz
// and score the challenger, lineage hashes the s3:// data, the registry
// lives in S3, and Deploy moves moto's endpoint.
func TestSageMakerRetrainOnMoto(t *testing.T) {
	ctx := context.Background()
	f := newMotoFixture(t, "vigil-sagemaker-retrain")
	f.traffic(t, driftAt, driftAt.Add(6*time.Hour), 100)
	in := TrainRequest{Model: "demo", RunID: "run-1", Reason: "accuracy-drop",
		TrainFrom: driftAt, TrainTo: driftAt.Add(4 * time.Hour), HoldoutTo: driftAt.Add(6 * time.Hour)}
	output := train.RunOutput(f.cfg, f.cfg.Model("demo"), in.RunID)
	jobName := train.JobName("demo", in.RunID, 63)

	// Attempt 1: the worker shuts down while the job trains.
	f.sm.hold(true)
	actx, shutdown := context.WithCancelCause(ctx)
	errc := make(chan error, 1)
	go func() { _, err := f.ops.Train(actx, in, nil); errc <- err }()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if d, _, _ := f.sm.count(); d >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the training job was never polled")
		}
	}
	shutdown(train.ErrShutdown) // what the Train activity makes of the SDK stopping the worker
	err := <-errc
	if !errors.Is(err, train.ErrDetached) || f.ops.IsPermanent(err) {
		t.Fatalf("Train on shutdown = %v, want a retryable error wrapping train.ErrDetached", err)
	}
	if _, stops, _ := f.sm.count(); stops != 0 {
		t.Fatalf("StopTrainingJob called %d times on a worker shutdown; the job must keep running", stops)
	}

	// The container finishes its work; attempt 2 re-attaches.
	f.container(t, output, jobName)
	f.sm.hold(false)
	var progress []string
	res, err := f.ops.Train(ctx, in, func(s string) { progress = append(progress, s) })
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := f.sm.ListTrainingJobs(ctx, &sagemaker.ListTrainingJobsInput{})
	if err != nil || len(jobs.TrainingJobSummaries) != 1 || aws.ToString(jobs.TrainingJobSummaries[0].TrainingJobName) != jobName {
		t.Fatalf("training jobs on moto = %+v, %v; want the one job %s", jobs, err, jobName)
	}
	if !strings.Contains(strings.Join(progress, "\n"), "re-attaching to training job "+jobName) {
		t.Errorf("attempt 2 did not re-attach: %q", progress)
	}
	if want := output + "/" + jobName + "/output/model.tar.gz"; res.ArtifactURI != want {
		t.Errorf("artifact = %s, want %s", res.ArtifactURI, want)
	}
	if res.Metrics["accuracy"] != 0.9 || res.Metrics["epochs"] != 3 {
		t.Errorf("metrics = %v, want metrics.json's accuracy and epochs", res.Metrics)
	}

	// Register twice: one version, lineage from moto's listing.
	reg, err := f.ops.Register(ctx, RegisterRequest{Model: "demo", RunID: in.RunID, Reason: in.Reason, Trained: *res})
	if err != nil {
		t.Fatalf("Register of an s3:// run: %v", err)
	}
	again, err := f.ops.Register(ctx, RegisterRequest{Model: "demo", RunID: in.RunID, Reason: in.Reason, Trained: *res})
	if err != nil || again != reg || reg != "v2" {
		t.Fatalf("Register = %s then %+v, %v; want v2 twice", reg, again, err)
	}
	v, err := f.reg.Get(ctx, "demo", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Data) != 2 || !strings.HasPrefix(v.Data[0].SHA256, "s3-listing:") || v.Data[0].URI != output+"/"+TrainFile {
		t.Errorf("lineage = %+v, want s3-listing hashes of the exported data", v.Data)
	}
	if m, _ := f.reg.Model(ctx, "demo"); len(m.Versions) != 2 {
		t.Errorf("registry has %d versions, want 2", len(m.Versions))
	}

	// Validate: the challenger is scored on the container's predictions.
	val, err := f.ops.Validate(ctx, ValidateRequest{Model: "demo", Champion: "v1", Challenger: "v2", RunID: in.RunID,
		HoldoutFrom: in.TrainTo, HoldoutTo: in.HoldoutTo})
	if err != nil {
		t.Fatal(err)
	}
	if !val.HasChampion || val.Rows != 180 || val.Challenger < 0.89 || val.Challenger > 0.91 || val.Champion > 0.8 {
		t.Errorf("Validate = %+v; want the challenger at 0.9 on 180 rows against the drifted champion", val)
	}
	rep, _, err := mustBlobs(t, f.st, output).Get(ctx, ValidationReportFile)
	if err != nil || !strings.Contains(string(rep), `"challenger_source": "`+SourcePredictions+`"`) {
		t.Errorf("validation report: %v\n%s", err, rep)
	}

	// Deploy: v1 serves on moto's endpoint; v2 replaces it.
	for _, name := range []string{"vigil-demo-v1"} {
		if _, err := f.sm.CreateModel(ctx, &sagemaker.CreateModelInput{ModelName: aws.String(name), ExecutionRoleArn: aws.String("arn:aws:iam::123456789012:role/x"),
			PrimaryContainer: &smtypes.ContainerDefinition{Image: aws.String("infer:1"), ModelDataUrl: aws.String("s3://x/v1.tar.gz")}}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.sm.CreateEndpointConfig(ctx, &sagemaker.CreateEndpointConfigInput{EndpointConfigName: aws.String(name),
			ProductionVariants: []smtypes.ProductionVariant{{VariantName: aws.String("AllTraffic"), ModelName: aws.String(name),
				InstanceType: smtypes.ProductionVariantInstanceTypeMlM5Large, InitialInstanceCount: aws.Int32(1)}}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.sm.CreateEndpoint(ctx, &sagemaker.CreateEndpointInput{EndpointName: aws.String("demo-prod"), EndpointConfigName: aws.String("vigil-demo-v1")}); err != nil {
		t.Fatal(err)
	}
	dep, err := f.ops.Deploy(ctx, "demo", "v2")
	if err != nil || dep != "sagemaker:demo-prod" {
		t.Fatalf("Deploy = %+v, %v", dep, err)
	}
	ep, err := f.sm.DescribeEndpoint(ctx, &sagemaker.DescribeEndpointInput{EndpointName: aws.String("demo-prod")})
	if err != nil || aws.ToString(ep.EndpointConfigName) != "vigil-demo-v2" || ep.EndpointStatus != smtypes.EndpointStatusInService {
		t.Fatalf("endpoint after Deploy = %+v, %v", ep, err)
	}
	model, err := f.sm.DescribeModel(ctx, &sagemaker.DescribeModelInput{ModelName: aws.String("vigil-demo-v2")})
	if err != nil || aws.ToString(model.PrimaryContainer.ModelDataUrl) != res.ArtifactURI {
		t.Errorf("SageMaker model of v2 = %+v, %v; want the artifact %s", model, err, res.ArtifactURI)
	}
	// A retried Deploy creates nothing twice and leaves the endpoint alone.
	if _, err := f.ops.Deploy(ctx, "demo", "v2"); err != nil {
		t.Fatal(err)
	}
	if _, _, updates := f.sm.count(); updates != 1 {
		t.Errorf("UpdateEndpoint called %d times, want 1", updates)
	}
}

// TestSageMakerCancellationStopsTheJobOnMoto: a real cancellation (the
// retrain was cancelled, not the worker stopped) still stops the job.
func TestSageMakerCancellationStopsTheJobOnMoto(t *testing.T) {
	ctx := context.Background()
	f := newMotoFixture(t, "vigil-sagemaker-cancel")
	f.traffic(t, driftAt, driftAt.Add(6*time.Hour), 100)
	in := TrainRequest{Model: "demo", RunID: "run-cancel",
		TrainFrom: driftAt, TrainTo: driftAt.Add(4 * time.Hour), HoldoutTo: driftAt.Add(6 * time.Hour)}
	f.sm.hold(true)
	actx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { _, err := f.ops.Train(actx, in, nil); errc <- err }()
	for d, _, _ := f.sm.count(); d < 3; d, _, _ = f.sm.count() {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-errc; !errors.Is(err, train.ErrStopped) || errors.Is(err, train.ErrDetached) {
		t.Fatalf("Train on cancellation = %v, want train.ErrStopped", err)
	}
	if _, stops, _ := f.sm.count(); stops != 1 {
		t.Errorf("StopTrainingJob called %d times, want 1", stops)
	}
}

func mustBlobs(t *testing.T, st *store.Store, root string) store.Blobs {
	t.Helper()
	b, err := st.Blobs(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Stage on a SageMaker endpoint (moto): the shadow alias and the staged
// endpoint config (the deployer's, found through lifecycle.Stager), then
// unstaged: no alias and the champion alone on the endpoint again.
func TestStageRolloutOnMoto(t *testing.T) {
	ctx := context.Background()
	f := newMotoFixture(t, "vigil-stage-rollout")
	if _, err := f.reg.Register(ctx, "demo", registry.Version{RunID: "run-2", ArtifactURI: "s3://vigil-stage-rollout/runs/v2/model.tar.gz"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.sm.CreateModel(ctx, &sagemaker.CreateModelInput{ModelName: aws.String("vigil-demo-v1"), ExecutionRoleArn: aws.String("arn:aws:iam::123456789012:role/x"),
		PrimaryContainer: &smtypes.ContainerDefinition{Image: aws.String("infer:1"), ModelDataUrl: aws.String("s3://x/v1.tar.gz")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.sm.CreateEndpointConfig(ctx, &sagemaker.CreateEndpointConfigInput{EndpointConfigName: aws.String("vigil-demo-v1"),
		ProductionVariants: []smtypes.ProductionVariant{{VariantName: aws.String("AllTraffic"), ModelName: aws.String("vigil-demo-v1"),
			InstanceType: smtypes.ProductionVariantInstanceTypeMlM5Large, InitialInstanceCount: aws.Int32(1)}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.sm.CreateEndpoint(ctx, &sagemaker.CreateEndpointInput{EndpointName: aws.String("demo-prod"), EndpointConfigName: aws.String("vigil-demo-v1")}); err != nil {
		t.Fatal(err)
	}
	endpoint := func() string {
		ep, err := f.sm.DescribeEndpoint(ctx, &sagemaker.DescribeEndpointInput{EndpointName: aws.String("demo-prod")})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(ep.EndpointConfigName)
	}
	target, err := f.ops.Stage(ctx, StageRequest{Model: "demo", Mode: "shadow", Champion: "v1", Challenger: "v2"})
	if err != nil || target != "sagemaker:demo-prod" {
		t.Fatalf("Stage = %q, %v", target, err)
	}
	// moto 5.2.1 drops ShadowProductionVariants (train's fake checks them):
	// the staged config and its production side are what can be checked.
	staged := endpoint()
	cfg, err := f.sm.DescribeEndpointConfig(ctx, &sagemaker.DescribeEndpointConfigInput{EndpointConfigName: aws.String(staged)})
	if err != nil || staged != "vigil-demo-v1-shadow-v2" || len(cfg.ProductionVariants) != 1 || aws.ToString(cfg.ProductionVariants[0].VariantName) != "v1" {
		t.Fatalf("endpoint on %s, production variants %+v (%v); want vigil-demo-v1-shadow-v2 with v1 serving", staged, cfg, err)
	}
	if m, _ := f.reg.Model(ctx, "demo"); m.Aliases[registry.AliasShadow] != 2 {
		t.Errorf("aliases = %v, want shadow → v2", m.Aliases)
	}
	if _, err := f.ops.Stage(ctx, StageRequest{Model: "demo", Champion: "v1", Challenger: "v2"}); err != nil {
		t.Fatal(err)
	}
	if got := endpoint(); got != "vigil-demo-v1" {
		t.Errorf("endpoint config after unstaging = %s, want vigil-demo-v1", got)
	}
	if m, _ := f.reg.Model(ctx, "demo"); m.Aliases[registry.AliasShadow] != 0 {
		t.Errorf("aliases after unstaging = %v", m.Aliases)
	}
}
