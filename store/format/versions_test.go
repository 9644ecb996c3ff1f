package format

import (
	"bytes"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// A record's serving version and its shadow versions' predictions read as
// the same columns in every format: model_version and
// shadow.<version>.prediction / shadow.<version>.score.
func TestVersionAndShadowColumnsInEveryFormat(t *testing.T) {
	type shadowOut struct {
		Prediction *int64   `parquet:"prediction,optional"`
		Score      *float64 `parquet:"score,optional"`
	}
	type rec struct {
		EventID      string `parquet:"event_id"`
		ModelVersion string `parquet:"model_version"`
		Prediction   int64  `parquet:"prediction"`
		Shadow       struct {
			V4 shadowOut `parquet:"4"`
		} `parquet:"shadow"`
	}
	one, zero, s1, s2 := int64(1), int64(0), 0.75, 0.25
	recs := []rec{{EventID: "e1", ModelVersion: "3", Prediction: 0}, {EventID: "e2", ModelVersion: "3", Prediction: 1}}
	recs[0].Shadow.V4 = shadowOut{&one, &s1}
	recs[1].Shadow.V4 = shadowOut{&zero, &s2}
	var pq bytes.Buffer
	w := parquet.NewGenericWriter[rec](&pq)
	if _, err := w.Write(recs); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	inputs := map[string]string{
		"jsonl": `{"event_id":"e1","model_version":"3","prediction":0,"shadow":{"4":{"prediction":1,"score":0.75}}}
{"event_id":"e2","model_version":"3","prediction":1,"shadow":{"4":{"prediction":0,"score":0.25}}}
`,
		"csv":     "event_id,model_version,prediction,shadow.4.prediction,shadow.4.score\ne1,3,0,1,0.75\ne2,3,1,0,0.25\n",
		"parquet": pq.String(),
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			rows, err := Open(strings.NewReader(in), name, Options{})
			if err != nil {
				t.Fatal(err)
			}
			cols := rows.Columns()
			var got []string
			for _, r := range readAll(t, rows) {
				m := map[string]string{}
				for i, c := range r {
					m[cols[i]] = c
				}
				got = append(got, strings.Join([]string{m["event_id"], m["model_version"], m["prediction"], m["shadow.4.prediction"], m["shadow.4.score"]}, ","))
			}
			if want := "e1,3,0,1,0.75 e2,3,1,0,0.25"; strings.Join(got, " ") != want {
				t.Errorf("rows %v, want %s (columns %v)", got, want, cols)
			}
		})
	}
}
