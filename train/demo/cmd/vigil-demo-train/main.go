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
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vigilml/vigil/train/demo"
)

func main() {
	if err := run(os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "vigil-demo-train:", err)
		os.Exit(1)
	}
}

func run(args []string, getenv func(string) string, stdout io.Writer) error {
	hp := map[string]string{}
	if raw := getenv("VIGIL_HYPERPARAMETERS"); raw != "" {
		if err := json.Unmarshal([]byte(raw), &hp); err != nil {
			return fmt.Errorf("VIGIL_HYPERPARAMETERS: want a JSON object of strings: %v", err)
		}
	}
	or := func(v, def string) string {
		if v != "" {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("vigil-demo-train", flag.ContinueOnError)
	fs.SetOutput(stdout)
	trainPath := fs.String("train", getenv("VIGIL_TRAIN_DATA"), "training data: a file or a directory of JSONL/CSV")
	valPath := fs.String("validation", getenv("VIGIL_VALIDATION_DATA"), "validation data (optional)")
	outDir := fs.String("output", getenv("VIGIL_OUTPUT_DIR"), "output directory")
	target := fs.String("target", or(hp["target"], "label"), "label field")
	features := fs.String("features", or(hp["features"], strings.Join(demo.Features, ",")), "comma-separated feature fields")
	l2 := fs.Float64("l2", 0, "L2 penalty per row (default 1e-5)")
	maxIter := fs.Int("max-iter", 0, "Newton iterations (default 50)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if s := hp["l2"]; s != "" && *l2 == 0 {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("hyperparameter l2: %v", err)
		}
		*l2 = v
	}
	if s := hp["max_iter"]; s != "" && *maxIter == 0 {
		v, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("hyperparameter max_iter: %v", err)
		}
		*maxIter = v
	}
	if *trainPath == "" || *outDir == "" {
		return errors.New("need training data and an output dir (-train/-output or VIGIL_TRAIN_DATA/VIGIL_OUTPUT_DIR)")
	}
	names := strings.Split(*features, ",")
	data, err := demo.ReadExamples(strings.TrimPrefix(*trainPath, "file://"), *target, names)
	if err != nil {
		return fmt.Errorf("training data: %w", err)
	}
	fmt.Fprintf(stdout, "read %d labelled examples from %s\n", len(data), *trainPath)
	m, err := demo.Fit(names, data, demo.FitOptions{L2: *l2, MaxIter: *maxIter})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "fitted in %g iterations: bias %.4f weights %v\n", m.Trained["iterations"], m.Bias, m.Weights)

	eval, on := data, "train"
	if *valPath != "" {
		if eval, err = demo.ReadExamples(strings.TrimPrefix(*valPath, "file://"), *target, names); err != nil {
			return fmt.Errorf("validation data: %w", err)
		}
		on = "validation"
	}
	metrics := demo.Metrics(m, eval)
	metrics["train_rows"] = float64(len(data))
	fmt.Fprintf(stdout, "%s accuracy %.4f log_loss %.4f on %d rows\n", on, metrics["accuracy"], metrics["log_loss"], len(eval))

	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		return err
	}
	if err := m.Save(filepath.Join(*outDir, "model.json")); err != nil {
		return err
	}
	if *valPath != "" {
		n, err := writePredictions(strings.TrimPrefix(*valPath, "file://"), m, filepath.Join(*outDir, predictionsFile))
		if err != nil {
			return fmt.Errorf("validation predictions: %w", err)
		}
		fmt.Fprintf(stdout, "wrote %d validation predictions to %s\n", n, predictionsFile)
	}
	b, _ := json.MarshalIndent(metrics, "", "  ")
	return os.WriteFile(filepath.Join(*outDir, "metrics.json"), append(b, '\n'), 0o644)
}
