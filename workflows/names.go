package workflows

import (
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/vigilml/vigil/activities"
)

// Names that callers outside the workflows (starter, worker, the temporal
// CLI, the README) rely on. Changing one breaks running histories and docs.
const (
	// Signal carrying one evaluation's rule results to the IncidentWorkflow.
	SignalEvaluation = "evaluation"
	// Updates on the IncidentWorkflow.
	UpdateAck     = "ack"
	UpdateSilence = "silence"
	// Updates on the RetrainWorkflow.
	UpdateApprove = "approve"
	UpdateReject  = "reject"
	// Query on the IncidentWorkflow and the RetrainWorkflow.
	QueryState = "state"
	// Query on the MonitorWorkflow: its MonitorProgress.
	QueryProgress = "progress"
)

// Stages of an evaluation, MonitorProgress.Stage.
const (
	StageLoading   = "loading"
	StagePlanning  = "planning"
	StageAnalyzing = "analyzing" // one Analyze activity
	StageProfiling = "profiling shards"
	StageMerging   = "merging"
	// StagePublishing: metrics, search attributes, the incident workflow.
	StagePublishing = "publishing"
	StageDone       = "done"
)

// ShardTaskQueue is the task queue of the shard activities of a sharded
// evaluation started on queue: every worker polls it beside its own queue,
// with at most analysis.shard_slots shards at once, so shards wait in the
// queue for any worker instead of piling up in one.
func ShardTaskQueue(queue string) string { return queue + "-shards" }

// Version change IDs (workflow.GetVersion).
const (
	// ChangeShardedAnalysis: in version 1, a model with
	// analysis.shard_objects asks PlanShards before analysing, and a large
	// window is profiled in shard activities.
	ChangeShardedAnalysis = "sharded-analysis"
	// ChangeDropFailedShards: in version 1, a sharded evaluation that fails
	// after its plan was stored waits for its other shards to end, then
	// deletes its shard documents (DropShards) before failing. It is asked
	// at the first failure only, so an evaluation that succeeds records no
	// marker.
	ChangeDropFailedShards = "drop-failed-shards"
)

// Search attributes that make the Temporal UI Vigil's audit trail:
// VigilModel="churn" AND VigilStatus="breach".
var (
	AttrModel        = temporal.NewSearchAttributeKeyKeyword("VigilModel")
	AttrModelVersion = temporal.NewSearchAttributeKeyKeyword("VigilModelVersion")
	AttrStatus       = temporal.NewSearchAttributeKeyKeyword("VigilStatus")
	// AttrRollout follows a retrain's shadow or canary rollout: "shadow v3",
	// "canary v3 50%", then promoted, rejected or rolled-back.
	AttrRollout = temporal.NewSearchAttributeKeyKeyword("VigilRollout")
)

// SearchAttributes is what a namespace needs registered for Vigil.
func SearchAttributes() map[string]enumspb.IndexedValueType {
	return map[string]enumspb.IndexedValueType{
		AttrModel.GetName():        enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		AttrModelVersion.GetName(): enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		AttrStatus.GetName():       enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		AttrRollout.GetName():      enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	}
}

// Evaluation statuses, the values of VigilStatus.
const (
	StatusOK      = "ok"
	StatusWarning = "warning"
	StatusBreach  = "breach"
	StatusNoData  = "no-data"
	// StatusIncomplete: some objects of the window stayed unreadable; the
	// report covers the rest, and no rule breaches or recovers on it.
	StatusIncomplete = activities.StatusIncomplete
	// StatusInvalid: the window's data cannot be analysed as configured (no
	// column shared with the reference, a continuous target under a
	// classification task, ...); the report says why, and no rule breaches
	// or recovers on it.
	StatusInvalid = activities.StatusInvalid
	// StatusInsufficientData: the window has fewer rows than the model's
	// min_rows; its report has no verdicts, and no rule breaches or
	// recovers on it.
	StatusInsufficientData = activities.StatusInsufficientData
)

// ScheduleID is the Temporal Schedule that evaluates a model.
func ScheduleID(model string) string { return "vigil-monitor-" + model }

// MonitorWorkflowID is the ID of a manual evaluation (`starter trigger`);
// scheduled runs get the schedule ID plus their time.
func MonitorWorkflowID(model string) string { return "vigil-monitor-" + model + "-manual" }

// IncidentWorkflowID is the one long-lived incident workflow of a model.
func IncidentWorkflowID(model string) string { return "vigil-incident-" + model }

// RetrainWorkflowID is fixed per model so that two breaches can never run
// two retrains at once: starting it while it runs is refused by Temporal.
func RetrainWorkflowID(model string) string { return "retrain-" + model }

// RollbackWorkflowID serializes rollbacks of a model the same way.
func RollbackWorkflowID(model string) string { return "rollback-" + model }
