package audit

import "github.com/vigilml/vigil/train/registry"

// LineageOf is what the registry records of a version, for events about it.
func LineageOf(v registry.Version) *Lineage {
	l := &Lineage{RunID: v.RunID, CodeVersion: v.CodeVersion, Hyperparameters: v.Hyperparameters, ArtifactURI: v.ArtifactURI}
	for _, d := range v.Data {
		l.Data = append(l.Data, DataRef{Role: d.Role, URI: d.URI, SHA256: d.SHA256})
	}
	return l
}
