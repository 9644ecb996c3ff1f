package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vigilml/vigil/config"
)

// captureLine is one SageMaker data capture record with a CSV input and output.
func captureLine(eventID, inferenceID, input, output string) string {
	meta := `"eventId": "` + eventID + `", "inferenceTime": "2026-03-01T10:00:05Z"`
	if inferenceID != "" {
		meta += `, "inferenceId": "` + inferenceID + `"`
	}
	return `{"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": "` + input + `", "encoding": "CSV"}, ` +
		`"endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT", "data": "` + output + `", "encoding": "CSV"}}, "eventMetadata": {` + meta + `}, "eventVersion": "0"}` + "\n"
}

func variantModel(uri string, variants map[string]string, shadow string) *config.Model {
	return &config.Model{
		Name:    "churn",
		Columns: config.Columns{Prediction: "prediction", Time: "time", EventID: "event_id"},
		Source:  config.Source{URI: uri, Format: "sagemaker", Columns: []string{"age"}, Variants: variants, ShadowVariant: shadow},
	}
}

// Production variants of an endpoint (split traffic) map to the versions
// they serve; a variant missing from source.variants is its own version.
func TestSageMakerVariantsMapToVersions(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "ep/Champion/2026/03/01/10/a.jsonl", captureLine("a1", "", "34", "1")+captureLine("a2", "", "51", "0"))
	writeFile(t, dir, "ep/Canary/2026/03/01/10/b.jsonl", captureLine("b1", "", "29", "1"))
	writeFile(t, dir, "ep/Other/2026/03/01/10/c.jsonl", captureLine("c1", "", "40", "0"))
	s := New(config.Storage{})
	for _, tc := range []struct{ name, uri, want string }{
		{"the endpoint", "file://" + dir + "/ep", "b1:4 a1:3 a2:3 c1:Other"},
		{"one variant named by the URI", "file://" + dir + "/ep/Canary", "b1:4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, _, err := s.OpenWindow(context.Background(), variantModel(tc.uri, map[string]string{"Champion": "3", "Canary": "4"}, ""), t0, t0.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range collect(t, rows) {
				got = append(got, r["event_id"]+":"+r[VersionColumn])
			}
			if strings.Join(got, " ") != tc.want {
				t.Errorf("event:version = %v, want %s", got, tc.want)
			}
		})
	}
}

// The shadow variant's records are not served traffic: they become the
// shadow columns of the served record of the same request (same
// inferenceId, else eventId; rows of a batch by position).
func TestSageMakerShadowVariantPairsWithServedRecords(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "ep/AllTraffic/2026/03/01/10/a.jsonl",
		captureLine("e1", "req-1", "34", "1")+
			captureLine("e2", "", "51", "0")+
			captureLine("e3", "req-3", `29\n45`, `1\n1`)+ // a batch of two
			captureLine("e4", "req-4", "60", "0")) // no shadow copy (sampled out)
	writeFile(t, dir, "ep/Shadow/2026/03/01/10/s.jsonl",
		captureLine("s1", "req-1", "34", "0")+ // same inferenceId, its own eventId
			captureLine("e2", "", "51", "1")+ // no inferenceId: same eventId
			captureLine("s3", "req-3", `29\n45`, `0\n1`))
	s := New(config.Storage{})
	m := variantModel("file://"+dir+"/ep", map[string]string{"AllTraffic": "3", "Shadow": "4"}, "Shadow")
	rows, info, err := s.OpenWindow(context.Background(), m, t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range collect(t, rows) {
		got = append(got, strings.Join([]string{r["event_id"], r[VersionColumn], r["prediction"], r[ShadowColumn("4", "prediction")]}, ","))
	}
	want := "e1,3,1,0 e2,3,0,1 e3-0,3,1,0 e3-1,3,1,1 e4,3,0,"
	if strings.Join(got, " ") != want || rows.Err() != nil {
		t.Errorf("rows %v (err %v), want %s", got, rows.Err(), want)
	}
	if info.Rows != 5 || info.ShadowRows != 4 || info.ShadowPaired != 4 {
		t.Errorf("info rows %d, shadow rows %d, paired %d; want 5, 4, 4", info.Rows, info.ShadowRows, info.ShadowPaired)
	}
}
