package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilml/vigil/analysis"
)

// inputFiles writes the inputs of the table below into dir.
func inputFiles(t *testing.T, dir string) {
	t.Helper()
	write := func(name, body string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gz := func(name, body string) {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write([]byte(body))
		zw.Close()
		write(name, b.String())
	}
	var ref, ab, other, cont, score strings.Builder
	ab.WriteString("a,b\n")
	ref.WriteString("a,b,label,prediction,score\n")
	other.WriteString("x,y\n")
	cont.WriteString("a,b,label,prediction\n")
	score.WriteString("a,label,score\n")
	var capture, jsonl strings.Builder
	for i := range 300 {
		fmt.Fprintf(&ref, "%d,%d,%d,%d,%g\n", i%17, i%5, i%2, (i/3)%2, float64(i%10)/10)
		fmt.Fprintf(&ab, "%d,%d\n", i%17, i%5)
		fmt.Fprintf(&other, "%d,%d\n", i%17, i%5)
		fmt.Fprintf(&score, "%d,%d,%g\n", i%17, i%2, 0.3+0.2*float64(i%2)+float64(i%7)/100)
		in, _ := json.Marshal(map[string]int{"a": i % 17, "b": i % 5})
		rec := map[string]any{
			"captureData": map[string]any{
				"endpointInput":  map[string]string{"observedContentType": "application/json", "mode": "INPUT", "data": string(in), "encoding": "JSON"},
				"endpointOutput": map[string]string{"observedContentType": "text/csv", "mode": "OUTPUT", "data": fmt.Sprint(i % 2), "encoding": "CSV"},
			},
			"eventMetadata": map[string]string{"eventId": fmt.Sprintf("e%d", i), "inferenceId": fmt.Sprintf("inf-%d", i), "inferenceTime": "2026-12-01T10:00:00Z"},
			"eventVersion":  "0",
		}
		line, _ := json.Marshal(rec)
		capture.Write(append(line, '\n'))
		fmt.Fprintf(&jsonl, `{"event_id":"e%d","features":{"a":%d,"b":%d},"label":%d,"prediction":%d}`+"\n", i, i%17, i%5, i%2, (i/3)%2)
	}
	for i := range 600 { // 1,200 distinct labels
		fmt.Fprintf(&cont, "%d,%d,%g,%g\n", i%17, i%5, float64(i)*1.37, float64(i)*1.41)
	}
	write("ref.csv", ref.String())
	write("ab.csv", ab.String())
	write("other.csv", other.String())
	write("continuous.csv", cont.String())
	write("score-only.csv", score.String())
	write("header-only.csv", "a,b,label,prediction,score\n")
	write("capture/00-00-000-x.jsonl", capture.String())
	half := strings.SplitAfterN(jsonl.String(), "\n", 151)
	gz("prefix/2026/12/01/10/part-0.jsonl.gz", strings.Join(half[:150], ""))
	gz("prefix/2026/12/01/10/part-1.jsonl.gz", half[150])
	gz("ab.csv.gz", ab.String())
}

// Each input here used to exit 0 with "no drift" or a nonsense number. Now
// it fails naming the side, the file and the column, or (with detection per
// side) is read right.
func TestAnalyzeInputs(t *testing.T) {
	dir := t.TempDir()
	inputFiles(t, dir)
	p := func(name string) string { return filepath.Join(dir, name) }
	cases := []struct {
		name string
		args []string
		// wantErr lists what the message must name; nil means success.
		wantErr []string
		check   func(t *testing.T, rep *analysis.Report)
	}{
		{
			name:    "current shares no column with the reference",
			args:    []string{"-reference", p("ref.csv"), "-current", p("other.csv")},
			wantErr: []string{"current", p("other.csv"), "shares no feature column", "a, b"},
		},
		{
			name:    "-features names a column absent from the current window",
			args:    []string{"-reference", p("ref.csv"), "-current", p("other.csv"), "-features", "a"},
			wantErr: []string{"current", p("other.csv"), `column "a"`},
		},
		{
			name:    "-features names a column absent from both",
			args:    []string{"-reference", p("ref.csv"), "-current", p("ref.csv"), "-features", "a,nope"},
			wantErr: []string{"reference", p("ref.csv"), `column "nope"`},
		},
		{
			name: "continuous target as multiclass",
			args: []string{"-reference", p("continuous.csv"), "-current", p("continuous.csv"),
				"-task", "multiclass", "-target", "label", "-prediction", "prediction"},
			wantErr: []string{"current", p("continuous.csv"), `column "label"`, "-task regression"},
		},
		{
			name:    "header and no rows",
			args:    []string{"-reference", p("ref.csv"), "-current", p("header-only.csv")},
			wantErr: []string{"current", p("header-only.csv"), "no rows"},
		},
		{
			name:    "empty reference",
			args:    []string{"-reference", p("header-only.csv"), "-current", p("ref.csv")},
			wantErr: []string{"reference", p("header-only.csv"), "no rows"},
		},
		{
			name:    "-format sagemaker applied to a CSV reference",
			args:    []string{"-reference", p("ref.csv"), "-current", p("capture/00-00-000-x.jsonl"), "-format", "sagemaker"},
			wantErr: []string{"reference", p("ref.csv"), "read as sagemaker", "-reference-format"},
		},
		{
			name: "CSV reference, capture current, formats detected per side",
			args: []string{"-reference", p("ab.csv"), "-current", p("capture/00-00-000-x.jsonl")},
			check: func(t *testing.T, rep *analysis.Report) {
				if rep.Rows.Reference != 300 || rep.Rows.Current != 300 || featureNames(rep) != "a,b" {
					t.Errorf("rows %+v, features %s; want 300/300 and a,b (never inference_id)", rep.Rows, featureNames(rep))
				}
			},
		},
		{
			name: "capture current with -current-format",
			args: []string{"-reference", p("ab.csv"), "-current", p("capture"), "-current-format", "sagemaker"},
			check: func(t *testing.T, rep *analysis.Report) {
				if rep.Rows.Current != 300 || featureNames(rep) != "a,b" {
					t.Errorf("rows %+v, features %s", rep.Rows, featureNames(rep))
				}
			},
		},
		{
			name: "a prefix of .jsonl.gz objects without -format",
			args: []string{"-reference", p("ab.csv.gz"), "-current", p("prefix")},
			check: func(t *testing.T, rep *analysis.Report) {
				if rep.Rows.Reference != 300 || rep.Rows.Current != 300 || featureNames(rep) != "a,b" || rep.DatasetDrift.Drifted {
					t.Errorf("rows %+v, features %s, drift %+v", rep.Rows, featureNames(rep), rep.DatasetDrift)
				}
				for _, f := range rep.Features {
					if f.MissingRatio != 0 {
						t.Errorf("%s: missing ratio %v", f.Name, f.MissingRatio)
					}
				}
			},
		},
		{
			name: "binary model with only a probability, default threshold",
			args: []string{"-reference", p("score-only.csv"), "-current", p("score-only.csv"), "-task", "binary", "-target", "label", "-score", "score"},
			check: func(t *testing.T, rep *analysis.Report) {
				// scores are 0.30–0.36 (label 0) and 0.50–0.56 (label 1)
				if rep.Performance["accuracy"] != 1 || len(rep.Classes) != 2 {
					t.Errorf("accuracy %v classes %v", rep.Performance["accuracy"], rep.Classes)
				}
			},
		},
		{
			name: "binary model with only a probability, -threshold 0.6",
			args: []string{"-reference", p("score-only.csv"), "-current", p("score-only.csv"), "-task", "binary", "-target", "label", "-score", "score", "-threshold", "0.6"},
			check: func(t *testing.T, rep *analysis.Report) {
				if rep.Performance["accuracy"] != 0.5 || rep.Performance["recall"] != 0 {
					t.Errorf("performance %v", rep.Performance)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			err := cmdAnalyze(context.Background(), tc.args, &out, &errb)
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("exit 0, want an error naming %q; report:\n%.600s", tc.wantErr, out.String())
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not name %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, errb.String())
			}
			var rep analysis.Report
			if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
				t.Fatal(err)
			}
			tc.check(t, &rep)
		})
	}
}

func featureNames(rep *analysis.Report) string {
	var n []string
	for _, f := range rep.Features {
		n = append(n, f.Name)
	}
	return strings.Join(n, ",")
}

// Property: `starter analyze` never exits 0 with zero tested features (a
// "drifted: false" that tested nothing). Random small files: random
// columns, formats (CSV, JSONL, gzip), rows, cells and flags.
func TestAnalyzeNeverSilentNoDrift(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewSource(23))
	names := []string{"a", "b", "label", "prediction", "score", "inference_id", "event_id"}
	cells := []string{"", "0", "1", "0.7", "-2", "x", "NaN", "1e400", `"q,r"`}
	file := func(k int) string {
		var cols []string
		for _, n := range names {
			if rng.Intn(2) == 0 {
				cols = append(cols, n)
			}
		}
		rows := rng.Intn(3) * rng.Intn(30)
		var sb strings.Builder
		ext := ".csv"
		if rng.Intn(3) == 0 {
			ext = ".jsonl"
			for range rows {
				m := map[string]string{}
				for _, c := range cols {
					m[c] = cells[rng.Intn(len(cells))]
				}
				b, _ := json.Marshal(m)
				sb.Write(append(b, '\n'))
			}
		} else {
			sb.WriteString(strings.Join(cols, ",") + "\n")
			for range rows {
				row := make([]string, len(cols))
				for i := range row {
					row[i] = cells[rng.Intn(len(cells))]
				}
				sb.WriteString(strings.Join(row, ",") + "\n")
			}
		}
		p := filepath.Join(dir, fmt.Sprintf("f%d%s", k, ext))
		if rng.Intn(4) == 0 {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			zw.Write([]byte(sb.String()))
			zw.Close()
			p += ".gz"
			os.WriteFile(p, b.Bytes(), 0o644)
		} else {
			os.WriteFile(p, []byte(sb.String()), 0o644)
		}
		return p
	}
	succeeded := 0
	for i := range 300 {
		args := []string{"-reference", file(2 * i), "-current", file(2*i + 1)}
		switch rng.Intn(4) {
		case 1:
			args = append(args, "-task", "binary", "-target", "label", "-score", "score")
		case 2:
			args = append(args, "-task", "regression", "-target", "label", "-prediction", "prediction")
		case 3:
			args = append(args, "-features", names[rng.Intn(2)])
		}
		var out, errb bytes.Buffer
		if err := cmdAnalyze(context.Background(), args, &out, &errb); err != nil {
			continue
		}
		var rep analysis.Report
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatal(err)
		}
		if rep.DatasetDrift.Tested == 0 {
			t.Fatalf("%v: exit 0 with 0 tested features:\n%s", args, out.String())
		}
		succeeded++
	}
	// The property must not hold vacuously.
	if succeeded < 20 {
		t.Errorf("only %d of 300 random inputs were analysed; the generator is too hostile to test anything", succeeded)
	}
	t.Logf("%d of 300 random inputs analysed, the rest refused", succeeded)
}
