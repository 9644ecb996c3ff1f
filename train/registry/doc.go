// Package registry is Vigil's model registry: the versions of each model with
// their lineage (data and its content hashes, hyperparameters, metrics, code
// version, trainer and backend job), their status, and aliases such as
// "production" whose every move is recorded with who moved it and why.
//
// Each model is one JSON document, <model>/registry.json, in a store.Blobs.
// Every change reads the document, applies itself and writes it back with a
// compare-and-swap (PutIf); on a conflict it re-reads and re-applies, so two
// writers — a retrain promoting while an operator rolls back — never lose
// each other's change.
//
// May import: store. Nothing of train, activities, workflows or control
// (enforced by internal/arch).
package registry
