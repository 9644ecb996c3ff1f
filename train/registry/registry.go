package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"time"

	"github.com/vigilml/vigil/store"
)

// Status is where a version is in its life.
type Status string

const (
	Candidate  Status = "candidate"  // registered, not (yet) promoted
	Production Status = "production" // the production alias points at it
	Archived   Status = "archived"   // was production, replaced or rolled back
	Rejected   Status = "rejected"   // failed the gate or a human rejected it
)

// Well-known aliases.
const (
	AliasProduction = "production"
	AliasStaging    = "staging"
	// AliasShadow and AliasCanary name the challenger of a rollout under way
	// (retrain.rollout: shadow or canary); the serving side reads them.
	AliasShadow = "shadow"
	AliasCanary = "canary"
)

// Version is one registered model version and its lineage.
type Version struct {
	Version int    `json:"version"` // 1, 2, ... per model
	RunID   string `json:"run_id"`  // the training run; Register is idempotent by it
	Status  Status `json:"status"`

	Created      time.Time `json:"created"`
	Trainer      string    `json:"trainer"`
	BackendJobID string    `json:"backend_job_id,omitempty"`
	ArtifactURI  string    `json:"artifact_uri"`
	LogsURI      string    `json:"logs_uri,omitempty"`

	Data            []Data             `json:"data,omitempty"`
	Hyperparameters map[string]string  `json:"hyperparameters,omitempty"`
	Metrics         map[string]float64 `json:"metrics,omitempty"`
	CodeVersion     string             `json:"code_version,omitempty"` // e.g. the trainer's git commit
	// Reason is why the run happened (e.g. the breached rule).
	Reason string `json:"reason,omitempty"`

	ApprovedBy   string     `json:"approved_by,omitempty"`
	ApprovedAt   *time.Time `json:"approved_at,omitempty"`
	StatusReason string     `json:"status_reason,omitempty"` // why it was rejected or archived
}

// Data is one input of a training run.
type Data struct {
	Role string `json:"role"` // train | validation | reference ...
	URI  string `json:"uri"`
	// SHA256 identifies the content read (see train.HashData).
	SHA256 string `json:"sha256"`
}

// AliasMove records one move of an alias.
type AliasMove struct {
	Alias string    `json:"alias"`
	From  int       `json:"from"` // 0: the alias was not set
	To    int       `json:"to"`   // 0: the alias was removed
	Actor string    `json:"actor"`
	Time  time.Time `json:"time"`
	// Reason says why: "promoted after retrain-churn", "rollback: ...".
	Reason   string `json:"reason"`
	Rollback bool   `json:"rollback,omitempty"`
}

// Model is the registry document of one model.
type Model struct {
	Name     string         `json:"name"`
	Versions []Version      `json:"versions"`
	Aliases  map[string]int `json:"aliases"`
	History  []AliasMove    `json:"history"`
	// Rollout is the model's latest shadow or canary rollout (nil: none
	// yet): what it compares, how far it got and what was decided.
	Rollout *Rollout `json:"rollout,omitempty"`
}

// Rollout is one shadow or canary rollout of a challenger beside the
// champion, as the retrain workflow records it step by step. Serving reads
// Mode, Challenger and Percent; the dashboard and alerts show the evidence.
type Rollout struct {
	// ID identifies the rollout (the retrain workflow's ID and run).
	ID         string `json:"id"`
	Mode       string `json:"mode"` // shadow | canary
	Champion   int    `json:"champion"`
	Challenger int    `json:"challenger"`
	// Percent is the challenger's share of live traffic (canary; 0 for a
	// shadow, which answers no request).
	Percent   int       `json:"percent"`
	StartedAt time.Time `json:"started_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Steps are the evaluations so far, oldest first.
	Steps []RolloutStep `json:"steps,omitempty"`
	// Decision is empty while the rollout runs, then promoted, rejected or
	// rolled-back; Reason gives the evidence in words.
	Decision string `json:"decision,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Actor    string `json:"actor,omitempty"`
}

// RolloutStep is one evaluation of the challenger against the champion.
type RolloutStep struct {
	At      time.Time `json:"at"`
	Percent int       `json:"percent"` // the challenger's traffic share during the step
	Rows    int64     `json:"rows"`    // events compared
	Metric  string    `json:"metric"`
	// Champion and Challenger are the metric on the compared events;
	// Difference is challenger minus champion with its always-valid
	// interval [Lower, Upper].
	Champion   float64 `json:"champion"`
	Challenger float64 `json:"challenger"`
	Difference float64 `json:"difference"`
	Lower      float64 `json:"lower"`
	Upper      float64 `json:"upper"`
	PValue     float64 `json:"p_value"`
	// Verdict: continue, better, not-worse, worse, breach.
	Verdict string `json:"verdict"`
}

// Version returns version v, or nil.
func (m *Model) Version(v int) *Version {
	for i := range m.Versions {
		if m.Versions[i].Version == v {
			return &m.Versions[i]
		}
	}
	return nil
}

// ErrNotFound is returned for a model, version or alias that does not exist.
var ErrNotFound = errors.New("not found in the registry")

// Registry reads and changes registry documents.
type Registry struct {
	blobs store.Blobs
	now   func() time.Time
}

// Option configures a Registry.
type Option func(*Registry)

// WithClock sets the clock stamped on versions and alias moves.
func WithClock(now func() time.Time) Option { return func(r *Registry) { r.now = now } }

// New returns a registry over blobs (the storage.registry root).
func New(blobs store.Blobs, opts ...Option) *Registry {
	r := &Registry{blobs: blobs, now: time.Now}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Key is where a model's document lives in the Blobs.
func Key(model string) string { return model + "/registry.json" }

// Model returns the whole document of a model (ErrNotFound if it has none).
func (r *Registry) Model(ctx context.Context, model string) (*Model, error) {
	m, _, err := r.read(ctx, model)
	if err != nil {
		return nil, err
	}
	if len(m.Versions) == 0 {
		return nil, fmt.Errorf("model %q: %w", model, ErrNotFound)
	}
	return m, nil
}

// Register adds a version and returns it with its number. Registering a run
// id that is already registered returns the existing version unchanged, so
// an activity retried after a crash does not create a second version.
// Number, Created and (if empty) Status are filled in.
func (r *Registry) Register(ctx context.Context, model string, v Version) (Version, error) {
	if v.RunID == "" {
		return Version{}, errors.New("registry: a version needs the run id that produced it")
	}
	if v.ArtifactURI == "" {
		return Version{}, errors.New("registry: a version needs an artifact URI")
	}
	var out Version
	err := r.update(ctx, model, func(m *Model) (bool, error) {
		for _, old := range m.Versions {
			if old.RunID == v.RunID {
				out = old
				return false, nil
			}
		}
		v.Version = 1
		for _, old := range m.Versions {
			v.Version = max(v.Version, old.Version+1)
		}
		v.Created = r.now().UTC()
		if v.Status == "" {
			v.Status = Candidate
		}
		m.Versions = append(m.Versions, v)
		out = v
		return true, nil
	})
	return out, err
}

// Get returns one version.
func (r *Registry) Get(ctx context.Context, model string, version int) (Version, error) {
	m, err := r.Model(ctx, model)
	if err != nil {
		return Version{}, err
	}
	v := m.Version(version)
	if v == nil {
		return Version{}, fmt.Errorf("model %q version %d: %w", model, version, ErrNotFound)
	}
	return *v, nil
}

// Resolve returns the version an alias points at.
func (r *Registry) Resolve(ctx context.Context, model, alias string) (Version, error) {
	m, err := r.Model(ctx, model)
	if err != nil {
		return Version{}, err
	}
	n := m.Aliases[alias]
	if n == 0 {
		return Version{}, fmt.Errorf("model %q has no %q version: %w", model, alias, ErrNotFound)
	}
	return *m.Version(n), nil
}

// List returns a model's versions, oldest first.
func (r *Registry) List(ctx context.Context, model string) ([]Version, error) {
	m, err := r.Model(ctx, model)
	if err != nil {
		return nil, err
	}
	return m.Versions, nil
}

// SetAlias points alias at version (0 removes the alias) and returns the
// version it pointed at before (0: none), which is what a compensation
// passes back to undo the move. Moving "production" marks the new version
// production and the old one archived; an approval actor is recorded when a
// version first becomes production.
func (r *Registry) SetAlias(ctx context.Context, model, alias string, version int, actor, reason string) (previous int, err error) {
	err = r.update(ctx, model, func(m *Model) (bool, error) {
		previous = m.Aliases[alias]
		if version != 0 && m.Version(version) == nil {
			return false, fmt.Errorf("model %q version %d: %w", model, version, ErrNotFound)
		}
		if previous == version {
			return false, nil
		}
		r.move(m, AliasMove{Alias: alias, From: previous, To: version, Actor: actor, Reason: reason})
		return true, nil
	})
	return previous, err
}

// SetRollout records the model's current rollout (replacing an earlier
// one with another ID). Writing the same state again changes nothing, so a
// retried activity stores it once.
func (r *Registry) SetRollout(ctx context.Context, model string, ro Rollout) error {
	return r.update(ctx, model, func(m *Model) (bool, error) {
		if m.Rollout != nil && reflect.DeepEqual(*m.Rollout, ro) {
			return false, nil
		}
		m.Rollout = &ro
		return true, nil
	})
}

// Rollback moves the production alias back, to version to or (to == 0) to
// the last production version before the current one that was not itself
// rolled back from, and records actor and reason. It returns the move.
func (r *Registry) Rollback(ctx context.Context, model string, to int, actor, reason string) (AliasMove, error) {
	if reason == "" {
		return AliasMove{}, errors.New("registry: a rollback needs a reason")
	}
	var mv AliasMove
	err := r.update(ctx, model, func(m *Model) (bool, error) {
		cur := m.Aliases[AliasProduction]
		target := to
		if target == 0 {
			target = previousProduction(m, cur)
			if target == 0 {
				return false, fmt.Errorf("model %q: no earlier production version to roll back to: %w", model, ErrNotFound)
			}
		}
		v := m.Version(target)
		if v == nil {
			return false, fmt.Errorf("model %q version %d: %w", model, target, ErrNotFound)
		}
		if target == cur {
			return false, fmt.Errorf("model %q: version %d is already production", model, target)
		}
		mv = AliasMove{Alias: AliasProduction, From: cur, To: target, Actor: actor, Reason: reason, Rollback: true}
		r.move(m, mv)
		mv = m.History[len(m.History)-1]
		return true, nil
	})
	return mv, err
}

// PreviousProduction returns the version Rollback goes back to by default.
func (r *Registry) PreviousProduction(ctx context.Context, model string) (int, error) {
	m, err := r.Model(ctx, model)
	if err != nil {
		return 0, err
	}
	return previousProduction(m, m.Aliases[AliasProduction]), nil
}

func previousProduction(m *Model, cur int) int {
	rolledBack := map[int]bool{}
	for i := len(m.History) - 1; i >= 0; i-- {
		h := m.History[i]
		if h.Alias != AliasProduction {
			continue
		}
		if h.Rollback {
			rolledBack[h.From] = true
		}
		if c := h.From; c != 0 && c != cur && !rolledBack[c] {
			if v := m.Version(c); v != nil && v.Status != Rejected {
				return c
			}
		}
	}
	return 0
}

// SetStatus records a decision about a version: Rejected (gate failed, a
// human said no) or Candidate/Archived; approval of a candidate is recorded
// with Approve. Production is set only by moving the alias.
func (r *Registry) SetStatus(ctx context.Context, model string, version int, status Status, actor, reason string) error {
	if status == Production {
		return errors.New("registry: a version becomes production by moving the production alias (SetAlias)")
	}
	return r.update(ctx, model, func(m *Model) (bool, error) {
		v := m.Version(version)
		if v == nil {
			return false, fmt.Errorf("model %q version %d: %w", model, version, ErrNotFound)
		}
		if m.Aliases[AliasProduction] == version {
			return false, fmt.Errorf("model %q version %d is production; move the alias first", model, version)
		}
		v.Status, v.StatusReason = status, reason
		if actor != "" {
			v.StatusReason = actor + ": " + reason
		}
		return true, nil
	})
}

// Approve records who approved a version for promotion.
func (r *Registry) Approve(ctx context.Context, model string, version int, actor string) error {
	return r.update(ctx, model, func(m *Model) (bool, error) {
		v := m.Version(version)
		if v == nil {
			return false, fmt.Errorf("model %q version %d: %w", model, version, ErrNotFound)
		}
		if v.ApprovedBy == actor {
			return false, nil
		}
		now := r.now().UTC()
		v.ApprovedBy, v.ApprovedAt = actor, &now
		return true, nil
	})
}

// move applies an alias move to m and keeps statuses in line with the
// production alias.
func (r *Registry) move(m *Model, mv AliasMove) {
	mv.Time = r.now().UTC()
	if mv.To == 0 {
		delete(m.Aliases, mv.Alias)
	} else {
		m.Aliases[mv.Alias] = mv.To
	}
	m.History = append(m.History, mv)
	if mv.Alias != AliasProduction {
		return
	}
	if old := m.Version(mv.From); old != nil && old.Status == Production {
		old.Status = Archived
		if mv.Rollback {
			old.StatusReason = "rolled back: " + mv.Reason
		}
	}
	if nv := m.Version(mv.To); nv != nil {
		nv.Status = Production
		nv.StatusReason = ""
	}
}

// maxAttempts bounds the CAS loop; conflicts mean another writer made
// progress, so running out takes a pathological amount of contention.
const maxAttempts = 100

// update applies change to the model's document under compare-and-swap.
// change reports whether it changed anything (false: nothing is written).
func (r *Registry) update(ctx context.Context, model string, change func(*Model) (bool, error)) error {
	if model == "" {
		return errors.New("registry: empty model name")
	}
	for attempt := 0; attempt < maxAttempts; attempt++ {
		m, version, err := r.read(ctx, model)
		if err != nil {
			return err
		}
		changed, err := change(m)
		if err != nil || !changed {
			return err
		}
		data, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			return err
		}
		_, err = r.blobs.PutIf(ctx, Key(model), append(data, '\n'), version)
		if err == nil {
			return nil
		}
		if !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("registry: write %s: %w", Key(model), err)
		}
		// Someone else wrote first: back off a little, re-read, re-apply.
		backoff := time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt, 6)))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
	}
	return fmt.Errorf("registry: %s: gave up after %d conflicting writes", Key(model), maxAttempts)
}

func (r *Registry) read(ctx context.Context, model string) (*Model, string, error) {
	data, version, err := r.blobs.Get(ctx, Key(model))
	if errors.Is(err, store.ErrNotFound) {
		return &Model{Name: model, Aliases: map[string]int{}}, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("registry: read %s: %w", Key(model), err)
	}
	var m Model
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, "", fmt.Errorf("registry: %s is not a registry document: %w", Key(model), err)
	}
	if m.Aliases == nil {
		m.Aliases = map[string]int{}
	}
	m.Name = model
	return &m, version, nil
}

// SortedAliases returns alias names in a stable order, production first.
func (m *Model) SortedAliases() []string {
	var names []string
	for a := range m.Aliases {
		names = append(names, a)
	}
	slices.SortFunc(names, func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == AliasProduction:
			return -1
		case b == AliasProduction:
			return 1
		case a < b:
			return -1
		}
		return 1
	})
	return names
}
