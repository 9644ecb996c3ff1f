package analysis

import (
	"encoding/json"
	"fmt"
	"testing"
)

// A window profiled in shards that travel encoded (EncodeProfile →
// DecodeProfile) and merge in order gives Analyze's report: the same
// counts, duplicate event ids across shards included, and the same
// statistics while the window is exact.
func TestEncodedShardsMergeToAnalyze(t *testing.T) {
	cols, ref := normalColumns(3, 3000, 3, 0)
	_, cur := normalColumns(4, 3000, 3, 0.4)
	cols = append(cols, "id")
	for i := range ref {
		ref[i] = append(ref[i], fmt.Sprint("r", i))
	}
	for i := range cur {
		cur[i] = append(cur[i], fmt.Sprint("c", i%2900)) // 100 ids repeat, in another shard
	}
	opts := Options{EventID: "id"}
	want, err := Analyze(newMemRows(cols, ref), newMemRows(cols, cur), opts)
	if err != nil {
		t.Fatal(err)
	}
	refP, err := ProfileReference(newMemRows(cols, ref), opts)
	if err != nil {
		t.Fatal(err)
	}
	var merged *Profile
	for s := range 4 {
		p, err := ProfileShard(newMemRows(cols, cur[s*750:(s+1)*750]), refP.Schema, opts)
		if err != nil {
			t.Fatal(err)
		}
		b, err := EncodeProfile(p)
		if err != nil {
			t.Fatal(err)
		}
		p, err = DecodeProfile(b)
		if err != nil {
			t.Fatal(err)
		}
		if merged == nil {
			merged = p
		} else if err := merged.Merge(p); err != nil {
			t.Fatal(err)
		}
	}
	got, err := CompareProfiles(refP, merged, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got.Quality["duplicate_event_ids"] != 100 {
		t.Errorf("%v duplicate event ids across shards, want 100", got.Quality["duplicate_event_ids"])
	}
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Errorf("report of merged shards differs from Analyze's:\n%s\n%s", g, w)
	}
}

// A shard of a window far beyond the exact limit is stored as a sketch;
// one of a window that stays exact keeps its values.
func TestSketchForWindowSize(t *testing.T) {
	cols, rows := normalColumns(5, 2000, 1, 0)
	schema, err := InferSchema(cols, rows[:SchemaSampleRows], Options{})
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{ExactLimit: 10000}
	for _, tc := range []struct {
		window int64
		exact  bool
	}{{2000, true}, {20000, true}, {20002, false}} {
		p, err := ProfileShard(newMemRows(cols, rows), schema, opts)
		if err != nil {
			t.Fatal(err)
		}
		before := p.Columns[0].Values.N
		p.SketchFor(tc.window)
		if p.IsExact() != tc.exact || p.Columns[0].Values.N != before {
			t.Errorf("window of %d rows: exact %v (n %d), want exact %v (n %d)", tc.window, p.IsExact(), p.Columns[0].Values.N, tc.exact, before)
		}
	}
}
