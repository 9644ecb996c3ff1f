package lifecycle

import "time"

// The requests and results of Ops. They are the domain's own types: the
// retrain activities (package activities) convert their wire types to and
// from these, so neither side's changes leak into the other, and this
// package imports nothing of the orchestration layer.

// TrainRequest is one training run. RunID is the retrain's run: a retry
// passes the same one, so a backend never starts a second external job for
// it. Training data is the labeled production traffic in [TrainFrom,
// TrainTo), the held-out validation data [TrainTo, HoldoutTo).
type TrainRequest struct {
	Model     string
	RunID     string
	Reason    string
	TrainFrom time.Time
	TrainTo   time.Time
	HoldoutTo time.Time
}

// Trained describes the challenger a run produced.
type Trained struct {
	ArtifactURI     string
	Metrics         map[string]float64
	JobID           string
	LogsURI         string
	DataURIs        []string // training data, then validation data
	Hyperparameters map[string]string
}

// RegisterRequest records a trained run in the registry.
type RegisterRequest struct {
	Model   string
	RunID   string
	Reason  string
	Trained Trained
}

// ValidateRequest scores champion ("" when nothing is in production) and
// challenger on run RunID's held-out window [HoldoutFrom, HoldoutTo).
type ValidateRequest struct {
	Model       string
	Champion    string
	Challenger  string
	RunID       string
	HoldoutFrom time.Time
	HoldoutTo   time.Time
}

// Validation is the comparison a promotion gate decides on.
type Validation struct {
	Metric         string
	Champion       float64
	HasChampion    bool
	Challenger     float64
	HigherIsBetter bool
	Violations     []string // baseline constraints the held-out data breaks
	ReportURI      string
	Rows           int64
	// ChampionRows is how the champion's logged rows were picked:
	// ChampionRowsVersion, ChampionRowsUnattributed, or "".
	ChampionRows string
}

// AliasMove points an alias of a model at a version ("" removes it).
type AliasMove struct {
	Model   string
	Alias   string // "" = production
	Version string
	Actor   string
	Reason  string
}

// Outcome is a retrain's verdict on a version, for the audit trail.
type Outcome struct {
	Model   string
	Version string
	Status  string // rejected | candidate | archived
	Reason  string
	Actor   string
}

// RollbackRequest moves production back to To ("" = the previous
// production version).
type RollbackRequest struct {
	Model  string
	To     string
	Reason string
	Actor  string
}

// Move is what a rollback changed: production went From → To.
type Move struct {
	From string
	To   string
}

// StageRequest puts a rollout's challenger beside the champion: Mode shadow
// or canary points that alias at Challenger (and stages the SageMaker
// endpoint, when the model has one, with Percent of the traffic for a
// canary); Mode "" unstages: both aliases go and the endpoint serves the
// champion alone again.
type StageRequest struct {
	Model      string
	Mode       string
	Champion   string
	Challenger string
	Percent    int
	Actor      string
	Reason     string
}

// Evidence is a rollout's running comparison since it started: the
// confidence sequence of per-event gains (analysis.Sequence: N, Mean, M2)
// and each side's sum of per-event metric values and count.
type Evidence struct {
	N              int64
	Mean           float64
	M2             float64
	ChampionSum    float64
	ChampionRows   int64
	ChallengerSum  float64
	ChallengerRows int64
}

// RolloutEvaluationRequest compares challenger and champion on the labeled
// records of [From, To): paired on the same events (Mode shadow: served by
// the champion, scored by the challenger in shadow) or on split traffic
// (Mode canary: each side's own events, Percent of them the challenger's),
// folding them into Evidence when there are at least MinRows.
type RolloutEvaluationRequest struct {
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
	Evidence   Evidence
}

// RolloutEvaluation is one evaluation: Rows events compared in the window;
// when Enough (Rows >= MinRows) Evidence includes them and Step and
// Decision (analysis.Decision: better, noninferior, worse, undecided) read
// the always-valid interval. Note says what the window held when it is not
// enough.
type RolloutEvaluation struct {
	Rows     int64
	Enough   bool
	Evidence Evidence
	Step     RolloutStep
	Decision string
	Note     string
}

// RolloutStep is one evaluation as the registry records it (registry.RolloutStep).
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

// Rollout is a rollout as the registry records it (registry.Rollout), with
// versions as "v<N>".
type Rollout struct {
	ID         string
	Mode       string
	Champion   string
	Challenger string
	Percent    int
	StartedAt  time.Time
	UpdatedAt  time.Time
	Steps      []RolloutStep
	Decision   string
	Reason     string
	Actor      string
}
