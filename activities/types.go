package activities

import (
	"time"

	"github.com/vigilml/vigil/config"
)

// Every activity takes one XxxInput and returns one XxxResult so that fields
// can be added without breaking recorded histories. None of them carries a
// secret: integrations are named, and the worker holds their credentials.

// LoadModelInput names a configured model.
type LoadModelInput struct {
	Model string
}

// ModelSpec is the part of a model's config that workflows decide on. It is
// read through an activity so that a config change applies from the next run
// and replays see the value the run saw. It is a wire type of its own, not
// the config's structs: LoadModel converts (specOf), so a change to the YAML
// schema cannot change what workflow histories hold. Its JSON is pinned by
// workflows/wire_test.go against recorded histories.
type ModelSpec struct {
	Name     string
	Task     string
	Every    time.Duration
	Window   time.Duration
	Delay    time.Duration
	Rules    []RuleSpec
	Retrain  *RetrainSpec         // nil: the model is not retrained
	Severity map[string]RouteSpec // severity → integrations
	// MaxDelivery is how long a notification is retried (notify.max_delivery);
	// 0 in specs recorded before it existed.
	MaxDelivery time.Duration
	// Version is the model version serving now (the registry's production
	// alias), "" when the model has no registry entry.
	Version string
	// ShardObjects is analysis.shard_objects: when positive, the monitor
	// asks PlanShards whether a window is profiled in shards.
	ShardObjects int `json:",omitempty"`
}

// RuleSpec is one alert rule (config: models[].rules[]).
type RuleSpec struct {
	Name   string
	Metric string // a report path, e.g. performance.accuracy
	Below  *float64
	Above  *float64
	// ThresholdMode "auto" judges the metric against its reference band
	// (AnalyzeResult.Bands) instead of Below/Above (config.ThresholdAuto).
	ThresholdMode string `json:",omitempty"`
	// For is how many consecutive breaching windows open an incident.
	For int
	// RecoverAfter is how many consecutive good windows resolve it.
	RecoverAfter  int
	Severity      string // info | warning | critical
	EscalateAfter time.Duration
	// Cooldown keeps a resolved rule from re-opening an incident at once.
	Cooldown time.Duration
	Retrain  bool
}

// Breached reports whether value violates the rule's threshold (the
// config's definition, config.Rule.Breached).
func (r RuleSpec) Breached(value float64) bool { return r.bounds().Breached(value) }

// Threshold is the bound the rule checks, for messages.
func (r RuleSpec) Threshold() string { return r.bounds().Threshold() }

// Auto reports whether the rule is judged on the metric's reference band.
func (r RuleSpec) Auto() bool { return r.bounds().Auto() }

// BandVerdict judges a threshold: auto rule (config.Rule.BandVerdict).
func (r RuleSpec) BandVerdict(v float64, ok, has bool, lower, upper float64, note string) (breached bool, threshold string) {
	return r.bounds().BandVerdict(v, ok, has, lower, upper, note)
}

func (r RuleSpec) bounds() config.Rule {
	return config.Rule{Below: r.Below, Above: r.Above, ThresholdMode: r.ThresholdMode}
}

// RetrainSpec is what the RetrainWorkflow decides on (config:
// models[].retrain); how a model is trained (backend, command, credentials'
// names) stays in the config, which the lifecycle reads at each activity.
type RetrainSpec struct {
	// MinImprovement is how much the challenger must beat the champion by.
	MinImprovement float64
	// Approval is none or required (wait for an approve/reject Update, up
	// to ApprovalTimeout).
	Approval        string
	ApprovalTimeout time.Duration
	// Timeout bounds one training run.
	Timeout time.Duration
	// TrainWindow is the labeled data the challenger is trained on, ending
	// where ValidationWindow, the held-out data, starts.
	TrainWindow      time.Duration
	ValidationWindow time.Duration
	// Rollout is how a challenger that passed the gate reaches production
	// (config: retrain.rollout); nil: directly, as before rollouts existed.
	Rollout *RolloutSpec `json:",omitempty"`
}

// RolloutSpec is a shadow or canary rollout (config: retrain.rollout).
type RolloutSpec struct {
	Mode   string // shadow | canary
	Metric string // a per-event metric, e.g. performance.accuracy
	// Margin is the non-inferiority margin; Alpha the error rate over all
	// evaluations.
	Margin             float64
	Alpha              float64
	EvaluationInterval time.Duration
	// MinRows is how many newly compared events an evaluation needs.
	MinRows     int
	MaxDuration time.Duration
	// Steps and Hold (canary): traffic percents ending at 100, each held
	// at least Hold.
	Steps []int         `json:",omitempty"`
	Hold  time.Duration `json:",omitempty"`
}

// RouteSpec lists integrations by name.
type RouteSpec struct {
	Notify   []string
	Escalate []string
}

// AnalyzeInput asks for one evaluation window.
type AnalyzeInput struct {
	Model       string
	WindowStart time.Time
	WindowEnd   time.Time
	// Metrics are the report paths the caller needs back (the rules' metrics).
	Metrics []string
}

// AnalyzeResult summarizes a report; the report itself is in the store.
type AnalyzeResult struct {
	ReportURI string
	Rows      int64
	Labeled   int64
	Invalid   int64
	// Incomplete is set when some objects of the window could not be read.
	Incomplete bool
	// InvalidReason, when set, says why the window's data cannot be analysed
	// as configured (status invalid); the result has no metrics.
	InvalidReason string `json:",omitempty"`
	// InsufficientData is set when the window has rows, but fewer than the
	// model's min_rows: the report carries no verdicts.
	InsufficientData bool
	// Metrics holds the requested metrics the report has (absent: no value,
	// e.g. accuracy before any label arrived).
	Metrics    map[string]float64
	TopDrifted []string
	// Bands holds the reference band of each requested metric whose rule
	// has threshold: auto (absent: no band could be computed; see Note).
	Bands map[string]Band `json:",omitempty"`
	// WeakSegments names the report's worst segments, at most three, for
	// alerts ("cat = d: accuracy 0.51 (-0.44), 1,250 rows").
	WeakSegments []string `json:",omitempty"`
	Version      string
	// Took is how long reading and analysing the window took.
	Took time.Duration
}

// PlanShardsInput asks whether a window is evaluated in shards. Run (the
// workflow's run ID) names the evaluation's shard documents.
type PlanShardsInput struct {
	Model       string
	WindowStart time.Time
	WindowEnd   time.Time
	Run         string
}

// PlanShardsResult is 0 shards for a window evaluated by one Analyze.
type PlanShardsResult struct {
	Shards  int
	Objects int
	Bytes   int64
}

// ProfileShardInput names one shard of a planned evaluation.
type ProfileShardInput struct {
	Model       string
	WindowStart time.Time
	WindowEnd   time.Time
	Run         string
	Shard       int
}

// ProfileShardResult counts what a shard read; its profile is in the store.
// Invalid is set when its data cannot be analysed as configured (the reason
// is stored for MergeShards).
type ProfileShardResult struct {
	Rows         int64
	Objects      int
	Bytes        int64
	ProfileBytes int
	Invalid      bool `json:",omitempty"`
}

// MergeShardsInput asks for the report of a window profiled in Shards
// shards.
type MergeShardsInput struct {
	Model       string
	WindowStart time.Time
	WindowEnd   time.Time
	// Metrics are the report paths the caller needs back (the rules' metrics).
	Metrics []string
	Run     string
	Shards  int
}

// DropShardsInput names the evaluation whose shard documents to delete.
type DropShardsInput struct {
	Model string
	Run   string
}

// Band is a metric's band over reference chunks of the window's size
// (analysis.Band); Note says why there is none.
type Band struct {
	Lower, Upper float64
	Note         string `json:",omitempty"`
}

// PublishMetricsInput points at a stored report.
type PublishMetricsInput struct {
	Model       string
	Version     string
	ReportURI   string
	Status      string
	WindowStart time.Time // the report's key
	WindowEnd   time.Time
	Took        time.Duration
}

// IncidentChangeInput records an incident opening or resolving (metrics).
type IncidentChangeInput struct {
	Model    string
	Rule     string
	Severity string
	Open     bool
}

// RetrainFinishedInput records a retrain's outcome (metrics).
type RetrainFinishedInput struct {
	Model   string
	Outcome string
}

// RuleResult is one rule checked against one window.
type RuleResult struct {
	Rule      string
	Metric    string
	Value     float64
	HasValue  bool
	Breached  bool
	Threshold string
}

// Evaluation is what the MonitorWorkflow tells the IncidentWorkflow.
type Evaluation struct {
	Model       string
	Version     string
	WindowStart time.Time
	WindowEnd   time.Time
	ReportURI   string
	WorkflowID  string
	RunID       string
	Results     []RuleResult
	TopDrifted  []string
	// WeakSegments are the window's worst segments (AnalyzeResult).
	WeakSegments []string `json:",omitempty"`
}

// SignalIncidentInput delivers an evaluation, starting the model's
// IncidentWorkflow if it is not running.
type SignalIncidentInput struct {
	Evaluation Evaluation
}

// NotifyInput is one message to one integration.
type NotifyInput struct {
	Integration string
	Kind        string // trigger | escalate | acknowledge | resolve | silence
	Incident    Incident
}

// NotificationUndeliveredInput reports a notification whose retries ran out
// (metrics); Retrying says whether the workflow sends it again: when it does
// not, the notification is dropped for good.
type NotificationUndeliveredInput struct {
	Integration string
	Kind        string
	Model       string
	Rule        string
	Incident    string
	Retrying    bool
}

// NotifyResult carries the integration's reference to what it posted (a
// Slack channel:ts), stored in the incident so later events edit that message.
type NotifyResult struct {
	Ref string
}

// Incident is an open (or just resolved) incident as the workflow keeps it.
type Incident struct {
	ID            string
	Model         string
	Version       string
	Rule          string
	Metric        string
	Severity      string
	Value         float64
	Threshold     string
	WindowStart   time.Time
	WindowEnd     time.Time
	TopDrifted    []string
	WeakSegments  []string `json:",omitempty"`
	ReportURI     string
	WorkflowID    string
	RunID         string
	OpenedAt      time.Time
	AckedBy       string
	AckedAt       time.Time
	EscalateAt    time.Time
	Escalated     bool
	ResolvedAt    time.Time
	SilencedUntil time.Time
	// Refs maps an integration to its reference from the first message.
	Refs map[string]string
	// Notified lists integrations told about this incident, in order.
	Notified []string
	// Summary, when set, is the message's one-line text (a rollout's
	// progress and evidence) instead of the one the kind implies.
	Summary string `json:",omitempty"`
}

// StartRetrainInput asks for a RetrainWorkflow.
type StartRetrainInput struct {
	Model  string
	Reason string
	// Since, when set, makes the start idempotent: a retrain of the model
	// started at or after it (by an earlier attempt of this activity whose
	// answer was lost, or by anyone) is taken as this request's.
	Since time.Time
}

// StartRetrainResult says whether a new retrain started; false means one was
// already running, which is the point: one breach, one retrain.
type StartRetrainResult struct {
	Started bool
	RunID   string
}

// TrainInput starts one training run. RunID is the RetrainWorkflow's run:
// a retried activity passes the same one, so a backend never starts a
// second external job for it.
type TrainInput struct {
	Model  string
	RunID  string
	Reason string
	// The data windows, fixed by the workflow so that retries and
	// validation see exactly the same records: training data is the labeled
	// production traffic in [TrainFrom, TrainTo), the held-out validation
	// data is [TrainTo, HoldoutTo).
	TrainFrom time.Time
	TrainTo   time.Time
	HoldoutTo time.Time
}

// TrainResult describes the challenger a run produced.
type TrainResult struct {
	ArtifactURI     string
	Metrics         map[string]float64
	JobID           string
	LogsURI         string
	DataURIs        []string
	Hyperparameters map[string]string
}

// RegisterInput records a trained model in the registry.
type RegisterInput struct {
	Model  string
	RunID  string
	Reason string
	Train  TrainResult
}

// RegisterResult is the challenger's version.
type RegisterResult struct {
	Version string
}

// ValidateInput scores champion and challenger on the same held-out window.
type ValidateInput struct {
	Model      string
	Champion   string // "" when nothing is in production yet
	Challenger string
	// RunID and the held-out window [HoldoutFrom, HoldoutTo) are the
	// training run's.
	RunID       string
	HoldoutFrom time.Time
	HoldoutTo   time.Time
}

// ValidateResult is the comparison the gate decides on.
type ValidateResult struct {
	Metric         string
	Champion       float64
	HasChampion    bool
	Challenger     float64
	HigherIsBetter bool
	Violations     []string // baseline constraints the challenger breaks
	ReportURI      string
	Rows           int64
	// ChampionRows is how the champion's logged rows were picked:
	// "model_version" (only its own version's), "unattributed" (the records
	// carry no version: every logged prediction counted), or "".
	ChampionRows string `json:",omitempty"`
}

// SetAliasInput moves an alias (production) to a version.
type SetAliasInput struct {
	Model   string
	Alias   string
	Version string
	Actor   string
	Reason  string
}

// SetAliasResult is the version the alias pointed to before ("" = none),
// which compensation and rollback restore.
type SetAliasResult struct {
	Previous string
}

// DeployInput rolls a promoted version out to its serving target (e.g. a
// SageMaker endpoint); a no-op when the model has none.
type DeployInput struct {
	Model   string
	Version string
}

// DeployResult says what was updated.
type DeployResult struct {
	Target string
}

// RecordOutcomeInput stores a retrain's verdict on a version (rejected,
// approval timed out) in the registry, for the audit trail.
type RecordOutcomeInput struct {
	Model   string
	Version string
	Status  string
	Reason  string
	Actor   string
}

// RollbackInput moves production back.
type RollbackInput struct {
	Model  string
	To     string // "" = the previous production version
	Reason string
	Actor  string
}

// RollbackResult names the versions involved.
type RollbackResult struct {
	From string
	To   string
}

// StageRolloutInput puts a rollout's challenger beside the champion (Mode
// shadow or canary, at Percent for a canary) or, with Mode "", takes it away.
type StageRolloutInput struct {
	Model      string
	Mode       string
	Champion   string
	Challenger string
	Percent    int
	Actor      string
	Reason     string
}

// StageRolloutResult says what was staged: "registry" (the aliases only) or
// the SageMaker endpoint.
type StageRolloutResult struct {
	Target string
}

// RolloutEvidence is a rollout's running comparison: the always-valid
// confidence sequence of per-event gains (N, Mean, M2) and each side's sum
// of per-event metric values over its events.
type RolloutEvidence struct {
	N              int64
	Mean           float64
	M2             float64
	ChampionSum    float64
	ChampionRows   int64
	ChallengerSum  float64
	ChallengerRows int64
}

// EvaluateRolloutInput compares challenger and champion on the labeled
// records of [From, To): paired (shadow) or on split traffic (canary at
// Percent), adding them to Evidence when at least MinRows compare.
type EvaluateRolloutInput struct {
	Model      string
	Mode       string
	Champion   string
	Challenger string
	Metric     string
	Percent    int
	From       time.Time
	To         time.Time
	Alpha      float64
	Margin     float64
	MinRows    int
	Evidence   RolloutEvidence
}

// EvaluateRolloutResult is one evaluation. When Enough, Evidence includes
// the window and Step and Decision (better, noninferior, worse, undecided)
// read the interval; otherwise Note says what the window held.
type EvaluateRolloutResult struct {
	Rows     int64
	Enough   bool
	Evidence RolloutEvidence
	Step     RolloutStep
	Decision string
	Note     string `json:",omitempty"`
}

// RolloutStep is one evaluation of a rollout: Rows events compared so far,
// each side's metric on them, the difference challenger − champion with its
// always-valid interval [Lower, Upper] and p-value, and the verdict
// (continue, better, not-worse, worse, breach).
type RolloutStep struct {
	At         time.Time
	Percent    int
	Rows       int64
	Metric     string
	Champion   float64
	Challenger float64
	Difference float64
	Lower      float64
	Upper      float64
	PValue     float64
	Verdict    string
}

// RolloutRecord is a rollout as the registry keeps it (Model.Rollout).
type RolloutRecord struct {
	ID         string
	Mode       string
	Champion   string
	Challenger string
	Percent    int
	StartedAt  time.Time
	UpdatedAt  time.Time
	Steps      []RolloutStep
	Decision   string `json:",omitempty"`
	Reason     string `json:",omitempty"`
	Actor      string `json:",omitempty"`
}

// RecordRolloutInput stores a rollout's state; Rollout.Steps are the steps
// to add: the registry's rollout of the same ID keeps the steps it has and
// gains those it lacks (by At), so a retry writes the same and a record's
// size does not grow with the rollout. Another ID replaces the rollout.
type RecordRolloutInput struct {
	Model   string
	Rollout RolloutRecord
}
