package demo

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ReadExamples reads labelled examples from a file or, recursively, every
// *.jsonl, *.json and *.csv file in a directory (in lexical order).
//
// JSONL records may be flat ({"x1": 0.3, ..., "label": 1}) or carry the
// features in a "features" object, as Vigil's inference records do; the
// label is the field named target, at the top level or among the features,
// as a number (0/1), a boolean or a string ("0", "1", "true", "false").
// Records without a label are skipped (ground truth that has not arrived).
// CSV files have a header row naming the columns.
func ReadExamples(path, target string, features []string) ([]Example, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	var files []string
	if st.IsDir() {
		err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && dataExt(p) != "" {
				files = append(files, p)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
	} else {
		files = []string{path}
	}
	var out []Example
	for _, f := range files {
		ex, err := readFile(f, target, features)
		if err != nil {
			return nil, err
		}
		out = append(out, ex...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no labelled examples (label field %q)", path, target)
	}
	return out, nil
}

func dataExt(p string) string {
	switch strings.ToLower(filepath.Ext(p)) {
	case ".jsonl", ".json", ".ndjson":
		return "jsonl"
	case ".csv":
		return "csv"
	}
	return ""
}

func readFile(path, target string, features []string) ([]Example, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ex []Example
	if dataExt(path) == "csv" {
		ex, err = readCSV(f, target, features)
	} else {
		ex, err = readJSONL(f, target, features)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ex, nil
}

func readJSONL(r io.Reader, target string, features []string) ([]Example, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var out []Example
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(text), &rec); err != nil {
			return nil, fmt.Errorf("line %d: %v", line, err)
		}
		fields := rec
		if inner, ok := rec["features"].(map[string]any); ok {
			fields = inner
		}
		rawLabel, ok := rec[target]
		if !ok {
			rawLabel, ok = fields[target]
		}
		if !ok || rawLabel == nil {
			continue
		}
		label, err := parseLabel(rawLabel)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", line, err)
		}
		e := Example{X: make([]float64, len(features)), Label: label}
		for i, name := range features {
			v, ok := fields[name].(float64)
			if !ok {
				return nil, fmt.Errorf("line %d: feature %q missing or not a number", line, name)
			}
			e.X[i] = v
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

func readCSV(r io.Reader, target string, features []string) ([]Example, error) {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("header: %v", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(h)] = i
	}
	li, ok := col[target]
	if !ok {
		return nil, fmt.Errorf("no %q column in the header", target)
	}
	idx := make([]int, len(features))
	for i, f := range features {
		if idx[i], ok = col[f]; !ok {
			return nil, fmt.Errorf("no %q column in the header", f)
		}
	}
	var out []Example
	for line := 2; ; line++ {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if strings.TrimSpace(row[li]) == "" {
			continue
		}
		label, err := parseLabel(row[li])
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", line, err)
		}
		e := Example{X: make([]float64, len(features)), Label: label}
		for i, c := range idx {
			if e.X[i], err = strconv.ParseFloat(strings.TrimSpace(row[c]), 64); err != nil {
				return nil, fmt.Errorf("line %d: %s: %v", line, features[i], err)
			}
		}
		out = append(out, e)
	}
}

func parseLabel(v any) (int, error) {
	switch x := v.(type) {
	case float64:
		if x == 0 || x == 1 {
			return int(x), nil
		}
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "1", "1.0", "true":
			return 1, nil
		case "0", "0.0", "false":
			return 0, nil
		}
	}
	return 0, fmt.Errorf("label %v: want 0/1, true/false", v)
}

// WriteJSONL writes examples as flat JSON lines {"x1":…,"x4":…,"label":0|1}.
func WriteJSONL(w io.Writer, examples []Example) error {
	bw := bufio.NewWriter(w)
	for _, e := range examples {
		rec := e.FeatureMap()
		rec["label"] = float64(e.Label)
		b, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		bw.Write(append(b, '\n'))
	}
	return bw.Flush()
}

// WriteCSV writes examples with the header x1,x2,x3,x4,label (e.g. the demo
// model's reference.csv).
func WriteCSV(w io.Writer, examples []Example) error {
	cw := csv.NewWriter(w)
	cw.Write(append(append([]string(nil), Features...), "label"))
	row := make([]string, len(Features)+1)
	for _, e := range examples {
		for i, v := range e.X {
			row[i] = strconv.FormatFloat(v, 'g', -1, 64)
		}
		row[len(Features)] = strconv.Itoa(e.Label)
		cw.Write(row)
	}
	cw.Flush()
	return cw.Error()
}
