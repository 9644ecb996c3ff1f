package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/vigilml/vigil/analysis"
	"github.com/vigilml/vigil/config"
)

type projRecord struct {
	EventID    string    `parquet:"event_id"`
	Time       time.Time `parquet:"time,timestamp(millisecond)"`
	Age        float64   `parquet:"age"`
	Comment    string    `parquet:"comment"`
	Plan       string    `parquet:"plan,dict"`
	Raw        []float64 `parquet:"raw,list"`
	Label      int64     `parquet:"label"`
	Prediction int64     `parquet:"prediction"`
	Score      float64   `parquet:"score"`
	Debug      *int64    `parquet:"debug,optional"`
}

// projParquet writes n records, the current window's shifted, in row groups
// of 500, and returns the file and the same file with the column chunks of
// comment, raw and debug overwritten with bytes that are no Parquet page.
func projParquet(t *testing.T, n int, shift float64) (intact, garbled []byte) {
	t.Helper()
	recs := make([]projRecord, n)
	for i := range recs {
		x := math.Sin(float64(i)*0.37)*10 + 40 + shift*float64(i%7)
		d := int64(i)
		recs[i] = projRecord{EventID: fmt.Sprintf("e%d", i), Time: t0.Add(time.Duration(i) * time.Second), Age: x,
			Comment: strings.Repeat("c", i%9), Plan: []string{"basic", "pro", "team"}[(i+int(shift))%3], Raw: []float64{x, x},
			Label: int64(i % 2), Prediction: int64((i / 3) % 2), Score: float64(i%100) / 100, Debug: &d}
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[projRecord](&buf, parquet.MaxRowsPerRowGroup(500))
	if _, err := w.Write(recs); err != nil || w.Close() != nil {
		t.Fatal("write parquet", err)
	}
	intact = buf.Bytes()
	f, err := parquet.OpenFile(bytes.NewReader(intact), int64(len(intact)))
	if err != nil {
		t.Fatal(err)
	}
	garbled = slices.Clone(intact)
	paths := f.Schema().Columns()
	for _, rg := range f.Metadata().RowGroups {
		for j, cc := range rg.Columns {
			if name := paths[j][0]; name != "comment" && name != "raw" && name != "debug" {
				continue
			}
			start := cc.MetaData.DataPageOffset
			if d := cc.MetaData.DictionaryPageOffset; d != 0 && d < start {
				start = d
			}
			for k := start; k < start+cc.MetaData.TotalCompressedSize; k++ {
				garbled[k] = byte(0xF7 ^ k)
			}
		}
	}
	return intact, garbled
}

// A model that lists its features evaluates a Parquet source and reference
// from their needed columns only: with every other column garbled, the
// report equals the one from a full read of the intact files.
func TestModelReadsOnlyItsParquetColumns(t *testing.T) {
	dir := t.TempDir()
	refIntact, refGarbled := projParquet(t, 3000, 0)
	curIntact, curGarbled := projParquet(t, 2000, 1.5)
	for name, data := range map[string][]byte{"intact/ref.parquet": refIntact, "garbled/ref.parquet": refGarbled,
		"intact/src/2026/03/01/10/a.parquet": curIntact, "garbled/src/2026/03/01/10/a.parquet": curGarbled} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m := &config.Model{Name: "churn", Task: "binary", Features: []string{"age", "plan"},
		Columns:   config.Columns{Target: "label", Prediction: "prediction", Score: "score", Time: "time", EventID: "event_id"},
		Source:    config.Source{URI: "file://" + filepath.Join(dir, "garbled/src"), Format: "parquet"},
		Reference: config.Source{URI: filepath.Join(dir, "garbled/ref.parquet")}}
	s := New(config.Storage{})
	ctx := context.Background()
	from, to := t0, t0.Add(time.Hour)

	analyze := func(ref, cur analysis.Rows) string {
		t.Helper()
		rep, err := analysis.Analyze(ref, cur, m.AnalysisOptions())
		if err != nil {
			t.Fatal(err)
		}
		out, _ := json.Marshal(rep)
		return string(out)
	}

	ref, closeRef, err := s.OpenModelReference(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	defer closeRef.Close()
	cur, info, err := s.OpenWindow(ctx, m, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cur.Columns(), ","); got != "event_id,time,age,plan,label,prediction,score" {
		t.Errorf("window columns %s: want the model's columns only", got)
	}
	projected := analyze(ref, cur)
	if info.Rows != 2000 || info.Incomplete {
		t.Errorf("window info %+v", info)
	}

	fullRef, closeFull, err := s.OpenURI(ctx, filepath.Join(dir, "intact/ref.parquet"), "", ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer closeFull.Close()
	fullCur, closeCur, err := s.OpenURI(ctx, filepath.Join(dir, "intact/src/2026/03/01/10/a.parquet"), "", ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer closeCur.Close()
	if len(fullCur.Columns()) != 10 {
		t.Fatalf("a full read has columns %v", fullCur.Columns())
	}
	if full := analyze(fullRef, fullCur); projected != full {
		t.Errorf("report from the model's columns:\n%s\nfrom a full read:\n%s", projected, full)
	}

	// The garbled columns are really unreadable: a full read of the garbled
	// window fails.
	bad, closeBad, err := s.OpenURI(ctx, filepath.Join(dir, "garbled/src/2026/03/01/10/a.parquet"), "", ReadOptions{})
	if err == nil {
		defer closeBad.Close()
		for bad.Next() {
		}
		err = bad.Err()
	}
	if err == nil {
		t.Error("a full read of the garbled file succeeds: the test proves nothing")
	}
}
