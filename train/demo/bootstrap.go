package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/vigilml/vigil/train"
	"github.com/vigilml/vigil/train/registry"
)

// BootstrapRunID is the run id of the demo's first model version.
const BootstrapRunID = "demo-bootstrap"

// Bootstrap prepares the closed-loop demo for model: unless the model
// already has a production version (which it then returns), it trains
// version 1 on n examples of traffic as of at (before the drift), writes
// its training data and model under runsDir/demo-bootstrap/, writes the
// reference window (x1..x4, label, prediction, score, latency_ms, scored by
// that model) to referencePath, registers the version with its lineage and
// makes it production. It is idempotent: a second call changes nothing.
func Bootstrap(ctx context.Context, reg *registry.Registry, model, runsDir, referencePath string, g *Generator, at time.Time, n int) (registry.Version, error) {
	if v, err := reg.Resolve(ctx, model, registry.AliasProduction); err == nil {
		return v, nil
	} else if !errors.Is(err, registry.ErrNotFound) {
		return registry.Version{}, err
	}
	dir := filepath.Join(runsDir, BootstrapRunID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return registry.Version{}, err
	}
	data := g.Samples(n, at)
	trainPath := filepath.Join(dir, "train.jsonl")
	if err := writeWith(trainPath, func(f *os.File) error { return WriteJSONL(f, data) }); err != nil {
		return registry.Version{}, err
	}
	m, err := Fit(Features, data, FitOptions{})
	if err != nil {
		return registry.Version{}, err
	}
	modelPath := filepath.Join(dir, "model.json")
	if err := m.Save(modelPath); err != nil {
		return registry.Version{}, err
	}
	ref := g.Samples(n, at)
	if err := os.MkdirAll(filepath.Dir(referencePath), 0o755); err != nil {
		return registry.Version{}, err
	}
	if err := writeWith(referencePath, func(f *os.File) error { return WriteScoredCSV(f, m, ref) }); err != nil {
		return registry.Version{}, err
	}
	res := &train.Result{Trainer: "demo-bootstrap", BackendJobID: BootstrapRunID, ArtifactURI: "file://" + modelPath, Metrics: Metrics(m, ref)}
	job := train.Job{Model: model, RunID: BootstrapRunID, TrainData: "file://" + trainPath, Output: "file://" + dir}
	v, err := train.NewVersion(ctx, job, res, nil, "", "demo bootstrap")
	if err != nil {
		return registry.Version{}, err
	}
	if v, err = reg.Register(ctx, model, v); err != nil {
		return registry.Version{}, err
	}
	if _, err := reg.SetAlias(ctx, model, registry.AliasProduction, v.Version, "vigil-dev", "demo bootstrap"); err != nil {
		return registry.Version{}, err
	}
	return reg.Get(ctx, model, v.Version)
}

// WriteScoredCSV writes examples scored by m: x1..x4, label, prediction,
// score, latency_ms, the columns of the demo config.
func WriteScoredCSV(f io.Writer, m *Model, examples []Example) error {
	if _, err := fmt.Fprintln(f, "x1,x2,x3,x4,label,prediction,score,latency_ms"); err != nil {
		return err
	}
	for _, e := range examples {
		p := m.PredictProba(e.X)
		pred := 0
		if p >= 0.5 {
			pred = 1
		}
		if _, err := fmt.Fprintf(f, "%g,%g,%g,%g,%d,%d,%g,%g\n", e.X[0], e.X[1], e.X[2], e.X[3], e.Label, pred, p, e.LatencyMS); err != nil {
			return err
		}
	}
	return nil
}

func writeWith(path string, write func(*os.File) error) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
