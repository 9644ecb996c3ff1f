package train

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/store"
)

// End to end from a staged endpoint to the evaluation's rows: the variant
// names the endpoint reports after Stage are the folders SageMaker writes
// its data capture under (<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/),
// and the store reader, given StagedSource, turns those files into rows
// carrying the right model_version and shadow columns. The capture records
// are in SageMaker's documented format (as store/format/testdata/sagemaker).

var captureHour = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// captureRecord is one SageMaker data capture record: a CSV input and output.
func captureRecord(eventID, inferenceID, input, output string) string {
	return `{"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": "` + input + `", "encoding": "CSV"}, ` +
		`"endpointOutput": {"observedContentType": "text/csv; charset=utf-8", "mode": "OUTPUT", "data": "` + output + `", "encoding": "CSV"}}, ` +
		`"eventMetadata": {"eventId": "` + eventID + `", "inferenceId": "` + inferenceID + `", "inferenceTime": "2026-03-01T10:00:05Z"}, "eventVersion": "0"}` + "\n"
}

// writeCapture writes lines where SageMaker's capture of a variant goes.
func writeCapture(t *testing.T, dir, endpoint, variant, lines string) {
	t.Helper()
	p := filepath.Join(dir, endpoint, variant, "2026/03/01/10", "00-00-000-"+variant+".jsonl")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
}

// readStaged reads the hour of capture through StagedSource and returns
// "event_id:model_version:<column>" per row, sorted.
func readStaged(t *testing.T, dir, endpoint, mode, extra string) []string {
	t.Helper()
	m := &config.Model{Name: "churn", Columns: config.Columns{Prediction: "prediction", Time: "time", EventID: "event_id"},
		Source: StagedSource(config.Source{URI: "file://" + filepath.Join(dir, endpoint), Format: "sagemaker", Columns: []string{"age"}}, mode, 3, 4)}
	rows, _, err := store.New(config.Storage{}).OpenWindow(context.Background(), m, captureHour, captureHour.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	cols := map[string]int{}
	for i, c := range rows.Columns() {
		cols[c] = i
	}
	var got []string
	for rows.Next() {
		r := rows.Row()
		s := r[cols["event_id"]] + ":" + r[cols[store.VersionColumn]]
		if extra != "" {
			i, ok := cols[extra]
			if !ok {
				t.Fatalf("no column %s in %v", extra, rows.Columns())
			}
			s += ":" + r[i]
		}
		got = append(got, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	return got
}

// Canary on moto: the two production variants moto reports after Stage
// split the traffic; each one's capture rows carry its version.
func TestStagedCanaryCaptureCarriesEachVariantsVersion(t *testing.T) {
	sm, d := motoEndpoint(t, "churn-capture")
	if err := d.Stage(context.Background(), "churn-capture", 3, 4, "s3://models/churn/v3/model.tar.gz", "s3://models/churn/v4/model.tar.gz", StageCanary, 50, nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	records := map[string]string{"v3": captureRecord("a1", "req-1", "34", "1") + captureRecord("a2", "req-2", "51", "0"), "v4": captureRecord("b1", "req-3", "29", "1")}
	for _, v := range describe(t, sm, "churn-capture").ProductionVariants {
		writeCapture(t, dir, "churn-capture", aws.ToString(v.VariantName), records[aws.ToString(v.VariantName)])
	}
	got := readStaged(t, dir, "churn-capture", StageCanary, "")
	if strings.Join(got, " ") != "a1:3 a2:3 b1:4" {
		t.Errorf("event:model_version = %v; want a1:3 a2:3 b1:4", got)
	}
}

// Shadow (against the fake: moto drops shadow variants): the production
// variant's records are served by the champion; the shadow variant's
// records of the same requests become shadow.4.prediction.
func TestStagedShadowCaptureFillsTheChallengersShadowColumns(t *testing.T) {
	f, d := newStageDeployer(t)
	if err := d.Stage(context.Background(), "churn", 3, 4, "a3", "a4", StageShadow, 0, nil); err != nil {
		t.Fatal(err)
	}
	out, err := d.Client.DescribeEndpoint(context.Background(), &sagemaker.DescribeEndpointInput{EndpointName: aws.String("churn-prod")})
	if err != nil || len(out.ProductionVariants) != 1 || len(out.ShadowProductionVariants) != 1 {
		t.Fatalf("endpoint %+v, %v (fake %+v)", out, err, f.endpoint)
	}
	prod, shadow := aws.ToString(out.ProductionVariants[0].VariantName), aws.ToString(out.ShadowProductionVariants[0].VariantName)
	dir := t.TempDir()
	writeCapture(t, dir, "churn-prod", prod, captureRecord("a1", "req-1", "34", "1")+captureRecord("a2", "req-2", "51", "0"))
	// SageMaker gives the shadow's copy of a request its own eventId; the
	// inferenceId the caller set pairs them.
	writeCapture(t, dir, "churn-prod", shadow, captureRecord("s1", "req-1", "34", "0")+captureRecord("s2", "req-2", "51", "1"))
	got := readStaged(t, dir, "churn-prod", StageShadow, store.ShadowColumn("4", "prediction"))
	if strings.Join(got, " ") != "a1:3:0 a2:3:1" {
		t.Errorf("event:model_version:shadow.4.prediction = %v; want a1:3:0 a2:3:1", got)
	}
}
