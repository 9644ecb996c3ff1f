// Package demo is the model family of Vigil's closed-loop demo: a logistic
// regression fitted in Go, a deterministic traffic generator whose concept
// drifts at a chosen time, and (in cmd/vigil-demo-train) a trainer program
// for the command backend. The dev worker scores generated traffic with
// whatever version is production; after the drift its accuracy falls, a
// rule fires, a retrain on recent labelled data recovers it.
//
// Imports: it may import train and train/registry; never activities, workflows
// or control (enforced by internal/arch).
package demo
