// Command vigil-demo-train trains the demo model (a logistic regression on
// x1..x4) and is the trainer Vigil's dev-mode demo runs through the command
// backend. It follows the command contract of package train:
//
//	VIGIL_TRAIN_DATA        file or directory of JSONL/CSV records with labels
//	VIGIL_VALIDATION_DATA   optional; metrics are computed on it (else on the training data)
//	VIGIL_OUTPUT_DIR        where model.json and metrics.json are written, and,
//	                        with validation data, validation_predictions.jsonl
//	                        ({event_id, prediction, score} per validation record
//	                        that has an event_id)
//	VIGIL_HYPERPARAMETERS   JSON object; understood keys: l2, max_iter, target, features
//
// Flags override the environment:
//
//	vigil-demo-train [-train PATH] [-validation PATH] [-output DIR]
//	                 [-target label] [-features x1,x2,x3,x4] [-l2 1e-5] [-max-iter 50]
//
// Imports: it may import train/demo.
package main
