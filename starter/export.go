package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/vigilml/vigil/activities"
	"github.com/vigilml/vigil/analysis"
	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/control"
	"github.com/vigilml/vigil/internal/export"
	"github.com/vigilml/vigil/store"
	"github.com/vigilml/vigil/workflows"
)

// exportSource is where `export` reads a model's history from: Temporal's
// visibility (the completed MonitorWorkflow runs, their status and version
// search attributes and results), the stored reports, and the incident
// workflow's state.
type exportSource interface {
	Evaluations(ctx context.Context, model string, since time.Time) ([]export.Evaluation, error)
	OpenIncidents(ctx context.Context, model string) ([]export.Incident, error)
}

func cmdExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlags("export", "export -model M -format parquet|csv|elasticsearch [-out FILE|s3://bucket/key] [-since 30d] [-es-url URL -es-api-key-env ES_API_KEY]", stderr)
	c.register(fs)
	o := exportOptions{}
	fs.StringVar(&o.model, "model", "", "the model")
	fs.StringVar(&o.format, "format", "csv", "parquet | csv (the long table model, version, window_end, metric, value, status) | elasticsearch (_bulk)")
	fs.StringVar(&o.out, "out", "", "a file or s3://bucket/key (default: stdout; parquet needs one)")
	since := fs.String("since", "30d", "how far back (a Go duration or whole days)")
	fs.StringVar(&o.esURL, "es-url", "", "Elasticsearch URL, with -format elasticsearch")
	fs.StringVar(&o.esKeyEnv, "es-api-key-env", "", "variable holding an Elasticsearch API key (encoded form)")
	_, wc, err := c.connect(ctx, fs, args)
	if err != nil {
		return err
	}
	defer wc.C.Close()
	if o.since, err = config.ParseDuration(*since); err != nil {
		return fmt.Errorf("-since: %w", err)
	}
	cfg, err := c.load()
	if err != nil {
		return err
	}
	src := &temporalSource{wc: wc, st: store.New(cfg.Storage)}
	return runExport(ctx, o, src, store.New(cfg.Storage), os.Getenv, stdout, time.Now())
}

type exportOptions struct {
	model, format, out, esURL, esKeyEnv string
	since                               time.Duration
}

// runExport is the command without its Temporal connection.
func runExport(ctx context.Context, o exportOptions, src exportSource, st *store.Store, getenv func(string) string, stdout io.Writer, now time.Time) error {
	if o.model == "" {
		return errors.New("-model is required")
	}
	switch o.format {
	case "csv", "parquet":
		if o.format == "parquet" && o.out == "" {
			return errors.New("-format parquet needs -out (a file or s3://bucket/key): Parquet is binary")
		}
	case "elasticsearch":
		if o.esURL == "" {
			return errors.New("-format elasticsearch needs -es-url")
		}
	default:
		return fmt.Errorf("-format: want parquet, csv or elasticsearch, got %q", o.format)
	}
	evs, err := src.Evaluations(ctx, o.model, now.Add(-o.since))
	if err != nil {
		return err
	}
	rows := export.Rows(evs)
	if o.format == "elasticsearch" {
		es := &export.Elasticsearch{URL: o.esURL}
		if o.esKeyEnv != "" {
			if es.APIKey = getenv(o.esKeyEnv); es.APIKey == "" {
				return fmt.Errorf("-es-api-key-env: environment variable %s is not set", o.esKeyEnv)
			}
		}
		return exportElasticsearch(ctx, es, o.model, rows, src, stdout, now)
	}
	var buf bytes.Buffer
	if o.format == "csv" {
		err = export.WriteCSV(&buf, rows)
	} else {
		err = export.WriteParquet(&buf, rows)
	}
	if err != nil {
		return err
	}
	if o.out == "" {
		_, err = stdout.Write(buf.Bytes())
		return err
	}
	uri, err := putFile(ctx, st, o.out, buf.Bytes())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d rows of %d evaluations to %s\n", len(rows), len(evs), uri)
	return nil
}

// putFile writes a local file or an s3://bucket/key object atomically.
func putFile(ctx context.Context, st *store.Store, out string, data []byte) (string, error) {
	dir, key := splitOut(out)
	return st.PutObject(ctx, dir, key, data)
}

func splitOut(out string) (dir, key string) {
	for i := len(out) - 1; i >= 0; i-- {
		if out[i] == '/' {
			if i == len(out)-1 {
				break
			}
			return out[:i+1], out[i+1:]
		}
	}
	return ".", out
}

func exportElasticsearch(ctx context.Context, es *export.Elasticsearch, model string, rows []export.Row, src exportSource, stdout io.Writer, now time.Time) error {
	if err := es.PutTemplates(ctx); err != nil {
		return err
	}
	open, err := src.OpenIncidents(ctx, model)
	if err != nil {
		return err
	}
	exported, err := es.OpenIncidentIDs(ctx, model)
	if err != nil {
		return err
	}
	still := map[string]bool{}
	for _, in := range open {
		still[in.ID] = true
	}
	var closed []string
	for _, id := range exported {
		if !still[id] {
			closed = append(closed, id)
		}
	}
	body := export.BulkBody(rows, open, closed, now)
	n := 0
	// Keep each request well under Elasticsearch's 100 MB http.max_content_length.
	for len(body) > 0 {
		end := len(body)
		if end > 8<<20 {
			end = bytes.LastIndexByte(body[:8<<20], '\n') + 1
			// an action line and its document stay together: cut after an even line count
			if bytes.Count(body[:end], []byte("\n"))%2 == 1 {
				end = bytes.LastIndexByte(body[:end-1], '\n') + 1
			}
		}
		k, err := es.Bulk(ctx, body[:end])
		n += k
		if err != nil {
			return err
		}
		body = body[end:]
	}
	fmt.Fprintf(stdout, "indexed %d documents: %d evaluation rows, %d open incidents, %d incidents closed since the last export\n",
		n, len(rows), len(open), len(closed))
	return nil
}

// temporalSource reads a model's history from Temporal and the report store.
type temporalSource struct {
	wc *control.Client
	st *store.Store
}

func (s *temporalSource) Evaluations(ctx context.Context, model string, since time.Time) ([]export.Evaluation, error) {
	q := fmt.Sprintf("VigilModel = %q AND WorkflowType = 'MonitorWorkflow' AND ExecutionStatus = 'Completed' AND StartTime >= %q",
		model, since.UTC().Format(time.RFC3339))
	var out []export.Evaluation
	var token []byte
	for {
		resp, err := s.wc.C.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{PageSize: 500, Query: q, NextPageToken: token})
		if err != nil {
			return nil, fmt.Errorf("list evaluations of %s: %w", model, err)
		}
		for _, e := range resp.Executions {
			var res workflows.MonitorResult
			if err := s.wc.C.GetWorkflow(ctx, e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId()).Get(ctx, &res); err != nil {
				return nil, fmt.Errorf("result of %s: %w", e.GetExecution().GetWorkflowId(), err)
			}
			ev := export.Evaluation{Model: model, Status: res.Status, WindowEnd: res.WindowEnd}
			if p := e.GetSearchAttributes().GetIndexedFields()["VigilModelVersion"]; p != nil {
				_ = decodePayload(p, &ev.Version)
			}
			if ev.Report, err = s.report(ctx, model, res); err != nil {
				return nil, err
			}
			out = append(out, ev)
		}
		if token = resp.NextPageToken; len(token) == 0 {
			return out, nil
		}
	}
}

// report reads the stored report of a window with numbers; windows
// without data or whose numbers are partial export their status only, as
// Prometheus does.
func (s *temporalSource) report(ctx context.Context, model string, res workflows.MonitorResult) (*analysis.Report, error) {
	switch res.Status {
	case activities.StatusIncomplete, activities.StatusInvalid, activities.StatusInsufficientData, workflows.StatusNoData, "":
		return nil, nil
	}
	body, _, err := s.st.ReadReport(ctx, model, res.WindowStart)
	if err != nil {
		return nil, fmt.Errorf("report %s: %w", res.ReportURI, err)
	}
	var rep analysis.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		return nil, fmt.Errorf("report %s: %w", res.ReportURI, err)
	}
	return &rep, nil
}

func (s *temporalSource) OpenIncidents(ctx context.Context, model string) ([]export.Incident, error) {
	st, err := s.wc.Incidents(ctx, model)
	if err != nil || st == nil {
		return nil, err
	}
	var out []export.Incident
	for _, rs := range st.Rules {
		if in := rs.Open; in != nil {
			out = append(out, incidentOf(in))
		}
	}
	return out, nil
}

func incidentOf(in *activities.Incident) export.Incident {
	return export.Incident{ID: in.ID, Model: in.Model, Version: in.Version, Rule: in.Rule, Metric: in.Metric, Severity: in.Severity,
		Threshold: in.Threshold, AckedBy: in.AckedBy, WorkflowID: in.WorkflowID, Value: in.Value, OpenedAt: in.OpenedAt,
		WindowEnd: in.WindowEnd, Escalated: in.Escalated}
}
