package mlflow

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"sort"
	"strings"

	"go.temporal.io/sdk/activity"

	"github.com/vigilml/vigil/activities"
	"github.com/vigilml/vigil/train/lifecycle"
	"github.com/vigilml/vigil/train/registry"
)

// Tag keys Vigil sets on MLflow runs and model versions.
const (
	TagRunID    = "vigil.run_id" // the retrain's run id: how a retried mirror finds its run
	TagModel    = "vigil.model"
	TagVersion  = "vigil.version"
	TagWorkflow = "vigil.workflow" // Temporal Web UI link of the retrain workflow
	TagOutcome  = "vigil.outcome"
	TagReason   = "vigil.reason"
	TagTrainer  = "vigil.trainer"
	TagJob      = "vigil.backend_job_id"
	TagGit      = "mlflow.source.git.commit" // MLflow's own tag for the code version
)

// Versions reads Vigil's registry (*registry.Registry).
type Versions interface {
	Get(ctx context.Context, model string, version int) (registry.Version, error)
}

// Ops is the lifecycle's ModelOps with MLflow mirroring added after the
// operations that change what MLflow should show: Register (log the run),
// Validate (log validation metrics), SetAlias and Rollback (model version +
// alias), RecordOutcome (a tag). Every other method is the lifecycle's.
//
// The wrapped operation runs first and its result is returned as it is: a
// mirror that fails after the client's retries is logged at error level
// (model, step, error; reported to Sentry when configured) and never fails
// the retrain or the promotion. Each mirror step is idempotent — runs are
// found by the vigil.run_id tag, model versions by run id, only missing
// metrics, params and tags are logged — so an activity retried by Temporal
// leaves one run and one model version.
type Ops struct {
	activities.ModelOps
	Client   *Client
	Registry Versions
	// Experiment names the experiment of a model's runs; "{model}" is
	// replaced by the model name. Default "vigil-{model}".
	Experiment string
	// RegisteredModel names the registered model; "{model}" is replaced.
	// Default "{model}".
	RegisteredModel string
	// TemporalUI and Namespace make the workflow link (temporal.ui_url).
	TemporalUI string
	Log        *slog.Logger
}

func expand(tmpl, def, model string) string {
	if tmpl == "" {
		tmpl = def
	}
	return strings.ReplaceAll(tmpl, "{model}", model)
}

func (o *Ops) log() *slog.Logger {
	if o.Log == nil {
		return slog.Default()
	}
	return o.Log
}

func (o *Ops) failed(model, step string, err error) {
	o.log().Error("mlflow mirror failed; Vigil's registry is unaffected", "model", model, "step", step, "err", err,
		"permanent", IsPermanent(err))
}

// Register implements activities.ModelOps.
func (o *Ops) Register(ctx context.Context, in lifecycle.RegisterRequest) (string, error) {
	res, err := o.ModelOps.Register(ctx, in)
	if err != nil {
		return res, err
	}
	if v, err := o.version(ctx, in.Model, res); err != nil {
		o.failed(in.Model, "read registry", err)
	} else if _, err := o.LogRun(ctx, in.Model, v, o.workflowLink(ctx)); err != nil {
		o.failed(in.Model, "log run", err)
	}
	return res, nil
}

// Validate implements activities.ModelOps.
func (o *Ops) Validate(ctx context.Context, in lifecycle.ValidateRequest) (*lifecycle.Validation, error) {
	res, err := o.ModelOps.Validate(ctx, in)
	if err != nil || res == nil {
		return res, err
	}
	if err := o.logValidation(ctx, in, res); err != nil {
		o.failed(in.Model, "log validation", err)
	}
	return res, nil
}

// SetAlias implements activities.ModelOps.
func (o *Ops) SetAlias(ctx context.Context, in lifecycle.AliasMove) (string, error) {
	res, err := o.ModelOps.SetAlias(ctx, in)
	if err != nil {
		return res, err
	}
	if err := o.MirrorAlias(ctx, in.Model, in.Alias, in.Version); err != nil {
		o.failed(in.Model, "mirror alias "+in.Alias, err)
	}
	return res, nil
}

// Rollback implements activities.ModelOps.
func (o *Ops) Rollback(ctx context.Context, in lifecycle.RollbackRequest) (lifecycle.Move, error) {
	res, err := o.ModelOps.Rollback(ctx, in)
	if err != nil || res.To == "" {
		return res, err
	}
	if err := o.MirrorAlias(ctx, in.Model, registry.AliasProduction, res.To); err != nil {
		o.failed(in.Model, "mirror rollback", err)
	}
	return res, nil
}

// RecordOutcome implements activities.ModelOps.
func (o *Ops) RecordOutcome(ctx context.Context, in lifecycle.Outcome) error {
	if err := o.ModelOps.RecordOutcome(ctx, in); err != nil {
		return err
	}
	err := func() error {
		v, err := o.version(ctx, in.Model, in.Version)
		if err != nil {
			return err
		}
		run, err := o.LogRun(ctx, in.Model, v, "")
		if err != nil {
			return err
		}
		return o.Client.SetTag(ctx, run, TagOutcome, in.Status)
	}()
	if err != nil {
		o.failed(in.Model, "record outcome", err)
	}
	return nil
}

func (o *Ops) version(ctx context.Context, model, version string) (registry.Version, error) {
	n, err := lifecycle.ParseVersion(version)
	if err != nil {
		return registry.Version{}, err
	}
	return o.Registry.Get(ctx, model, n)
}

// workflowLink is the Temporal Web UI page of the workflow running the
// current activity ("" outside an activity or without a UI URL).
func (o *Ops) workflowLink(ctx context.Context) string {
	if o.TemporalUI == "" || !activity.IsActivity(ctx) {
		return ""
	}
	info := activity.GetInfo(ctx)
	return fmt.Sprintf("%s/namespaces/%s/workflows/%s/%s", strings.TrimRight(o.TemporalUI, "/"),
		url.PathEscape(info.Namespace), url.PathEscape(info.WorkflowExecution.ID), url.PathEscape(info.WorkflowExecution.RunID))
}

// LogRun makes sure the MLflow run of registry version v exists and holds
// its params, metrics and tags, and returns its id.
func (o *Ops) LogRun(ctx context.Context, model string, v registry.Version, workflowLink string) (string, error) {
	exp, err := o.Client.ExperimentID(ctx, expand(o.Experiment, "vigil-{model}", model))
	if err != nil {
		return "", err
	}
	run, err := o.Client.FindRun(ctx, exp, TagRunID, v.RunID)
	if err != nil {
		return "", err
	}
	tags := map[string]string{
		TagRunID: v.RunID, TagModel: model, TagVersion: lifecycle.FormatVersion(v.Version), TagTrainer: v.Trainer,
		TagJob: v.BackendJobID, TagReason: v.Reason, TagGit: v.CodeVersion, TagWorkflow: workflowLink,
	}
	for _, d := range v.Data {
		tags["vigil.data."+d.Role+".sha256"] = d.SHA256
		tags["vigil.data."+d.Role+".uri"] = d.URI
	}
	have := &RunData{Metrics: map[string]bool{}, Params: map[string]string{}, Tags: map[string]string{}}
	if run == "" {
		if run, err = o.Client.CreateRun(ctx, exp, v.RunID, v.Created, []KV{{TagRunID, v.RunID}}); err != nil {
			return "", err
		}
		have.Tags[TagRunID] = v.RunID
	} else if have, err = o.Client.GetRun(ctx, run); err != nil {
		return "", err
	}
	var metrics []Metric
	for _, k := range sortedKeys(v.Metrics) {
		if !have.Metrics[k] {
			metrics = append(metrics, Metric{Key: k, Value: v.Metrics[k], Timestamp: v.Created.UnixMilli()})
		}
	}
	var params, tagList []KV
	for _, k := range sortedKeys(v.Hyperparameters) {
		if _, ok := have.Params[k]; !ok {
			params = append(params, KV{k, v.Hyperparameters[k]})
		}
	}
	for _, k := range sortedKeys(tags) {
		if tags[k] != "" && have.Tags[k] != tags[k] {
			tagList = append(tagList, KV{k, tags[k]})
		}
	}
	if err := o.Client.LogBatch(ctx, run, metrics, params, tagList); err != nil {
		return "", err
	}
	// The training finished before Vigil registered it; an update to the
	// same status and end time is harmless when retried.
	if err := o.Client.FinishRun(ctx, run, v.Created); err != nil {
		return "", err
	}
	return run, nil
}

func (o *Ops) logValidation(ctx context.Context, in lifecycle.ValidateRequest, res *lifecycle.Validation) error {
	v, err := o.version(ctx, in.Model, in.Challenger)
	if err != nil {
		return err
	}
	run, err := o.LogRun(ctx, in.Model, v, "")
	if err != nil {
		return err
	}
	ts := v.Created.UnixMilli()
	metrics := []Metric{{Key: "validation." + res.Metric, Value: res.Challenger, Timestamp: ts}, {Key: "validation.rows", Value: float64(res.Rows), Timestamp: ts}}
	if res.HasChampion {
		metrics = append(metrics, Metric{Key: "validation.champion." + res.Metric, Value: res.Champion, Timestamp: ts})
	}
	have, err := o.Client.GetRun(ctx, run)
	if err != nil {
		return err
	}
	var missing []Metric
	for _, m := range metrics {
		if !have.Metrics[m.Key] {
			missing = append(missing, m)
		}
	}
	var tags []KV
	if res.ReportURI != "" && have.Tags["vigil.validation_report"] != res.ReportURI {
		tags = append(tags, KV{"vigil.validation_report", res.ReportURI})
	}
	if len(missing) == 0 && len(tags) == 0 {
		return nil
	}
	return o.Client.LogBatch(ctx, run, missing, nil, tags)
}

// MirrorAlias points alias of the model's MLflow registered model at the
// MLflow version of Vigil's version, registering it (and its run) first
// when MLflow does not have it yet.
func (o *Ops) MirrorAlias(ctx context.Context, model, alias, version string) error {
	v, err := o.version(ctx, model, version)
	if err != nil {
		return err
	}
	run, err := o.LogRun(ctx, model, v, "")
	if err != nil {
		return err
	}
	name := expand(o.RegisteredModel, "{model}", model)
	if err := o.Client.EnsureRegisteredModel(ctx, name); err != nil {
		return err
	}
	mv, err := o.Client.ModelVersion(ctx, name, run, v.ArtifactURI, "", []KV{{TagVersion, version}, {TagRunID, v.RunID}})
	if err != nil {
		return err
	}
	if err := o.Client.SetAlias(ctx, name, alias, mv); err != nil {
		return err
	}
	o.log().Info("mirrored alias to MLflow", "model", model, "alias", alias, "version", version, "mlflow_model", name, "mlflow_version", mv)
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
