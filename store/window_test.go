package store

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilml/vigil/analysis"
	"github.com/vigilml/vigil/config"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// writeFile writes rel under dir, gzipping when rel ends in .gz.
func writeFile(t testing.TB, dir, rel, content string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	data := []byte(content)
	if strings.HasSuffix(rel, ".gz") {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(data)
		zw.Close()
		data = buf.Bytes()
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func pred(id string, at time.Time, x float64, p int) string {
	return fmt.Sprintf(`{"event_id":%q,"time":%q,"features":{"x":%g},"prediction":%d}`+"\n", id, at.Format(time.RFC3339), x, p)
}

func label(id string, l int) string {
	return fmt.Sprintf(`{"event_id":%q,"label":%d}`+"\n", id, l)
}

// collect drains rows into maps keyed by column name.
func collect(t testing.TB, rows analysis.Rows) []map[string]string {
	t.Helper()
	var out []map[string]string
	cols := rows.Columns()
	for rows.Next() {
		m := map[string]string{}
		for i, c := range rows.Row() {
			m[cols[i]] = c
		}
		out = append(out, m)
	}
	return out
}

func ids(recs []map[string]string) string {
	var s []string
	for _, r := range recs {
		s = append(s, r["event_id"])
	}
	return strings.Join(s, ",")
}

func model(src, gt string) *config.Model {
	return &config.Model{
		Name:        "churn",
		Columns:     config.Columns{Target: "label", Prediction: "prediction", Time: "time", EventID: "event_id"},
		Source:      config.Source{URI: src, Format: "jsonl"},
		GroundTruth: config.Source{URI: gt, Format: "jsonl"},
	}
}

func TestOpenWindowReadsOnlyTheWindow(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "pred")
	writeFile(t, src, "2026/03/01/09/a.jsonl", pred("before", t0.Add(-30*time.Minute), 1, 0))
	writeFile(t, src, "2026/03/01/10/a.jsonl", pred("e1", t0.Add(5*time.Minute), 1, 0)+pred("early-in-hour", t0.Add(-time.Second), 1, 0))
	writeFile(t, src, "2026/03/01/10/b.jsonl.gz", pred("e2", t0.Add(10*time.Minute), 2, 1)+"not json\n")
	writeFile(t, src, "2026/03/01/10/.tmp-123-c.jsonl", pred("torn", t0.Add(10*time.Minute), 2, 1))
	writeFile(t, src, "2026/03/01/10/d.jsonl", pred("late-in-hour", t0.Add(20*time.Minute), 1, 0))
	writeFile(t, src, "2026/03/01/11/a.jsonl", pred("after", t0.Add(70*time.Minute), 1, 0))
	writeFile(t, src, "notes/readme.jsonl", pred("stray", t0, 1, 0))

	s := New(config.Storage{})
	rows, info, err := s.OpenWindow(context.Background(), model("file://"+src, ""), t0, t0.Add(15*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, rows)
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if want := "e1,e2"; ids(got) != want {
		t.Errorf("event ids = %s, want %s (time filter, hidden files, partitions)", ids(got), want)
	}
	if info.Objects != 3 || info.Rows != 2 || info.Invalid != 1 || info.Labeled != 0 || info.Incomplete {
		t.Errorf("info = %+v, want 3 objects, 2 rows, 1 invalid, 0 labeled, complete", info)
	}
	if got[1]["x"] != "2" || got[1]["prediction"] != "1" {
		t.Errorf("gzip row = %v", got[1])
	}
}

func TestOpenWindowJoinsLateGroundTruth(t *testing.T) {
	dir := t.TempDir()
	src, gt := filepath.Join(dir, "pred"), filepath.Join(dir, "gt")
	writeFile(t, src, "2026/03/01/10/a.jsonl", pred("e1", t0.Add(time.Minute), 1, 1)+pred("e2", t0.Add(2*time.Minute), 1, 0)+pred("e3", t0.Add(3*time.Minute), 1, 0))
	writeFile(t, gt, "2026/03/01/10/a.jsonl", label("e1", 1)+label("other-window", 0))
	writeFile(t, gt, "2026/03/03/08/a.jsonl", label("e2", 1)) // two days later: within the lookahead
	writeFile(t, gt, "2026/03/20/08/a.jsonl", label("e3", 0)) // beyond the 7-day lookahead
	writeFile(t, gt, "2026/02/28/08/a.jsonl", label("e3", 1)) // before the window: never read

	tests := []struct {
		name      string
		now       time.Time
		lookahead time.Duration // the model's ground_truth.lookahead; 0: default
		labeled   int64
		labels    string
	}{
		{"at the end of the window only same-hour labels exist", t0.Add(time.Hour), 0, 1, "1,,"},
		{"two days later the late label is joined", t0.Add(50 * time.Hour), 0, 2, "1,1,"},
		{"a month later the lookahead still stops at 7 days", t0.Add(30 * 24 * time.Hour), 0, 2, "1,1,"},
		{"a model's one-day lookahead leaves the late label out", t0.Add(50 * time.Hour), 24 * time.Hour, 1, "1,,"},
		{"a model's 30-day lookahead takes the very late one", t0.Add(30 * 24 * time.Hour), 30 * 24 * time.Hour, 3, "1,1,0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(config.Storage{}, WithClock(func() time.Time { return tt.now }))
			m := model("file://"+src, "file://"+gt)
			m.GroundTruth.Lookahead = config.Duration(tt.lookahead)
			rows, info, err := s.OpenWindow(context.Background(), m, t0, t0.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			got := collect(t, rows)
			var labels []string
			for _, r := range got {
				labels = append(labels, r["label"])
			}
			if strings.Join(labels, ",") != tt.labels || info.Labeled != tt.labeled || info.Rows != 3 {
				t.Errorf("labels %q labeled %d rows %d, want %q %d 3", strings.Join(labels, ","), info.Labeled, info.Rows, tt.labels, tt.labeled)
			}
			if int64(info.Labels) > tt.labeled {
				t.Errorf("kept %d labels; only this window's may be kept", info.Labels)
			}
			lookahead := DefaultLabelLookahead
			if tt.lookahead > 0 {
				lookahead = tt.lookahead
			}
			if end := tt.now; end.After(t0.Add(time.Hour + lookahead)) {
				if !info.LabelsTo.Equal(t0.Add(time.Hour + lookahead)) {
					t.Errorf("labels read up to %v, want window end + %v", info.LabelsTo, lookahead)
				}
			} else if !info.LabelsTo.Equal(end) {
				t.Errorf("labels read up to %v, want now %v", info.LabelsTo, end)
			}
		})
	}
}

func TestOpenWindowReportsUnreadableObjects(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "pred")
	writeFile(t, src, "2026/03/01/10/a.jsonl", pred("e1", t0.Add(time.Minute), 1, 1))
	// A truncated gzip stream: the object exists but cannot be read.
	p := filepath.Join(src, "2026/03/01/10/b.jsonl.gz")
	os.WriteFile(p, []byte{0x1f, 0x8b, 8, 0, 0, 0}, 0o644)

	rows, info, err := New(config.Storage{}).OpenWindow(context.Background(), model("file://"+src, ""), t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	collect(t, rows)
	if !info.Incomplete || len(info.Errors) != 1 || !strings.Contains(info.Errors[0], "b.jsonl.gz") {
		t.Errorf("info = %+v, want incomplete naming b.jsonl.gz", info)
	}
	if !errors.Is(rows.Err(), ErrIncomplete) {
		t.Errorf("Err() = %v, want ErrIncomplete", rows.Err())
	}
}

func TestOpenWindowEmpty(t *testing.T) {
	rows, info, err := New(config.Storage{}).OpenWindow(context.Background(), model("file://"+t.TempDir(), ""), t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if rows.Next() || rows.Err() != nil || info.Rows != 0 || info.Incomplete {
		t.Errorf("an empty window: rows %v err %v info %+v", rows.Next(), rows.Err(), info)
	}
}

func TestOpenReferenceFileAndDirectory(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "ref/part-1.csv", "x,y,label\n1,a,0\n2,b,1\n")
	writeFile(t, dir, "ref/sub/part-2.csv.gz", "y,x,label\nc,3,1\n")
	writeFile(t, dir, "headerless.csv", "1,a\n2,b\n")
	s := New(config.Storage{})
	tests := []struct {
		name string
		src  config.Source
		want string
	}{
		{"a single file", config.Source{URI: "file://" + dir + "/ref/part-1.csv", Format: "csv"}, "1a0|2b1"},
		{"a plain path", config.Source{URI: dir + "/ref/part-1.csv"}, "1a0|2b1"},
		{"a directory, columns matched by name", config.Source{URI: "file://" + dir + "/ref", Format: "csv"}, "1a0|2b1|3c1"},
		{"headerless with columns from config", config.Source{URI: dir + "/headerless.csv", Format: "csv", Columns: []string{"x", "y"}}, "1a|2b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, c, err := s.OpenReference(context.Background(), tt.src)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var got []string
			for _, r := range collect(t, rows) {
				got = append(got, r["x"]+r["y"]+r["label"])
			}
			if strings.Join(got, "|") != tt.want || rows.Err() != nil {
				t.Errorf("got %v (err %v), want %s", got, rows.Err(), tt.want)
			}
		})
	}
	if _, _, err := s.OpenReference(context.Background(), config.Source{URI: dir + "/missing.csv"}); err == nil {
		t.Error("a missing reference must be an error")
	}
}

// A shadow version that starts scoring mid-window: the window's first object
// has no shadow column, later ones do. Named in columns, the column is read
// from the objects that have it (empty in the others); not named, it is not
// a column of the window, as before.
func TestOpenWindowReadsNamedColumnsLaterObjectsAdd(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "pred")
	shadow := func(id string, at time.Time, p int) string {
		return fmt.Sprintf(`{"event_id":%q,"time":%q,"prediction":0,"shadow":{"v2":{"prediction":%d}}}`+"\n", id, at.Format(time.RFC3339), p)
	}
	writeFile(t, src, "2026/03/01/10/a.jsonl", pred("e1", t0.Add(time.Minute), 1, 0))
	writeFile(t, src, "2026/03/01/10/b.jsonl", shadow("e2", t0.Add(2*time.Minute), 1))
	s := New(config.Storage{})
	rows, _, err := s.OpenWindow(context.Background(), model("file://"+src, ""), t0, t0.Add(time.Hour), "shadow.v2.prediction", "shadow.2.prediction")
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, rows)
	if len(got) != 2 || got[0]["shadow.v2.prediction"] != "" || got[1]["shadow.v2.prediction"] != "1" || got[1]["shadow.2.prediction"] != "" {
		t.Errorf("rows = %v, want e2's shadow prediction and none for e1", got)
	}
	rows, _, err = s.OpenWindow(context.Background(), model("file://"+src, ""), t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if cols := strings.Join(rows.Columns(), ","); strings.Contains(cols, "shadow") {
		t.Errorf("columns %s: unnamed, a column only later objects have is not read", cols)
	}
	rows.(interface{ Close() error }).Close()
}
