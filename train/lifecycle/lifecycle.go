package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/store"
	"github.com/vigilml/vigil/train"
	"github.com/vigilml/vigil/train/registry"
)

// Minimum labeled rows: fewer training rows make a challenger that cannot be
// trusted, fewer held-out rows a comparison that means nothing.
const (
	MinTrainRows   = 50
	MinHoldoutRows = 20
)

// Files a run's output holds besides the trainer's own.
const (
	TrainFile                 = "train.jsonl"
	ValidationFile            = "validation.jsonl"
	ValidationPredictionsFile = "validation_predictions.jsonl"
	DataManifestFile          = "vigil-data.json"
	ValidationReportFile      = "validation-report.json"
)

// Ops is the model lifecycle: training, registration, validation, alias
// moves, deployment and rollback of the configured models.
type Ops struct {
	cfg  func() *config.Config
	st   *store.Store
	reg  *registry.Registry
	deps train.Deps
	log  *slog.Logger
	s3   train.S3Lister
}

// Option configures Ops.
type Option func(*Ops)

// WithS3Lister sets the client used to hash s3:// training data for the
// registry's lineage; by default it is the store's own S3 client, so every
// s3:// run (SageMaker, CI backends writing to S3) can register.
func WithS3Lister(c train.S3Lister) Option { return func(o *Ops) { o.s3 = c } }

// storeLister lists through the store's S3 client (same endpoint, region
// and credentials as the data it reads), built on first use.
type storeLister struct{ st *store.Store }

func (l storeLister) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	c, err := l.st.S3Client(ctx)
	if err != nil {
		return nil, err
	}
	return c.ListObjectsV2(ctx, in, opts...)
}

// New returns the model lifecycle over the config (read at every call, so a
// reloaded config applies from the next activity), the store, the registry
// and the trainers' clients.
func New(cfg func() *config.Config, st *store.Store, reg *registry.Registry, deps train.Deps, logger *slog.Logger, opts ...Option) *Ops {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	o := &Ops{cfg: cfg, st: st, reg: reg, deps: deps, log: logger}
	if st != nil {
		o.s3 = storeLister{st}
	}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// permanentError is a failure of ours that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanentf(format string, args ...any) error {
	return &permanentError{fmt.Errorf(format, args...)}
}

// ErrVersion is wrapped by errors about a version string that is not "v<N>".
var ErrVersion = errors.New("invalid model version")

// IsPermanent tells failures retrying cannot fix: a trainer that failed, an
// unknown model/version/alias, a bad version string, too little data, a
// store error that is about credentials or names.
func (o *Ops) IsPermanent(err error) bool {
	if err == nil {
		return false
	}
	var p *permanentError
	return errors.As(err, &p) || errors.Is(err, ErrVersion) || errors.Is(err, registry.ErrNotFound) ||
		train.IsPermanent(err) || store.IsPermanent(err)
}

// FormatVersion shows a registry version as activities and workflows do:
// "v<N>", or "" for 0 (none).
func FormatVersion(n int) string {
	if n <= 0 {
		return ""
	}
	return "v" + strconv.Itoa(n)
}

// ParseVersion reads "v<N>" (or a bare "<N>", as people type it) back; ""
// is 0 (none). Anything else is an error wrapping ErrVersion (permanent).
func ParseVersion(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	digits := strings.TrimPrefix(s, "v")
	n, err := strconv.Atoi(digits)
	if err != nil || n < 1 || digits == "" || digits[0] == '+' || digits[0] == '0' {
		return 0, fmt.Errorf("%w %q: want v<N>, e.g. v3", ErrVersion, s)
	}
	return n, nil
}

// model returns the configured model, or a permanent error.
func (o *Ops) model(name string) (*config.Config, *config.Model, error) {
	cfg := o.cfg()
	if cfg == nil {
		return nil, nil, permanentf("no configuration loaded")
	}
	m := cfg.Model(name)
	if m == nil {
		return nil, nil, permanentf("model %q is not in the config %s", name, cfg.File)
	}
	return cfg, m, nil
}

func (o *Ops) retrainModel(name string) (*config.Config, *config.Model, error) {
	cfg, m, err := o.model(name)
	if err != nil {
		return nil, nil, err
	}
	if m.Retrain == nil {
		return nil, nil, permanentf("model %s has no retrain section in the config %s", name, cfg.File)
	}
	return cfg, m, nil
}

// Production returns the version behind the production alias, "" when none.
func (o *Ops) Production(ctx context.Context, model string) (string, error) {
	v, err := o.reg.Resolve(ctx, model, registry.AliasProduction)
	if errors.Is(err, registry.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return FormatVersion(v.Version), nil
}

// Register records a trained run with its lineage; the same RunID yields
// the same version.
func (o *Ops) Register(ctx context.Context, in RegisterRequest) (version string, err error) {
	job := train.Job{Model: in.Model, RunID: in.RunID, Hyperparameters: in.Trained.Hyperparameters}
	if len(in.Trained.DataURIs) > 0 {
		job.TrainData = in.Trained.DataURIs[0]
	}
	if len(in.Trained.DataURIs) > 1 {
		job.ValidationData = in.Trained.DataURIs[1]
	}
	trainer := ""
	if _, m, err := o.model(in.Model); err == nil && m.Retrain != nil {
		trainer = m.Retrain.Trainer
	}
	res := &train.Result{Trainer: trainer, BackendJobID: in.Trained.JobID, ArtifactURI: in.Trained.ArtifactURI,
		LogsURI: in.Trained.LogsURI, Metrics: in.Trained.Metrics}
	v, err := train.NewVersion(ctx, job, res, o.s3, train.CodeVersion(o.deps.Getenv), in.Reason)
	if err != nil {
		return "", fmt.Errorf("lineage of run %s: %w", in.RunID, err)
	}
	v, err = o.reg.Register(ctx, in.Model, v)
	if err != nil {
		return "", err
	}
	o.log.Info("registered challenger", "model", in.Model, "run_id", in.RunID, "version", v.Version)
	return FormatVersion(v.Version), nil
}

// SetAlias moves an alias ("" version: remove it) and returns where it
// pointed before. Setting an alias to where it already points changes
// nothing and returns the version the last move came from, so a retried
// promotion still hands its compensation the right version to restore.
func (o *Ops) SetAlias(ctx context.Context, in AliasMove) (previous string, err error) {
	n, err := ParseVersion(in.Version)
	if err != nil {
		return "", err
	}
	alias := in.Alias
	if alias == "" {
		alias = registry.AliasProduction
	}
	prev, err := o.reg.SetAlias(ctx, in.Model, alias, n, in.Actor, in.Reason)
	if err != nil {
		return "", err
	}
	if prev == n {
		prev = 0
		if m, err := o.reg.Model(ctx, in.Model); err == nil {
			for i := len(m.History) - 1; i >= 0; i-- {
				if h := m.History[i]; h.Alias == alias {
					if h.To == n {
						prev = h.From
					}
					break
				}
			}
		} else if !errors.Is(err, registry.ErrNotFound) {
			return "", err
		}
	}
	return FormatVersion(prev), nil
}

// Deploy rolls a version out to the model's SageMaker endpoint when its
// retrain section has sagemaker.deploy; otherwise the registry alias is the
// serving target and there is nothing to do.
func (o *Ops) Deploy(ctx context.Context, model, version string) (target string, err error) {
	_, m, err := o.model(model)
	if err != nil {
		return "", err
	}
	n, err := ParseVersion(version)
	if err != nil {
		return "", err
	}
	if m.Retrain == nil || m.Retrain.SageMaker == nil || m.Retrain.SageMaker.Deploy == nil || n == 0 {
		return "registry", nil
	}
	d, err := train.NewDeployer(ctx, m.Retrain, o.deps)
	if err != nil {
		return "", err
	}
	v, err := o.reg.Get(ctx, model, n)
	if err != nil {
		return "", err
	}
	progress := func(msg string) { o.log.Debug("deploying", "model", model, "version", n, "progress", msg) }
	if _, err := d.Deploy(ctx, model, n, v.ArtifactURI, progress); err != nil {
		return "", err
	}
	return "sagemaker:" + m.Retrain.SageMaker.Deploy.Endpoint, nil
}

// RecordOutcome stores a retrain's verdict (rejected, or back to
// candidate/archived) on a version.
func (o *Ops) RecordOutcome(ctx context.Context, in Outcome) error {
	n, err := ParseVersion(in.Version)
	if err != nil {
		return err
	}
	if n == 0 {
		return permanentf("record outcome of %s: no version given", in.Model)
	}
	status := registry.Status(in.Status)
	switch status {
	case registry.Rejected, registry.Candidate, registry.Archived:
	default:
		return permanentf("record outcome of %s %s: status %q is not one of rejected, candidate, archived", in.Model, in.Version, in.Status)
	}
	return o.reg.SetStatus(ctx, in.Model, n, status, in.Actor, in.Reason)
}

// Rollback moves production back (To "": to the previous production
// version) and records why. The endpoint is not touched here: the
// RollbackWorkflow deploys the restored version in its next step.
//
// A retry of a rollback that already happened (the last production move is
// a rollback by the same actor for the same reason, to To when given)
// returns that move instead of rolling back once more.
func (o *Ops) Rollback(ctx context.Context, in RollbackRequest) (Move, error) {
	to, err := ParseVersion(in.To)
	if err != nil {
		return Move{}, err
	}
	if in.Reason == "" {
		return Move{}, permanentf("rollback of %s needs a reason", in.Model)
	}
	m, err := o.reg.Model(ctx, in.Model)
	if err != nil {
		return Move{}, err
	}
	for i := len(m.History) - 1; i >= 0; i-- {
		h := m.History[i]
		if h.Alias != registry.AliasProduction {
			continue
		}
		if h.Rollback && h.Actor == in.Actor && h.Reason == in.Reason && (to == 0 || h.To == to) && m.Aliases[registry.AliasProduction] == h.To {
			return Move{From: FormatVersion(h.From), To: FormatVersion(h.To)}, nil
		}
		break
	}
	if to != 0 && m.Aliases[registry.AliasProduction] == to {
		return Move{}, permanentf("model %s: %s is already production", in.Model, in.To)
	}
	p := &train.Promoter{Registry: o.reg}
	pr, err := p.Rollback(ctx, in.Model, to, in.Actor, in.Reason, nil)
	if err != nil {
		return Move{}, err
	}
	o.log.Info("rolled back", "model", in.Model, "from", pr.Previous, "to", pr.Version, "actor", in.Actor)
	return Move{From: FormatVersion(pr.Previous), To: FormatVersion(pr.Version)}, nil
}
