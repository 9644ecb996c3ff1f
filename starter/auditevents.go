package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/vigilml/vigil/audit"
	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/store"
	"github.com/vigilml/vigil/train/lifecycle"
	"github.com/vigilml/vigil/train/registry"
)

// recordAliasMove puts the audit event of an alias move the starter made
// itself (promote, models register -promote) in the audit outbox, which
// the worker publishes; nothing without audit.kafka.
func recordAliasMove(ctx context.Context, cfg *config.Config, reg *registry.Registry, model, alias string, from, to int, actor, reason string) error {
	if cfg.Audit.Kafka == nil || from == to {
		return nil
	}
	d := audit.Data{Model: model, Alias: alias, ModelVersion: lifecycle.FormatVersion(to), PreviousVersion: lifecycle.FormatVersion(from),
		Actor: actor, Reason: reason}
	if v, err := reg.Get(ctx, model, to); err == nil {
		l := audit.LineageOf(v)
		d.Data, d.CodeVersion, d.Hyperparameters, d.ArtifactURI, d.RunID = l.Data, l.CodeVersion, l.Hyperparameters, l.ArtifactURI, l.RunID
	}
	now := time.Now()
	ev := audit.New(audit.Source(cfg.Temporal.Namespace), audit.AliasMoved, now, d,
		model, alias, strconv.Itoa(from), strconv.Itoa(to), strconv.FormatInt(now.UnixNano(), 10))
	if err := audit.NewOutbox(store.New(cfg.Storage), cfg.Storage.Registry).Record(ctx, ev); err != nil {
		return fmt.Errorf("%s: %s moved to %d, but the audit trail did not record it: %w", model, alias, to, err)
	}
	return nil
}
