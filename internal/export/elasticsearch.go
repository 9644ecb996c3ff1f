package export

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Index names; each has an index template (IndexTemplates) so that a
// dated or rolled-over index (vigil-evaluations-2026.12) maps the same.
const (
	EvaluationsIndex = "vigil-evaluations"
	IncidentsIndex   = "vigil-incidents"
)

// IndexTemplates are the composable index templates (PUT
// _index_template/<name>) of both indices: keyword identifiers, double
// values, date times, so Kibana aggregates without runtime fields.
func IndexTemplates() map[string]map[string]any {
	kw := map[string]any{"type": "keyword"}
	date := map[string]any{"type": "date"}
	tmpl := func(pattern string, vigil map[string]any) map[string]any {
		return map[string]any{
			"index_patterns": []string{pattern + "*"},
			"priority":       200,
			"_meta":          map[string]any{"description": "Vigil " + strings.TrimPrefix(pattern, "vigil-") + " (starter export -format elasticsearch)"},
			"template": map[string]any{"mappings": map[string]any{
				"dynamic": "strict",
				"properties": map[string]any{
					"@timestamp": date,
					"vigil":      map[string]any{"properties": vigil},
				}}},
		}
	}
	return map[string]map[string]any{
		EvaluationsIndex: tmpl(EvaluationsIndex, map[string]any{
			"model": kw, "version": kw, "window_end": date, "metric": kw, "value": map[string]any{"type": "double"}, "status": kw,
		}),
		IncidentsIndex: tmpl(IncidentsIndex, map[string]any{
			"model": kw, "version": kw,
			"incident": map[string]any{"properties": map[string]any{
				"id": kw, "rule": kw, "metric": kw, "severity": kw, "value": map[string]any{"type": "double"}, "threshold": kw,
				"state": kw, "opened_at": date, "closed_seen_at": date, "window_end": date, "acked_by": kw,
				"escalated": map[string]any{"type": "boolean"}, "workflow_id": kw,
			}},
		}),
	}
}

// Incident is an open incident of a model (workflows.IncidentState).
type Incident struct {
	ID, Model, Version, Rule, Metric, Severity, Threshold, AckedBy, WorkflowID string
	Value                                                                      float64
	OpenedAt, WindowEnd                                                        time.Time
	Escalated                                                                  bool
}

// docID is a stable document id, so exporting again overwrites instead of
// duplicating.
func docID(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:16])
}

// BulkBody is the _bulk request (NDJSON, one index action and one document
// per row, ending in a newline) for evaluations rows and open incidents,
// plus an update marking closed each id of closed (incidents exported as
// open earlier that are no longer open), stamped at now.
func BulkBody(rows []Row, open []Incident, closed []string, now time.Time) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b) // one value per line
	for _, r := range rows {
		doc := map[string]any{"model": r.Model, "version": r.Version, "window_end": r.WindowEnd.UTC(), "metric": r.Metric, "status": r.Status}
		if r.Value != nil {
			doc["value"] = *r.Value
		}
		enc.Encode(map[string]any{"index": map[string]any{"_index": EvaluationsIndex, "_id": docID(r.Model, r.WindowEnd.UTC().Format(time.RFC3339), r.Metric)}})
		enc.Encode(map[string]any{"@timestamp": r.WindowEnd.UTC(), "vigil": doc})
	}
	for _, in := range open {
		inc := map[string]any{"id": in.ID, "rule": in.Rule, "metric": in.Metric, "severity": in.Severity, "value": in.Value,
			"threshold": in.Threshold, "state": "open", "opened_at": in.OpenedAt.UTC(), "escalated": in.Escalated, "workflow_id": in.WorkflowID}
		if !in.WindowEnd.IsZero() {
			inc["window_end"] = in.WindowEnd.UTC()
		}
		if in.AckedBy != "" {
			inc["acked_by"] = in.AckedBy
		}
		enc.Encode(map[string]any{"index": map[string]any{"_index": IncidentsIndex, "_id": in.ID}})
		enc.Encode(map[string]any{"@timestamp": in.OpenedAt.UTC(), "vigil": map[string]any{"model": in.Model, "version": in.Version, "incident": inc}})
	}
	for _, id := range closed {
		enc.Encode(map[string]any{"update": map[string]any{"_index": IncidentsIndex, "_id": id}})
		enc.Encode(map[string]any{"doc": map[string]any{"vigil": map[string]any{"incident": map[string]any{"state": "closed", "closed_seen_at": now.UTC()}}}})
	}
	return b.Bytes()
}

// Elasticsearch is a client of the few APIs the exporter needs.
type Elasticsearch struct {
	URL string
	// APIKey is sent as "Authorization: ApiKey <key>" (the encoded key
	// Elasticsearch returns); or User and Password as basic auth.
	APIKey, User, Password string
	HTTP                   *http.Client
	Backoff                time.Duration // default 500ms, doubled per retry (3 tries)
}

// ESError is a non-2xx answer.
type ESError struct {
	Method, Path string
	Status       int
	Type, Reason string
}

func (e *ESError) Error() string {
	return fmt.Sprintf("elasticsearch %s %s: %d %s: %s", e.Method, e.Path, e.Status, e.Type, e.Reason)
}

// Retryable: 429 (rejected execution, queue full) and server errors.
func (e *ESError) Retryable() bool { return e.Status == 429 || e.Status >= 500 }

func (c *Elasticsearch) do(ctx context.Context, method, path, contentType string, body []byte, out any) error {
	backoff := c.Backoff
	if backoff <= 0 {
		backoff = 500 * time.Millisecond
	}
	var err error
	for i := range 3 {
		if i > 0 {
			select {
			case <-ctx.Done():
				return err
			case <-time.After(backoff << (i - 1)):
			}
		}
		if err = c.once(ctx, method, path, contentType, body, out); err == nil {
			return nil
		}
		var es *ESError
		if errors.As(err, &es) && !es.Retryable() {
			return err
		}
	}
	return err
}

func (c *Elasticsearch) once(ctx context.Context, method, path, contentType string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.URL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", contentType)
	switch {
	case c.APIKey != "":
		req.Header.Set("Authorization", "ApiKey "+c.APIKey)
	case c.User != "":
		req.SetBasicAuth(c.User, c.Password)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("elasticsearch %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &ESError{Method: method, Path: path, Status: resp.StatusCode}
		var eb struct {
			Error struct {
				Type   string `json:"type"`
				Reason string `json:"reason"`
			} `json:"error"`
		}
		if json.Unmarshal(b, &eb) == nil && eb.Error.Type != "" {
			e.Type, e.Reason = eb.Error.Type, eb.Error.Reason
		} else {
			e.Reason = strings.TrimSpace(string(b[:min(len(b), 300)]))
		}
		return e
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// PutTemplates creates or replaces the index templates (idempotent).
func (c *Elasticsearch) PutTemplates(ctx context.Context) error {
	for name, t := range IndexTemplates() {
		b, _ := json.Marshal(t)
		if err := c.do(ctx, http.MethodPut, "/_index_template/"+name, "application/json", b, nil); err != nil {
			return err
		}
	}
	return nil
}

// OpenIncidentIDs lists the incidents of model exported as open (none when
// the index does not exist yet).
func (c *Elasticsearch) OpenIncidentIDs(ctx context.Context, model string) ([]string, error) {
	q, _ := json.Marshal(map[string]any{"size": 1000, "_source": false, "query": map[string]any{"bool": map[string]any{"filter": []any{
		map[string]any{"term": map[string]any{"vigil.model": model}},
		map[string]any{"term": map[string]any{"vigil.incident.state": "open"}},
	}}}})
	var res struct {
		Hits struct {
			Hits []struct {
				ID string `json:"_id"`
			} `json:"hits"`
		} `json:"hits"`
	}
	err := c.do(ctx, http.MethodPost, "/"+IncidentsIndex+"/_search", "application/json", q, &res)
	var es *ESError
	if errors.As(err, &es) && es.Status == 404 && es.Type == "index_not_found_exception" {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(res.Hits.Hits))
	for _, h := range res.Hits.Hits {
		ids = append(ids, h.ID)
	}
	return ids, nil
}

// Bulk sends a _bulk body. Elasticsearch answers 200 even when items fail;
// those are an error naming the first failures (items are not retried: a
// mapping conflict does not fix itself, and the export can be run again —
// documents have stable ids).
func (c *Elasticsearch) Bulk(ctx context.Context, body []byte) (int, error) {
	var res struct {
		Errors bool `json:"errors"`
		Items  []map[string]struct {
			ID     string `json:"_id"`
			Status int    `json:"status"`
			Error  *struct {
				Type   string `json:"type"`
				Reason string `json:"reason"`
			} `json:"error"`
		} `json:"items"`
	}
	if err := c.do(ctx, http.MethodPost, "/_bulk", "application/x-ndjson", body, &res); err != nil {
		return 0, err
	}
	var failed []string
	for _, it := range res.Items {
		for action, r := range it {
			if r.Error != nil {
				failed = append(failed, fmt.Sprintf("%s %s: %d %s: %s", action, r.ID, r.Status, r.Error.Type, r.Error.Reason))
			}
		}
	}
	if len(failed) > 0 {
		more := ""
		if len(failed) > 5 {
			more = fmt.Sprintf(" (and %d more)", len(failed)-5)
		}
		return len(res.Items) - len(failed), fmt.Errorf("elasticsearch _bulk: %d of %d items failed: %s%s", len(failed), len(res.Items),
			strings.Join(failed[:min(5, len(failed))], "; "), more)
	}
	return len(res.Items), nil
}
