package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/store/ingest/kafka"
)

// startKafkaConsumers runs a consumer for every source.kafka and
// ground_truth.kafka of the config until ctx is done. Each reconnects by
// itself after errors, so one stream's trouble stops no other.
func startKafkaConsumers(ctx context.Context, cfg *config.Config, st kafka.Store, log *slog.Logger) error {
	for _, m := range cfg.Models {
		for _, gt := range []bool{false, true} {
			src := m.Source
			if gt {
				src = m.GroundTruth
			}
			if src.Kafka == nil {
				continue
			}
			c, err := kafka.New(m, gt, st, kafka.Options{Getenv: os.Getenv, Logger: log})
			if err != nil {
				return err
			}
			log.Info("consuming Kafka", "model", m.Name, "topic", src.Kafka.Topic, "group", src.Kafka.Group, "into", src.URI)
			go c.Run(ctx)
		}
	}
	return nil
}
