package activities_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.temporal.io/sdk/testsuite"

	"github.com/vigilml/vigil/activities"
	"github.com/vigilml/vigil/audit"
	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/notify"
	"github.com/vigilml/vigil/store"
	"github.com/vigilml/vigil/train/lifecycle"
	"github.com/vigilml/vigil/workflows"
)

// Secret values the config names by variable; none may reach an event.
var secrets = map[string]string{
	"SLACK_BOT_TOKEN": "xoxb-secret-slack-token",
	"PD_KEY":          "pd-secret-routing-key",
	"KAFKA_USER":      "kafka-secret-user",
	"KAFKA_PASS":      "kafka-secret-password",
}

const auditConfig = `
temporal: {namespace: prod, ui_url: "http://temporal-ui.example:8233"}
worker: {public_url: "https://vigil.example.com"}
notify:
  slack: {token_env: SLACK_BOT_TOKEN, channel: C0123}
  pagerduty: {routing_key_env: PD_KEY}
audit:
  kafka: {brokers: ["%s"], topic: vigil.audit, sasl_mechanism: plain, sasl_user_env: KAFKA_USER, sasl_password_env: KAFKA_PASS}
models:
  - name: churn
    task: binary
    columns: {target: label, prediction: prediction}
    source: {uri: "file:///data/pred"}
    ground_truth: {uri: "file:///data/gt"}
    reference: {uri: "file:///data/ref.csv"}
    rules:
      - {name: accuracy-drop, metric: performance.accuracy, below: 0.85, for: 1, recover_after: 1, severity: critical, escalate_after: 5m}
    retrain: {trainer: command, command: [train], hyperparameters: {depth: "6"}}
`

// fakeOps is the model lifecycle: v1 in production, each training run
// registers the next version.
type fakeOps struct {
	mu         sync.Mutex
	production string
	runs       map[string]string // version → training run
	trainCalls int               // the first fails: the activity is retried
}

func (f *fakeOps) Production(context.Context, string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.production, nil
}
func (f *fakeOps) Train(_ context.Context, in lifecycle.TrainRequest, _ func(string)) (*lifecycle.Trained, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.trainCalls++; f.trainCalls == 1 {
		return nil, errors.New("worker lost mid-training")
	}
	return &lifecycle.Trained{ArtifactURI: "file:///runs/" + in.RunID + "/model.pkl", Metrics: map[string]float64{"accuracy": 0.91},
		DataURIs: []string{"file:///runs/" + in.RunID + "/train.jsonl"}, Hyperparameters: map[string]string{"depth": "6"}}, nil
}
func (f *fakeOps) Register(_ context.Context, in lifecycle.RegisterRequest) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for v, run := range f.runs {
		if run == in.RunID {
			return v, nil
		}
	}
	v := fmt.Sprintf("v%d", len(f.runs)+1)
	f.runs[v] = in.RunID
	return v, nil
}
func (f *fakeOps) Validate(_ context.Context, in lifecycle.ValidateRequest) (*lifecycle.Validation, error) {
	return &lifecycle.Validation{Metric: "accuracy", Champion: 0.80, HasChampion: in.Champion != "", Challenger: 0.91,
		HigherIsBetter: true, ReportURI: "file:///runs/" + in.RunID + "/validation.json", Rows: 500}, nil
}
func (f *fakeOps) SetAlias(_ context.Context, in lifecycle.AliasMove) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	prev := f.production
	f.production = in.Version
	return prev, nil
}
func (f *fakeOps) Deploy(context.Context, string, string) (string, error) { return "", nil }
func (f *fakeOps) RecordOutcome(context.Context, lifecycle.Outcome) error { return nil }
func (f *fakeOps) IsPermanent(error) bool                                 { return false }

// The rollout methods: this test's retrains promote directly.
func (f *fakeOps) Stage(context.Context, lifecycle.StageRequest) (string, error) {
	return "", errors.New("fakeOps: no rollouts")
}
func (f *fakeOps) EvaluateRollout(context.Context, lifecycle.RolloutEvaluationRequest) (*lifecycle.RolloutEvaluation, error) {
	return nil, errors.New("fakeOps: no rollouts")
}
func (f *fakeOps) RecordRollout(context.Context, string, lifecycle.Rollout) error {
	return errors.New("fakeOps: no rollouts")
}
func (f *fakeOps) Rollback(_ context.Context, in lifecycle.RollbackRequest) (lifecycle.Move, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	mv := lifecycle.Move{From: f.production, To: in.To}
	f.production = in.To
	return mv, nil
}

// lineage is what the registry would say of a version.
func (f *fakeOps) lineage(_ context.Context, model, version string) (*audit.Lineage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	run, ok := f.runs[version]
	if !ok {
		return nil, fmt.Errorf("%s has no version %s", model, version)
	}
	return &audit.Lineage{RunID: run, CodeVersion: "git:0a1b2c3", Hyperparameters: map[string]string{"depth": "6"},
		ArtifactURI: "file:///runs/" + run + "/model.pkl",
		Data:        []audit.DataRef{{Role: "train", URI: "file:///runs/" + run + "/train.jsonl", SHA256: "sha-of-" + run}}}, nil
}

type fakeNotifier struct {
	name     string
	mu       sync.Mutex
	sent     []string
	failures int // attempts to fail first (a provider hiccup: retried)
}

func (n *fakeNotifier) Name() string { return n.name }
func (n *fakeNotifier) Notify(_ context.Context, ev notify.Event) (string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.failures > 0 {
		n.failures--
		return "", &notify.Error{Integration: n.name, Status: 503, Retryable: true, Msg: "unavailable"}
	}
	n.sent = append(n.sent, string(ev.Kind))
	return n.name + "-ref", nil
}

type noWorkflows struct{}

func (noWorkflows) SignalIncident(context.Context, activities.Evaluation) error { return nil }
func (noWorkflows) StartRetrain(context.Context, string, string, string) (bool, string, error) {
	return false, "", nil
}
func (noWorkflows) LastRetrain(context.Context, string) (string, time.Time, error) {
	return "", time.Time{}, nil
}

// setup builds the activities of a worker with audit.kafka set, its
// outbox in a temporary directory, and a publisher to brokers.
func setup(t *testing.T, brokers []string) (*activities.Activities, *audit.Publisher, *fakeOps) {
	t.Helper()
	cfg, err := config.Parse("vigil.yaml", []byte(fmt.Sprintf(auditConfig, brokers[0])), config.Options{
		Getenv: func(k string) string { return secrets[k] }})
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(cfg.Storage)
	outbox := audit.NewOutbox(st, "file://"+t.TempDir())
	ops := &fakeOps{production: "v1", runs: map[string]string{"v1": "older-run"}}
	acts := &activities.Activities{
		Config: func() *config.Config { return cfg }, Store: st, Workflows: noWorkflows{}, Models: ops,
		Notifiers: map[string]notify.Notifier{"slack": &fakeNotifier{name: "slack", failures: 1}, "pagerduty": &fakeNotifier{name: "pagerduty"}},
		Audit:     outbox, Lineage: ops.lineage,
	}
	pub := &audit.Publisher{Outbox: outbox, Kafka: *cfg.Audit.Kafka, Getenv: func(k string) string { return secrets[k] },
		DeliveryTimeout: 5 * time.Second}
	// kfake here runs without SASL: the client's SASL is tested in
	// internal/kafkaconn.
	pub.Kafka.SASLMechanism = ""
	return acts, pub, ops
}

// records reads the topic from its start until it has n records.
func records(t *testing.T, brokers []string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("vigil.audit"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n && ctx.Err() == nil {
		out = append(out, cl.PollFetches(ctx).Records()...)
	}
	if len(out) != n {
		t.Fatalf("%d records on the topic, want %d", len(out), n)
	}
	return out
}

// A retrain and an incident, run as workflows over the real activities,
// publish their audit trail: every step once — although Train and the first
// notification fail once and run again, and acks and resolutions go to two
// integrations — as valid CloudEvents keyed by the model, in the order the
// steps happened, with the lineage, actors, reasons and links the trail
// promises, and no secret.
func TestRetrainAndIncidentPublishTheirAuditTrail(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "vigil.audit"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	acts, pub, ops := setup(t, c.ListenAddrs())
	var ts testsuite.WorkflowTestSuite

	// The retrain: trains v2, validates it against v1, promotes it.
	env := ts.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(workflows.RetrainWorkflow)
	env.RegisterActivity(acts)
	env.ExecuteWorkflow(workflows.RetrainWorkflow, workflows.RetrainInput{Model: "churn", Reason: "rule accuracy-drop", Actor: "vigil"})
	var res workflows.RetrainResult
	if err := env.GetWorkflowResult(&res); err != nil || res.Outcome != workflows.OutcomePromoted {
		t.Fatalf("retrain: %+v, %v", res, err)
	}
	if ops.production != "v2" || ops.trainCalls != 2 {
		t.Fatalf("production is %s after the retrain, Train ran %d times; want v2, and twice", ops.production, ops.trainCalls)
	}

	// The incident: opened, escalated (not acknowledged within 5m),
	// acknowledged by alice, resolved when accuracy recovers. Ack and
	// resolve go to both integrations: one event each all the same.
	spec, err := acts.LoadModel(context.Background(), activities.LoadModelInput{Model: "churn"})
	if err != nil {
		t.Fatal(err)
	}
	ienv := ts.NewTestWorkflowEnvironment()
	ienv.RegisterWorkflow(workflows.IncidentWorkflow)
	ienv.RegisterActivity(acts)
	evaluate := func(at time.Duration, window int, accuracy float64) {
		end := time.Date(2026, 12, 1, 10, window, 0, 0, time.UTC)
		ienv.RegisterDelayedCallback(func() {
			ienv.SignalWorkflow(workflows.SignalEvaluation, activities.Evaluation{
				Model: "churn", Version: "v2", WindowStart: end.Add(-time.Minute), WindowEnd: end,
				ReportURI: fmt.Sprintf("file:///reports/churn/%d.json", window), WorkflowID: "monitor-churn", RunID: "m1",
				Results: workflows.CheckRules(*spec, activities.AnalyzeResult{Rows: 100, Metrics: map[string]float64{"performance.accuracy": accuracy}}),
			})
		}, at)
	}
	evaluate(time.Minute, 1, 0.70)
	ienv.RegisterDelayedCallback(func() {
		ienv.UpdateWorkflow(workflows.UpdateAck, "ack-1", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { t.Errorf("ack rejected: %v", err) }, OnAccept: func() {}, OnComplete: func(any, error) {},
		}, workflows.AckInput{Actor: "alice"})
	}, 10*time.Minute)
	evaluate(15*time.Minute, 15, 0.95)
	ienv.RegisterDelayedCallback(ienv.CancelWorkflow, 30*time.Minute)
	ienv.ExecuteWorkflow(workflows.IncidentWorkflow, workflows.IncidentInput{Model: "churn"})

	want := []string{audit.RetrainStarted, audit.RetrainTrained, audit.RetrainValidated, audit.AliasMoved, audit.RetrainPromoted,
		audit.IncidentOpened, audit.IncidentEscalated, audit.IncidentAcknowledged, audit.IncidentResolved}
	if n, err := pub.Flush(context.Background()); err != nil || n != len(want) {
		t.Fatalf("published %d events, %v; want %d", n, err, len(want))
	}
	var types []string
	byType := map[string]map[string]any{}
	for _, r := range records(t, c.ListenAddrs(), len(want)) {
		for name, v := range secrets {
			if strings.Contains(string(r.Value), v) || strings.Contains(string(r.Key), v) {
				t.Errorf("the value of %s is in an event: %s", name, r.Value)
			}
		}
		var ev map[string]any
		if err := json.Unmarshal(r.Value, &ev); err != nil {
			t.Fatalf("not JSON: %s", r.Value)
		}
		if string(r.Key) != "churn" || ev["subject"] != "churn" || ev["specversion"] != "1.0" || ev["source"] != "urn:vigil:prod" ||
			ev["datacontenttype"] != "application/json" || ev["id"] == "" {
			t.Errorf("not a CloudEvent about churn: key %q, %s", r.Key, r.Value)
		}
		types = append(types, ev["type"].(string))
		if ev["type"] == audit.IncidentOpened && !strings.Contains(string(r.Value), `"threshold":"< 0.85"`) {
			t.Errorf("the threshold is not as people write it: %s", r.Value)
		}
		byType[ev["type"].(string)] = ev["data"].(map[string]any)
	}
	if !slices.Equal(types, want) {
		t.Fatalf("event types in topic order:\n got %v\nwant %v", types, want)
	}
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	trained := byType[audit.RetrainTrained]
	if trained["model_version"] != "v2" || trained["code_version"] != "git:0a1b2c3" || !strings.Contains(js(trained["data"]), `"sha256":"sha-of-`) ||
		js(trained["hyperparameters"]) != `{"depth":"6"}` || trained["reason"] != "rule accuracy-drop" {
		t.Errorf("retrain.trained carries no lineage: %s", js(trained))
	}
	promoted := byType[audit.RetrainPromoted]
	if promoted["model_version"] != "v2" || promoted["previous_version"] != "v1" || promoted["actor"] != "vigil (gate passed)" || promoted["alias"] != "production" {
		t.Errorf("retrain.promoted: %s", js(promoted))
	}
	if u := js(promoted["workflow"]); !strings.Contains(u, `"url":"http://temporal-ui.example:8233/namespaces/prod/workflows/`) {
		t.Errorf("retrain.promoted links no workflow page: %s", u)
	}
	if v := byType[audit.RetrainValidated]; !strings.Contains(js(v["validation"]), `"challenger":0.91,"champion":0.8`) || v["report_uri"] == nil {
		t.Errorf("retrain.validated: %s", js(v))
	}
	if a := byType[audit.IncidentAcknowledged]; a["actor"] != "alice" || !strings.Contains(js(a["incident"]), `"rule":"accuracy-drop"`) {
		t.Errorf("incident.acknowledged: %s", js(a))
	}
	if o := byType[audit.IncidentOpened]; !strings.HasPrefix(fmt.Sprint(o["report_url"]), "https://vigil.example.com/models/churn/") || o["report_uri"] != "file:///reports/churn/1.json" {
		t.Errorf("incident.opened links no report page: %s", js(o))
	}
	slack := acts.Notifiers["slack"].(*fakeNotifier)
	if !slices.Equal(slack.sent, []string{"trigger", "acknowledge", "resolve"}) || slack.failures != 0 {
		t.Errorf("slack got %v (failures left %d); want its first attempt failed, then trigger, acknowledge, resolve", slack.sent, slack.failures)
	}
}
