package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/store/ingest/logclient"
	"github.com/vigilml/vigil/train/demo"
	"github.com/vigilml/vigil/train/lifecycle"
	"github.com/vigilml/vigil/train/registry"
)

// demoModel is the model of the built-in demo config.
const demoModel = "demo"

// demoTraffic plays a model server in dev mode: it scores generated records
// with whatever version is in production and logs predictions and labels
// through the worker's own ingest API, the path real servers use. The
// concept drifts after driftAfter, so the user watches accuracy fall, an
// incident open, a retrain promote a challenger, and accuracy recover.
type demoTraffic struct {
	cfg        *config.Config
	reg        *registry.Registry
	ingestURL  string
	driftAfter time.Duration
	rate       int           // records per tick
	tick       time.Duration // how often a batch is sent
	log        *slog.Logger

	model   *demo.Model
	version string
}

// driftTime is when the demo's concept changes. It is kept in the data dir
// so that a restarted dev worker continues the same story instead of
// replaying pre-drift traffic against a retrained model.
func (d *demoTraffic) driftTime(now time.Time) (time.Time, error) {
	path := filepath.Join(d.cfg.Dev.DataDir, demoModel, "drift-at")
	if b, err := os.ReadFile(path); err == nil {
		return time.Parse(time.RFC3339Nano, strings.TrimSpace(string(b)))
	} else if !errors.Is(err, os.ErrNotExist) {
		return time.Time{}, err
	}
	at := now.Add(d.driftAfter).UTC()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return time.Time{}, err
	}
	return at, os.WriteFile(path, []byte(at.Format(time.RFC3339Nano)+"\n"), 0o644)
}

// bootstrap registers v1, trained before the drift, as production and writes
// the reference data, once.
func (d *demoTraffic) bootstrap(ctx context.Context, g *demo.Generator, driftAt time.Time) error {
	m := d.cfg.Model(demoModel)
	if m == nil {
		return errors.New("the demo config has no demo model")
	}
	runs := filepath.Join(d.cfg.Dev.DataDir, demoModel, "runs")
	ref := strings.TrimPrefix(m.Reference.URI, "file://")
	if _, err := demo.Bootstrap(ctx, d.reg, demoModel, runs, ref, g, driftAt.Add(-time.Hour), 2000); err != nil {
		return fmt.Errorf("bootstrap demo model: %w", err)
	}
	return nil
}

// refreshModel loads the production version when it changed.
func (d *demoTraffic) refreshModel(ctx context.Context) error {
	v, err := d.reg.Resolve(ctx, demoModel, registry.AliasProduction)
	if err != nil {
		return err
	}
	name := lifecycle.FormatVersion(v.Version)
	if name == d.version && d.model != nil {
		return nil
	}
	m, err := demo.LoadURI(v.ArtifactURI)
	if err != nil {
		return fmt.Errorf("load %s %s: %w", demoModel, name, err)
	}
	if d.version != "" {
		d.log.Info("demo model server now serves the new production version", "model", demoModel, "from", d.version, "to", name)
	}
	d.model, d.version = m, name
	return nil
}

func (d *demoTraffic) run(ctx context.Context) error {
	driftAt, err := d.driftTime(time.Now())
	if err != nil {
		return fmt.Errorf("demo drift time: %w", err)
	}
	g := demo.NewGenerator(demo.GeneratorConfig{Seed: uint64(time.Now().UnixNano()), DriftAt: driftAt})
	if err := d.bootstrap(ctx, g, driftAt); err != nil {
		return err
	}
	if time.Until(driftAt) > 0 {
		d.log.Info("demo traffic started; the concept drifts at "+driftAt.Local().Format(time.TimeOnly), "model", demoModel, "drift_in", time.Until(driftAt).Round(time.Second))
	}
	client := logclient.New(d.ingestURL, demoModel, logclient.Options{
		FlushInterval: d.tick,
		OnError:       func(err error) { d.log.Warn("demo traffic: batch dropped", "err", err) },
	})
	defer client.Close()
	t := time.NewTicker(d.tick)
	defer t.Stop()
	seq := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			if err := d.refreshModel(ctx); err != nil {
				d.log.Warn("demo traffic: no production model", "err", err)
				continue
			}
			for range d.rate {
				seq++
				ex := g.Sample(now)
				score, pred, err := d.model.Score(ex.FeatureMap())
				if err != nil {
					return err
				}
				features := map[string]any{}
				for k, v := range ex.FeatureMap() {
					features[k] = v
				}
				id := fmt.Sprintf("demo-%d-%d", now.UnixNano(), seq)
				latency := ex.LatencyMS
				_ = client.Log(ctx, logclient.Prediction{
					EventID: id, Time: now.UTC(), ModelVersion: d.version, Features: features,
					Prediction: pred, Score: &score, LatencyMS: &latency,
				})
				_ = client.LogGroundTruth(ctx, logclient.GroundTruth{EventID: id, Label: ex.Label, Time: now.UTC()})
			}
		}
	}
}
