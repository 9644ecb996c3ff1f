package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
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
	// A rollout under way (registry aliases shadow and canary): the
	// challenger scores every record in shadow, or answers canaryPercent
	// of them.
	shadow, canary       *demo.Model
	shadowVer, canaryVer string
	canaryPercent        int
	loaded               map[string]*demo.Model // by version
	split                *rand.Rand
	// revertOnChallenger (tests) ends the drift as soon as a challenger is
	// registered: the drift was transient, and the challenger trained on
	// it is worse than the champion on the traffic that follows.
	revertOnChallenger bool
	reverted, revert   bool
}

// predict answers one request as the serving side of a rollout does: the
// canary challenger takes its percent of the requests (logged under its
// version), the rest go to production, and a shadow challenger scores
// every request without answering it (logged under shadow.<version>).
func (d *demoTraffic) predict(features map[string]float64) (logclient.Prediction, error) {
	m, version := d.model, d.version
	if d.canary != nil && d.split.IntN(100) < d.canaryPercent {
		m, version = d.canary, d.canaryVer
	}
	score, pred, err := m.Score(features)
	if err != nil {
		return logclient.Prediction{}, err
	}
	p := logclient.Prediction{ModelVersion: version, Prediction: pred, Score: &score}
	if d.shadow != nil {
		s, sp, err := d.shadow.Score(features)
		if err != nil {
			return logclient.Prediction{}, err
		}
		p.Shadow = map[string]logclient.ShadowPrediction{d.shadowVer: {Prediction: sp, Score: &s}}
	}
	return p, nil
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

// refreshModel loads the versions the registry's aliases name when they
// changed: production, and a rollout's shadow or canary challenger.
func (d *demoTraffic) refreshModel(ctx context.Context) error {
	rec, err := d.reg.Model(ctx, demoModel)
	if err != nil {
		return err
	}
	load := func(n int) (*demo.Model, string, error) {
		name := lifecycle.FormatVersion(n)
		if m := d.loaded[name]; m != nil {
			return m, name, nil
		}
		v := rec.Version(n)
		if v == nil {
			return nil, "", fmt.Errorf("%s %s: %w", demoModel, name, registry.ErrNotFound)
		}
		m, err := demo.LoadURI(v.ArtifactURI)
		if err != nil {
			return nil, "", fmt.Errorf("load %s %s: %w", demoModel, name, err)
		}
		if d.loaded == nil {
			d.loaded = map[string]*demo.Model{}
		}
		d.loaded[name] = m
		return m, name, nil
	}
	prod := rec.Aliases[registry.AliasProduction]
	if prod == 0 {
		return fmt.Errorf("%s: no production version: %w", demoModel, registry.ErrNotFound)
	}
	m, name, err := load(prod)
	if err != nil {
		return err
	}
	if d.version != "" && name != d.version {
		d.log.Info("demo model server now serves the new production version", "model", demoModel, "from", d.version, "to", name)
	}
	d.model, d.version = m, name
	d.shadow, d.shadowVer, d.canary, d.canaryVer, d.canaryPercent = nil, "", nil, "", 0
	if n := rec.Aliases[registry.AliasShadow]; n != 0 {
		if d.shadow, d.shadowVer, err = load(n); err != nil {
			return err
		}
	}
	if n := rec.Aliases[registry.AliasCanary]; n != 0 && rec.Rollout != nil && rec.Rollout.Challenger == n {
		if d.canary, d.canaryVer, err = load(n); err != nil {
			return err
		}
		d.canaryPercent = rec.Rollout.Percent
	}
	if d.revertOnChallenger && !d.reverted && len(rec.Versions) > 1 {
		d.reverted = true
		d.log.Info("demo traffic: a challenger is registered; the drift ends now", "model", demoModel)
		d.revert = true
	}
	return nil
}

func (d *demoTraffic) run(ctx context.Context) error {
	driftAt, err := d.driftTime(time.Now())
	if err != nil {
		return fmt.Errorf("demo drift time: %w", err)
	}
	seed := uint64(time.Now().UnixNano())
	g := demo.NewGenerator(demo.GeneratorConfig{Seed: seed, DriftAt: driftAt})
	d.split = rand.New(rand.NewPCG(seed, 0xca7a))
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
			if d.revert {
				d.revert = false
				g.Revert(now)
			}
			for range d.rate {
				seq++
				ex := g.Sample(now)
				p, err := d.predict(ex.FeatureMap())
				if err != nil {
					return err
				}
				features := map[string]any{}
				for k, v := range ex.FeatureMap() {
					features[k] = v
				}
				p.EventID, p.Time, p.Features = fmt.Sprintf("demo-%d-%d", now.UnixNano(), seq), now.UTC(), features
				latency := ex.LatencyMS
				p.LatencyMS = &latency
				_ = client.Log(ctx, p)
				id := p.EventID
				_ = client.LogGroundTruth(ctx, logclient.GroundTruth{EventID: id, Label: ex.Label, Time: now.UTC()})
			}
		}
	}
}
