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
