package demo

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// RunTrainer is the demo trainer program: it follows the command contract of
// package train (see train/README.md). vigil-demo-train and `worker
// demo-train` (the dev-mode demo's trainer) both call it.
func RunTrainer(args []string, getenv func(string) string, stdout io.Writer) error {
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
	features := fs.String("features", or(hp["features"], strings.Join(Features, ",")), "comma-separated feature fields")
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
	data, err := ReadExamples(strings.TrimPrefix(*trainPath, "file://"), *target, names)
	if err != nil {
		return fmt.Errorf("training data: %w", err)
	}
	fmt.Fprintf(stdout, "read %d labelled examples from %s\n", len(data), *trainPath)
	m, err := Fit(names, data, FitOptions{L2: *l2, MaxIter: *maxIter})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "fitted in %g iterations: bias %.4f weights %v\n", m.Trained["iterations"], m.Bias, m.Weights)

	eval, on := data, "train"
	if *valPath != "" {
		if eval, err = ReadExamples(strings.TrimPrefix(*valPath, "file://"), *target, names); err != nil {
			return fmt.Errorf("validation data: %w", err)
		}
		on = "validation"
	}
	metrics := Metrics(m, eval)
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

// predictionsFile is the optional part of the command contract that lets
// Vigil score the challenger on the held-out data with its own analysis
// engine: one {"event_id", "prediction", "score"} record per validation
// record with an event_id.
const predictionsFile = "validation_predictions.jsonl"

// writePredictions scores every record of the validation data (a file, or
// the JSONL/CSV files under a directory) that has an event_id and writes
// the predictions to dst, through a temporary file. Records without the
// model's features are an error; records without an event_id are skipped.
func writePredictions(src string, m *Model, dst string) (int, error) {
	files, err := dataFiles(src)
	if err != nil {
		return 0, err
	}
	tmp := dst + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp)
	w := bufio.NewWriter(f)
	n := 0
	emit := func(id string, features map[string]float64) error {
		if id == "" {
			return nil
		}
		score, pred, err := m.Score(features)
		if err != nil {
			return err
		}
		b, _ := json.Marshal(struct {
			EventID    string  `json:"event_id"`
			Prediction int     `json:"prediction"`
			Score      float64 `json:"score"`
		}{id, pred, score})
		n++
		_, err = w.Write(append(b, '\n'))
		return err
	}
	for _, p := range files {
		if err := scoreFile(p, m.Features, emit); err != nil {
			f.Close()
			return 0, fmt.Errorf("%s: %w", p, err)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	return n, os.Rename(tmp, dst)
}

func dataFiles(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && isData(p) {
			files = append(files, p)
		}
		return err
	})
	return files, err
}

func isData(p string) bool {
	switch strings.ToLower(filepath.Ext(p)) {
	case ".jsonl", ".json", ".ndjson", ".csv":
		return true
	}
	return false
}

func scoreFile(path string, features []string, emit func(string, map[string]float64) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if strings.EqualFold(filepath.Ext(path), ".csv") {
		return scoreCSV(f, features, emit)
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(text), &rec); err != nil {
			return fmt.Errorf("line %d: %v", line, err)
		}
		fields := rec
		if inner, ok := rec["features"].(map[string]any); ok {
			fields = inner
		}
		id := ""
		switch v := rec["event_id"].(type) {
		case string:
			id = v
		case float64:
			id = strconv.FormatFloat(v, 'f', -1, 64)
		}
		x := make(map[string]float64, len(features))
		for _, name := range features {
			v, ok := fields[name].(float64)
			if !ok {
				return fmt.Errorf("line %d: feature %q missing or not a number", line, name)
			}
			x[name] = v
		}
		if err := emit(id, x); err != nil {
			return fmt.Errorf("line %d: %v", line, err)
		}
	}
	return sc.Err()
}

func scoreCSV(r io.Reader, features []string, emit func(string, map[string]float64) error) error {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if err != nil {
		return err
	}
	idx := map[string]int{}
	for i, h := range header {
		idx[strings.TrimSpace(h)] = i
	}
	idCol, ok := idx["event_id"]
	if !ok {
		return nil // nothing to join predictions on
	}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		x := make(map[string]float64, len(features))
		for _, name := range features {
			i, ok := idx[name]
			if !ok {
				return fmt.Errorf("no column %q", name)
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(rec[i]), 64)
			if err != nil {
				return fmt.Errorf("line %d: feature %q: %v", line, name, err)
			}
			x[name] = v
		}
		if err := emit(rec[idCol], x); err != nil {
			return fmt.Errorf("line %d: %v", line, err)
		}
	}
}
