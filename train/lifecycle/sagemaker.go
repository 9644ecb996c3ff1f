package lifecycle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/vigilml/vigil/store"
	"github.com/vigilml/vigil/train"
)

// SageMakerOutputArchive is where SageMaker puts what a training container
// wrote to /opt/ml/output/data: <S3OutputPath>/<job name>/output/output.tar.gz.
// S3OutputPath is the run's output, so the archive is under it.
const SageMakerOutputArchive = "output/output.tar.gz"

// maxSageMakerOutput bounds the archive read into memory: the contract asks
// for predictions and metrics only, not for models or data sets.
const maxSageMakerOutput = 512 << 20

// collectSageMakerOutput applies the SageMaker container contract (see
// train/README.md): the container writes validation_predictions.jsonl and
// metrics.json to /opt/ml/output/data; SageMaker uploads that directory as
// output.tar.gz; Vigil copies the two files to the run's output, where
// Validate reads them as it does a command trainer's, and adds the numbers
// of metrics.json to res.Metrics (the job's metric definitions,
// FinalMetricDataList, are there already). A job that wrote no archive, or
// neither file, leaves validation to the trainer's metrics, and the
// validation report says so. Idempotent: a retry copies the same bytes.
func (o *Ops) collectSageMakerOutput(ctx context.Context, output string, res *train.Result, progress func(string)) error {
	prefix := strings.TrimRight(output, "/") + "/" + res.BackendJobID
	blobs, err := o.st.Blobs(ctx, prefix)
	if err != nil {
		return err
	}
	data, _, err := blobs.Get(ctx, SageMakerOutputArchive)
	if errors.Is(err, store.ErrNotFound) {
		progress(fmt.Sprintf("SageMaker job %s wrote no %s/%s: validation falls back to the job's metrics", res.BackendJobID, prefix, SageMakerOutputArchive))
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s/%s: %w", prefix, SageMakerOutputArchive, err)
	}
	files, err := untarFiles(data, map[string]bool{ValidationPredictionsFile: true, train.MetricsFile: true})
	if err != nil {
		return permanentf("%s/%s: %v (the container's /opt/ml/output/data must be a readable archive)", prefix, SageMakerOutputArchive, err)
	}
	if m, ok := files[train.MetricsFile]; ok {
		var raw map[string]any
		if err := json.Unmarshal(m, &raw); err != nil {
			return permanentf("%s/%s: %s: want a JSON object of numbers: %v", prefix, SageMakerOutputArchive, train.MetricsFile, err)
		}
		if res.Metrics == nil {
			res.Metrics = map[string]float64{}
		}
		for k, v := range raw {
			if f, ok := v.(float64); ok {
				res.Metrics[k] = f
			}
		}
	}
	for _, name := range []string{train.MetricsFile, ValidationPredictionsFile} {
		if b, ok := files[name]; ok {
			if _, err := o.st.PutObject(ctx, output, name, b); err != nil {
				return fmt.Errorf("copy %s of SageMaker job %s: %w", name, res.BackendJobID, err)
			}
			progress(fmt.Sprintf("collected %s (%d bytes) from SageMaker job %s", name, len(b), res.BackendJobID))
		}
	}
	return nil
}

// untarFiles returns the regular files of a gzip'd (or plain) tar archive
// whose base name is wanted, at the archive's top level (a leading "./" is
// allowed).
func untarFiles(data []byte, wanted map[string]bool) (map[string][]byte, error) {
	if len(data) > maxSageMakerOutput {
		return nil, fmt.Errorf("archive is %d bytes, more than %d", len(data), maxSageMakerOutput)
	}
	var r io.Reader = bytes.NewReader(data)
	if len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
	}
	tr := tar.NewReader(r)
	out := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if h.Typeflag != tar.TypeReg || !wanted[name] {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(tr, maxSageMakerOutput))
		if err != nil {
			return nil, err
		}
		out[name] = b
	}
}
