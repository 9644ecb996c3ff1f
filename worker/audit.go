package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/vigilml/vigil/activities"
	"github.com/vigilml/vigil/audit"
	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/control"
	"github.com/vigilml/vigil/store"
	"github.com/vigilml/vigil/train/lifecycle"
	"github.com/vigilml/vigil/train/registry"
)

// startAudit, when the config has audit.kafka, gives the activities the
// audit outbox (under storage.registry) and the registry's lineage, has wc
// record silences, and
// runs the publisher that drains the outbox to Kafka until ctx is done.
// Without audit.kafka it does nothing.
func startAudit(ctx context.Context, cfg *config.Config, st *store.Store, reg *registry.Registry, acts *activities.Activities, wc *control.Client, log *slog.Logger) {
	k := cfg.Audit.Kafka
	if k == nil {
		return
	}
	outbox := audit.NewOutbox(st, cfg.Storage.Registry)
	acts.Audit = outbox
	acts.Lineage = registryLineage(reg)
	// Silences (Slack buttons, the run API) run no activity: recorded here.
	wc.OnSilence = audit.SilenceRecorder(outbox, cfg.Temporal.Namespace)
	pub := &audit.Publisher{Outbox: outbox, Kafka: *k, Getenv: os.Getenv, Logger: log.With("component", "audit")}
	log.Info("publishing audit events", "topic", k.Topic, "brokers", k.Brokers, "outbox", cfg.Storage.Registry+"/audit/outbox")
	go pub.Run(ctx)
}

// registryLineage reads a version's lineage from the registry.
func registryLineage(reg *registry.Registry) func(ctx context.Context, model, version string) (*audit.Lineage, error) {
	return func(ctx context.Context, model, version string) (*audit.Lineage, error) {
		n, err := lifecycle.ParseVersion(version)
		if err != nil {
			return nil, err
		}
		v, err := reg.Get(ctx, model, n)
		if err != nil {
			return nil, err
		}
		return audit.LineageOf(v), nil
	}
}
