package train

import (
	"context"

	"github.com/vigilml/vigil/train/registry"
)

// NewVersion builds the registry entry of a finished run: the result, the
// job's hyperparameters, code version and the content hashes of the data it
// read (HashData; s3c may be nil for local data). Register it with
// registry.Register, which is idempotent by run id.
func NewVersion(ctx context.Context, job Job, res *Result, s3c S3Lister, codeVersion, reason string) (registry.Version, error) {
	v := registry.Version{
		RunID: job.RunID, Trainer: res.Trainer, BackendJobID: res.BackendJobID,
		ArtifactURI: res.ArtifactURI, LogsURI: res.LogsURI,
		Hyperparameters: job.Hyperparameters, Metrics: res.Metrics,
		CodeVersion: codeVersion, Reason: reason,
	}
	for _, d := range []struct{ role, uri string }{{"train", job.TrainData}, {"validation", job.ValidationData}} {
		if d.uri == "" {
			continue
		}
		sum, err := HashData(ctx, d.uri, s3c)
		if err != nil {
			return registry.Version{}, err
		}
		v.Data = append(v.Data, registry.Data{Role: d.role, URI: d.uri, SHA256: sum})
	}
	return v, nil
}
