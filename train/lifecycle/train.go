package lifecycle

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vigilml/vigil/analysis"
	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/store"
	"github.com/vigilml/vigil/train"
)

// dataManifest is written to a run's output after its data files are
// complete: its presence means the export is done and is reused by a retry.
type dataManifest struct {
	RunID          string    `json:"run_id"`
	TrainFrom      time.Time `json:"train_from"`
	TrainTo        time.Time `json:"train_to"`
	HoldoutTo      time.Time `json:"holdout_to"`
	Target         string    `json:"target"`
	Features       []string  `json:"features"`
	TrainRows      int64     `json:"train_rows"`
	ValidationRows int64     `json:"validation_rows"`
	TrainURI       string    `json:"train_uri"`
	ValidationURI  string    `json:"validation_uri"`
}

// Train exports the model's labeled production records of the training and
// held-out windows as JSONL into the run's output (once per run id) and runs
// the configured trainer on them. A cancellation of ctx whose cause is
// train.ErrShutdown (the worker is stopping) leaves a remote job running for
// the next attempt (see train.ErrShutdown).
func (o *Ops) Train(ctx context.Context, in TrainRequest, progress func(string)) (*Trained, error) {
	if progress == nil {
		progress = func(string) {}
	}
	cfg, m, err := o.retrainModel(in.Model)
	if err != nil {
		return nil, err
	}
	if in.RunID == "" {
		return nil, permanentf("train %s: no run id", in.Model)
	}
	if !in.TrainFrom.Before(in.TrainTo) || !in.TrainTo.Before(in.HoldoutTo) {
		return nil, permanentf("train %s: want TrainFrom < TrainTo < HoldoutTo, got %s, %s, %s", in.Model,
			in.TrainFrom.Format(time.RFC3339), in.TrainTo.Format(time.RFC3339), in.HoldoutTo.Format(time.RFC3339))
	}
	if m.Columns.Target == "" {
		return nil, permanentf("train %s: the model has no columns.target; retraining needs labels", in.Model)
	}
	output := train.RunOutput(cfg, m, in.RunID)
	man, err := o.exportData(ctx, m, in, output, progress)
	if err != nil {
		return nil, err
	}
	tr, err := train.New(ctx, m.Retrain, o.deps)
	if err != nil {
		return nil, permanentf("train %s: %v", in.Model, err)
	}
	job := train.Job{Model: m.Name, RunID: in.RunID, TrainData: man.TrainURI, ValidationData: man.ValidationURI,
		Output: output, Hyperparameters: m.Retrain.Hyperparameters}
	res, err := tr.Train(ctx, job, progress)
	if err != nil {
		return nil, err
	}
	if tr.Name() == "sagemaker" {
		if err := o.collectSageMakerOutput(ctx, output, res, progress); err != nil {
			return nil, fmt.Errorf("train %s: %w", m.Name, err)
		}
	}
	o.log.Info("trained challenger", "model", m.Name, "run_id", in.RunID, "artifact", res.ArtifactURI,
		"train_rows", man.TrainRows, "validation_rows", man.ValidationRows)
	return &Trained{
		ArtifactURI: res.ArtifactURI, Metrics: res.Metrics, JobID: res.BackendJobID, LogsURI: res.LogsURI,
		DataURIs: []string{man.TrainURI, man.ValidationURI}, Hyperparameters: m.Retrain.Hyperparameters,
	}, nil
}

// readManifest returns the run's data manifest, or nil when there is none.
func (o *Ops) readManifest(ctx context.Context, output string) (*dataManifest, error) {
	blobs, err := o.st.Blobs(ctx, output)
	if err != nil {
		return nil, err
	}
	data, _, err := blobs.Get(ctx, DataManifestFile)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var man dataManifest
	if err := json.Unmarshal(data, &man); err != nil {
		return nil, permanentf("%s/%s: %v", output, DataManifestFile, err)
	}
	return &man, nil
}

// exportData writes train.jsonl and validation.jsonl for the run, or
// returns the manifest of an earlier attempt's export.
func (o *Ops) exportData(ctx context.Context, m *config.Model, in TrainRequest, output string, progress func(string)) (*dataManifest, error) {
	man, err := o.readManifest(ctx, output)
	if err != nil {
		return nil, fmt.Errorf("train %s: %w", m.Name, err)
	}
	if man != nil {
		if !man.TrainFrom.Equal(in.TrainFrom) || !man.TrainTo.Equal(in.TrainTo) || !man.HoldoutTo.Equal(in.HoldoutTo) {
			return nil, permanentf("train %s: run %s already exported other windows (%s..%s..%s); a run id names one set of windows",
				m.Name, in.RunID, man.TrainFrom.Format(time.RFC3339), man.TrainTo.Format(time.RFC3339), man.HoldoutTo.Format(time.RFC3339))
		}
		progress(fmt.Sprintf("reusing exported data: %d training, %d validation rows", man.TrainRows, man.ValidationRows))
		return man, nil
	}

	remote := strings.HasPrefix(output, "s3://")
	dir := ""
	if remote {
		// The trainer reads s3:// data; stage locally, then upload.
		if dir, err = os.MkdirTemp("", "vigil-export-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
	} else {
		if dir, err = train.LocalPath(output); err != nil {
			return nil, permanentf("train %s: output %s: %v", m.Name, output, err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
	}
	man = &dataManifest{RunID: in.RunID, TrainFrom: in.TrainFrom, TrainTo: in.TrainTo, HoldoutTo: in.HoldoutTo, Target: m.Columns.Target}
	progress("exporting training data")
	var features []string
	man.TrainRows, features, err = o.exportWindow(ctx, m, in.TrainFrom, in.TrainTo, filepath.Join(dir, TrainFile), nil)
	if err != nil {
		return nil, err
	}
	if man.TrainRows < MinTrainRows {
		return nil, permanentf("train %s: only %d labeled rows in the training window %s..%s, need at least %d: wait for ground truth or widen retrain.train_window",
			m.Name, man.TrainRows, in.TrainFrom.Format(time.RFC3339), in.TrainTo.Format(time.RFC3339), MinTrainRows)
	}
	progress("exporting validation data")
	man.ValidationRows, _, err = o.exportWindow(ctx, m, in.TrainTo, in.HoldoutTo, filepath.Join(dir, ValidationFile), features)
	if err != nil {
		return nil, err
	}
	if man.ValidationRows < MinHoldoutRows {
		return nil, permanentf("train %s: only %d labeled rows in the held-out window %s..%s, need at least %d to compare champion and challenger: wait for ground truth or widen retrain.validation_window",
			m.Name, man.ValidationRows, in.TrainTo.Format(time.RFC3339), in.HoldoutTo.Format(time.RFC3339), MinHoldoutRows)
	}
	man.Features = features
	if remote {
		base := strings.TrimRight(output, "/")
		for _, name := range []string{TrainFile, ValidationFile} {
			// store.PutObject takes the object's bytes: one file in memory at a time.
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				return nil, err
			}
			if _, err := o.st.PutObject(ctx, base, name, data); err != nil {
				return nil, fmt.Errorf("train %s: upload %s: %w", m.Name, name, err)
			}
		}
		man.TrainURI, man.ValidationURI = base+"/"+TrainFile, base+"/"+ValidationFile
	} else {
		man.TrainURI, man.ValidationURI = "file://"+filepath.Join(dir, TrainFile), "file://"+filepath.Join(dir, ValidationFile)
	}
	data, _ := json.MarshalIndent(man, "", "  ")
	if _, err := o.st.PutObject(ctx, output, DataManifestFile, append(data, '\n')); err != nil {
		return nil, fmt.Errorf("train %s: write %s: %w", m.Name, DataManifestFile, err)
	}
	progress(fmt.Sprintf("exported %d training and %d validation rows", man.TrainRows, man.ValidationRows))
	return man, nil
}

// metadataColumns are record fields that are neither features nor roles.
var metadataColumns = map[string]bool{"model": true, "model_version": true}

// featureColumns picks the feature columns of a window: the configured
// features, else every column that has no role.
func featureColumns(m *config.Model, cols []string) []string {
	if len(m.Features) > 0 {
		return m.Features
	}
	c := m.Columns
	roles := map[string]bool{c.Target: true, c.Prediction: true, c.Score: true, c.Latency: true, c.Time: true,
		c.EventID: true, "event_id": true, "time": true}
	var out []string
	for _, col := range cols {
		if col != "" && !roles[col] && !metadataColumns[col] {
			out = append(out, col)
		}
	}
	return out
}

// exportWindow streams the labeled rows of [from, to) to path as flat JSONL
// records {event_id, <features>, <target>}, written to a temporary file and
// renamed. features fixes the columns (nil: from the window).
func (o *Ops) exportWindow(ctx context.Context, m *config.Model, from, to time.Time, path string, features []string) (int64, []string, error) {
	rows, info, err := o.st.OpenWindow(ctx, m, from, to)
	if err != nil {
		return 0, nil, fmt.Errorf("read %s window %s..%s: %w", m.Name, from.Format(time.RFC3339), to.Format(time.RFC3339), err)
	}
	if c, ok := rows.(io.Closer); ok {
		defer c.Close()
	}
	cols := rows.Columns()
	idx := map[string]int{}
	for i, c := range cols {
		idx[c] = i
	}
	if features == nil {
		features = featureColumns(m, cols)
	}
	at := func(name string) int {
		if i, ok := idx[name]; ok {
			return i
		}
		return -1
	}
	ti, ii := at(m.Columns.Target), at(m.Columns.EventID)
	if ii < 0 {
		ii = at("event_id")
	}
	fi := make([]int, len(features))
	keys := make([][]byte, len(features))
	for i, f := range features {
		fi[i] = at(f)
		keys[i], _ = json.Marshal(f)
	}
	targetKey, _ := json.Marshal(m.Columns.Target)

	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return 0, nil, err
	}
	defer os.Remove(tmp)
	w := bufio.NewWriterSize(f, 256<<10)
	var n int64
	var line []byte
	for rows.Next() {
		row := rows.Row()
		if ti < 0 || row[ti] == "" {
			continue
		}
		line = append(line[:0], `{"event_id":`...)
		id := ""
		if ii >= 0 {
			id = row[ii]
		}
		line = appendString(line, id)
		for i, c := range fi {
			line = append(line, ',')
			line = append(line, keys[i]...)
			line = append(line, ':')
			if c < 0 {
				line = append(line, "null"...)
			} else {
				line = appendValue(line, row[c])
			}
		}
		line = append(line, ',')
		line = append(line, targetKey...)
		line = append(line, ':')
		line = appendValue(line, row[ti])
		line = append(line, '}', '\n')
		if _, err := w.Write(line); err != nil {
			f.Close()
			return 0, nil, err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		f.Close()
		return 0, nil, fmt.Errorf("read %s window %s..%s: %w", m.Name, from.Format(time.RFC3339), to.Format(time.RFC3339), err)
	}
	if info.Incomplete {
		f.Close()
		return 0, nil, fmt.Errorf("read %s window %s..%s: %w: %s", m.Name, from.Format(time.RFC3339), to.Format(time.RFC3339), store.ErrIncomplete, strings.Join(info.Errors, "; "))
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return 0, nil, err
	}
	if err := f.Close(); err != nil {
		return 0, nil, err
	}
	return n, features, os.Rename(tmp, path)
}

// appendValue writes a cell as a JSON number when it is one, else as a
// string; "" is null.
func appendValue(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	if v, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(v, 0) && !math.IsNaN(v) {
		if json.Valid([]byte(s)) {
			return append(b, s...)
		}
		return strconv.AppendFloat(b, v, 'g', -1, 64)
	}
	if s == "true" || s == "false" {
		return append(b, s...)
	}
	return appendString(b, s)
}

func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(b, q...)
}

// closeRows closes analysis rows that hold files open.
func closeRows(r analysis.Rows) {
	if c, ok := r.(io.Closer); ok {
		c.Close()
	}
}
