package train

import (
	"context"
	"errors"
	"fmt"

	"github.com/vigilml/vigil/train/registry"
)

// Promoter moves a model's production alias and, when a deployer is
// configured, the serving SageMaker endpoint with it. Its results are plain
// data, so activities can return them and compensations can take them back.
type Promoter struct {
	Registry *registry.Registry
	Deployer *SageMakerDeployer // nil: the registry alias is the only target
}

// Promotion records what a promotion or rollback changed.
type Promotion struct {
	Model    string `json:"model"`
	Version  int    `json:"version"`
	Previous int    `json:"previous"` // 0: the model had no production version
	// Deployment is set when an endpoint was updated.
	Deployment *Deployment `json:"deployment,omitempty"`
}

// Promote makes version the production version of model: it moves the alias
// (recording actor and reason), then updates the endpoint. If the endpoint
// update fails, the alias is moved back before the error is returned.
func (p *Promoter) Promote(ctx context.Context, model string, version int, actor, reason string, progress func(string)) (*Promotion, error) {
	prev, err := p.Registry.SetAlias(ctx, model, registry.AliasProduction, version, actor, reason)
	if err != nil {
		return nil, err
	}
	pr := &Promotion{Model: model, Version: version, Previous: prev}
	if err := p.deploy(ctx, pr, progress); err != nil {
		_, undoErr := p.Registry.SetAlias(context.WithoutCancel(ctx), model, registry.AliasProduction, prev, actor,
			fmt.Sprintf("compensation: endpoint update for version %d failed", version))
		return nil, errors.Join(err, undoErr)
	}
	return pr, nil
}

// Undo reverses a promotion (compensation when a later step fails): the
// endpoint goes back to its previous config and the alias to the previous
// version (or is removed, if there was none).
func (p *Promoter) Undo(ctx context.Context, pr *Promotion, actor, reason string) error {
	var errs []error
	if p.Deployer != nil && pr.Deployment != nil {
		errs = append(errs, p.Deployer.Restore(ctx, pr.Deployment, nil))
	}
	_, err := p.Registry.SetAlias(ctx, pr.Model, registry.AliasProduction, pr.Previous, actor, reason)
	return errors.Join(append(errs, err)...)
}

// Rollback moves production back to version to (0: the previous production
// version, see registry.Rollback), records actor and reason, and serves the
// restored version's artifact on the endpoint. This is the operation the
// RollbackWorkflow's activity performs.
func (p *Promoter) Rollback(ctx context.Context, model string, to int, actor, reason string, progress func(string)) (*Promotion, error) {
	mv, err := p.Registry.Rollback(ctx, model, to, actor, reason)
	if err != nil {
		return nil, err
	}
	pr := &Promotion{Model: model, Version: mv.To, Previous: mv.From}
	if err := p.deploy(ctx, pr, progress); err != nil {
		return pr, fmt.Errorf("production alias rolled back to version %d, but the endpoint was not updated: %w", mv.To, err)
	}
	return pr, nil
}

func (p *Promoter) deploy(ctx context.Context, pr *Promotion, progress func(string)) error {
	if p.Deployer == nil {
		return nil
	}
	v, err := p.Registry.Get(ctx, pr.Model, pr.Version)
	if err != nil {
		return err
	}
	pr.Deployment, err = p.Deployer.Deploy(ctx, pr.Model, pr.Version, v.ArtifactURI, progress)
	return err
}
