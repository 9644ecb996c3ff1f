package export

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilml/vigil/analysis"
	"github.com/vigilml/vigil/store/format"
)

var update = flag.Bool("update", false, "rewrite deploy/elasticsearch/*.json from IndexTemplates")

var end = time.Date(2026, 12, 1, 10, 15, 0, 0, time.UTC)

func history() []Evaluation {
	p := 0.004
	return []Evaluation{
		{Model: "churn", Version: "v2", Status: "breach", WindowEnd: end, Report: &analysis.Report{
			Rows:        analysis.RowCounts{Reference: 500, Current: 120, Labeled: 100},
			Performance: map[string]float64{"accuracy": 0.81},
			Features:    []analysis.FeatureReport{{Name: "age", MissingRatio: 0.5, Drift: analysis.Drift{Method: "ks", Statistic: 0.3, PValue: &p}}},
			Quality:     map[string]float64{"duplicate_rows": 2},
		}},
		{Model: "churn", Version: "v2", Status: "incomplete", WindowEnd: end.Add(-15 * time.Minute)},
	}
}

func TestRowsAreTheLongTableInWindowOrder(t *testing.T) {
	rows := Rows(history())
	var got []string
	for _, r := range rows {
		v := "null"
		if r.Value != nil {
			v = fmt.Sprint(*r.Value)
		}
		got = append(got, fmt.Sprintf("%s %s %s %s", r.WindowEnd.Format("15:04"), r.Metric, v, r.Status))
	}
	want := []string{
		"10:00  null incomplete",
		"10:15 dataset_drift.drifted_features 0 breach", "10:15 dataset_drift.share 0 breach",
		"10:15 features.age.drift.p_value 0.004 breach", "10:15 features.age.drift.statistic 0.3 breach",
		"10:15 features.age.missing_ratio 0.5 breach", "10:15 performance.accuracy 0.81 breach",
		"10:15 quality.duplicate_rows 2 breach", "10:15 rows.current 120 breach", "10:15 rows.invalid 0 breach",
		"10:15 rows.labeled 100 breach", "10:15 rows.reference 500 breach",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestCSV(t *testing.T) {
	var b bytes.Buffer
	if err := WriteCSV(&b, Rows(history())[:3]); err != nil {
		t.Fatal(err)
	}
	want := "model,version,window_end,metric,value,status\n" +
		"churn,v2,2026-12-01T10:00:00Z,,,incomplete\n" +
		"churn,v2,2026-12-01T10:15:00Z,dataset_drift.drifted_features,0,breach\n" +
		"churn,v2,2026-12-01T10:15:00Z,dataset_drift.share,0,breach\n"
	if b.String() != want {
		t.Errorf("csv:\n%s", b.String())
	}
}

// The Parquet file reads back, through the repository's checked Parquet
// reader, as the same table: a TIMESTAMP window_end, a null value where
// the window has no number.
func TestParquetReadsBackAsTheSameTable(t *testing.T) {
	rows := Rows(history())
	var b bytes.Buffer
	if err := WriteParquet(&b, rows); err != nil {
		t.Fatal(err)
	}
	rd, err := format.OpenParquet(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := rd.(interface{ Close() error }); ok {
		defer c.Close()
	}
	if got := strings.Join(rd.Columns(), ","); got != strings.Join(Columns, ",") {
		t.Fatalf("columns %s", got)
	}
	var csvFromParquet []string
	for rd.Next() {
		csvFromParquet = append(csvFromParquet, strings.Join(rd.Row(), ","))
	}
	if err := rd.Err(); err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	WriteCSV(&want, rows)
	if got := strings.Join(csvFromParquet, "\n") + "\n"; got != strings.SplitN(want.String(), "\n", 2)[1] {
		t.Errorf("parquet rows:\n%s\nwant:\n%s", got, want.String())
	}
}

// The committed template files are what the exporter installs.
func TestCommittedIndexTemplatesMatch(t *testing.T) {
	for name, tmpl := range IndexTemplates() {
		want, _ := json.MarshalIndent(tmpl, "", "  ")
		want = append(want, '\n')
		path := "../../deploy/elasticsearch/" + name + ".index-template.json"
		if *update {
			os.WriteFile(path, want, 0o644)
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s differs from IndexTemplates()[%q] (go test ./internal/export -update): %v", path, name, err)
		}
	}
}

// fakeES implements PUT _index_template, POST <index>/_search and POST
// _bulk as the Elasticsearch REST API reference describes them, and indexes
// documents under the templates' strict mappings: a field the template does
// not map is refused per item (strict_dynamic_mapping_exception), as
// Elasticsearch does.
type fakeES struct {
	t         *testing.T
	mu        sync.Mutex
	templates map[string]map[string]any
	docs      map[string]map[string]any // index/_id → document
}

func newFakeES(t *testing.T) (*fakeES, *Elasticsearch) {
	f := &fakeES{t: t, templates: map[string]map[string]any{}, docs: map[string]map[string]any{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, &Elasticsearch{URL: srv.URL, APIKey: "a2V5OnNlY3JldA==", Backoff: time.Millisecond}
}

func (f *fakeES) mapping(index string) map[string]any {
	for _, tmpl := range f.templates {
		if pat := tmpl["index_patterns"].([]any)[0].(string); strings.HasPrefix(index, strings.TrimSuffix(pat, "*")) {
			return tmpl["template"].(map[string]any)["mappings"].(map[string]any)
		}
	}
	return nil
}

// unmapped names the first field of doc the mapping does not have.
func unmapped(doc map[string]any, props map[string]any, prefix string) string {
	for k, v := range doc {
		p, ok := props[k].(map[string]any)
		if !ok {
			return prefix + k
		}
		if sub, ok := v.(map[string]any); ok {
			inner, _ := p["properties"].(map[string]any)
			if bad := unmapped(sub, inner, prefix+k+"."); bad != "" {
				return bad
			}
		} else if p["type"] == "date" {
			if _, err := time.Parse(time.RFC3339, v.(string)); err != nil {
				return prefix + k + " (not a date)"
			}
		}
	}
	return ""
}

func (f *fakeES) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Header.Get("Authorization") != "ApiKey a2V5OnNlY3JldA==" {
		w.WriteHeader(401)
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"type": "security_exception", "reason": "missing authentication credentials"}, "status": 401})
		return
	}
	switch {
	case r.Method == "PUT" && strings.HasPrefix(r.URL.Path, "/_index_template/"):
		var t map[string]any
		if err := json.NewDecoder(r.Body).Decode(&t); err != nil || t["index_patterns"] == nil || t["template"] == nil {
			f.t.Errorf("template %s: %v %v", r.URL.Path, t, err)
		}
		f.templates[strings.TrimPrefix(r.URL.Path, "/_index_template/")] = t
		w.Write([]byte(`{"acknowledged":true}`))
	case r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/_search"):
		index := strings.Trim(strings.TrimSuffix(r.URL.Path, "/_search"), "/")
		var hits []any
		for id, d := range f.docs {
			if strings.HasPrefix(id, index+"/") && d["vigil"].(map[string]any)["incident"].(map[string]any)["state"] == "open" {
				hits = append(hits, map[string]any{"_id": strings.TrimPrefix(id, index+"/")})
			}
		}
		json.NewEncoder(w).Encode(map[string]any{"hits": map[string]any{"hits": hits}})
	case r.Method == "POST" && r.URL.Path == "/_bulk":
		if r.Header.Get("Content-Type") != "application/x-ndjson" {
			f.t.Errorf("_bulk Content-Type %q", r.Header.Get("Content-Type"))
		}
		var body bytes.Buffer
		body.ReadFrom(r.Body)
		if !bytes.HasSuffix(body.Bytes(), []byte("\n")) {
			f.t.Error("_bulk body does not end with a newline")
		}
		sc := bufio.NewScanner(&body)
		var items []any
		errs := false
		for sc.Scan() {
			var action map[string]map[string]any
			json.Unmarshal(sc.Bytes(), &action)
			if !sc.Scan() {
				f.t.Fatal("_bulk action without a document line")
			}
			var src map[string]any
			json.Unmarshal(sc.Bytes(), &src)
			for op, meta := range action {
				index, id := meta["_index"].(string), meta["_id"].(string)
				key := index + "/" + id
				item := map[string]any{"_index": index, "_id": id, "status": 201}
				doc := src
				if op == "update" {
					if f.docs[key] == nil {
						item["status"], item["error"] = 404, map[string]any{"type": "document_missing_exception", "reason": "document missing"}
						errs = true
						items = append(items, map[string]any{op: item})
						continue
					}
					doc = merge(f.docs[key], src["doc"].(map[string]any))
				}
				m := f.mapping(index)
				if bad := unmapped(doc, m["properties"].(map[string]any), ""); bad != "" {
					item["status"], item["error"] = 400, map[string]any{"type": "strict_dynamic_mapping_exception", "reason": "mapping set to strict, dynamic introduction of [" + bad + "] is not allowed"}
					errs = true
				} else {
					f.docs[key] = doc
				}
				items = append(items, map[string]any{op: item})
			}
		}
		json.NewEncoder(w).Encode(map[string]any{"took": 1, "errors": errs, "items": items})
	default:
		f.t.Errorf("unexpected %s %s", r.Method, r.URL)
		w.WriteHeader(404)
	}
}

func merge(dst, src map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range dst {
		out[k] = v
	}
	for k, v := range src {
		if sub, ok := v.(map[string]any); ok {
			if d, ok := out[k].(map[string]any); ok {
				out[k] = merge(d, sub)
				continue
			}
		}
		out[k] = v
	}
	return out
}

func TestBulkExportIsIdempotentAndClosesIncidentsNoLongerOpen(t *testing.T) {
	f, es := newFakeES(t)
	ctx := context.Background()
	if err := es.PutTemplates(ctx); err != nil {
		t.Fatal(err)
	}
	rows := Rows(history())
	inc := Incident{ID: "churn-accuracy-1", Model: "churn", Version: "v2", Rule: "accuracy", Metric: "performance.accuracy",
		Severity: "critical", Threshold: "< 0.85", Value: 0.81, OpenedAt: end, WindowEnd: end}
	for range 2 {
		if n, err := es.Bulk(ctx, BulkBody(rows, []Incident{inc}, nil, end)); err != nil || n != len(rows)+1 {
			t.Fatalf("bulk: %d, %v", n, err)
		}
	}
	if len(f.docs) != len(rows)+1 {
		t.Fatalf("%d documents after two exports of %d", len(f.docs), len(rows)+1)
	}
	open, err := es.OpenIncidentIDs(ctx, "churn")
	if err != nil || len(open) != 1 || open[0] != inc.ID {
		t.Fatalf("open incidents %v, %v", open, err)
	}
	// The incident resolved: the next export marks it closed.
	if _, err := es.Bulk(ctx, BulkBody(nil, nil, open, end.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	got := f.docs[IncidentsIndex+"/"+inc.ID]["vigil"].(map[string]any)["incident"].(map[string]any)
	if got["state"] != "closed" || got["closed_seen_at"] != "2026-12-01T11:15:00Z" || got["rule"] != "accuracy" {
		t.Errorf("incident document %v", got)
	}
}

func TestBulkItemFailuresAreAnError(t *testing.T) {
	_, es := newFakeES(t)
	ctx := context.Background()
	es.PutTemplates(ctx)
	body := []byte(`{"index":{"_index":"vigil-evaluations","_id":"x"}}` + "\n" + `{"@timestamp":"2026-12-01T10:15:00Z","vigil":{"model":"churn","colour":"red"}}` + "\n")
	_, err := es.Bulk(ctx, body)
	if err == nil || !strings.Contains(err.Error(), "1 of 1 items failed: index x: 400 strict_dynamic_mapping_exception") {
		t.Fatalf("got %v", err)
	}
	es.APIKey = "wrong"
	if err := es.PutTemplates(ctx); err == nil || !strings.Contains(err.Error(), "401 security_exception") || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("bad key: %v", err)
	}
}

// The Kibana saved objects (deploy/kibana/vigil.ndjson, imported with
// Stack Management → Saved objects → Import) refer only to objects in the
// file, their data views match the index templates' patterns, and every
// column and query field they name is mapped by the templates.
func TestKibanaSavedObjectsMatchTheTemplates(t *testing.T) {
	b, err := os.ReadFile("../../deploy/kibana/vigil.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	type object struct {
		ID         string         `json:"id"`
		Type       string         `json:"type"`
		Attributes map[string]any `json:"attributes"`
		References []struct{ Name, Type, ID string }
	}
	objs := map[string]object{}
	var order []object
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var o object
		if err := json.Unmarshal([]byte(line), &o); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if _, dup := objs[o.Type+"/"+o.ID]; dup || o.ID == "" {
			t.Errorf("object %s/%s missing an id or twice", o.Type, o.ID)
		}
		objs[o.Type+"/"+o.ID] = o
		order = append(order, o)
	}
	fields := map[string]map[string]bool{} // index pattern → mapped leaf fields
	for _, tmpl := range IndexTemplates() {
		pattern := tmpl["index_patterns"].([]string)[0]
		fields[pattern] = map[string]bool{}
		var walk func(prefix string, props map[string]any)
		walk = func(prefix string, props map[string]any) {
			for k, v := range props {
				if sub, ok := v.(map[string]any)["properties"].(map[string]any); ok {
					walk(prefix+k+".", sub)
				} else {
					fields[pattern][prefix+k] = true
				}
			}
		}
		walk("", tmpl["template"].(map[string]any)["mappings"].(map[string]any)["properties"].(map[string]any))
	}
	dataView := func(id string) map[string]bool {
		o, ok := objs["index-pattern/"+id]
		if !ok {
			t.Fatalf("no index-pattern %s", id)
		}
		f := fields[o.Attributes["title"].(string)]
		if f == nil || !f[o.Attributes["timeFieldName"].(string)] {
			t.Errorf("data view %s: title %v matches no template, or its time field is unmapped", id, o.Attributes["title"])
		}
		return f
	}
	dashboards := 0
	for _, o := range order {
		for _, r := range o.References {
			if _, ok := objs[r.Type+"/"+r.ID]; !ok {
				t.Errorf("%s/%s refers to %s/%s, not in the file", o.Type, o.ID, r.Type, r.ID)
			}
		}
		switch o.Type {
		case "index-pattern":
			dataView(o.ID)
		case "search":
			mapped := dataView(o.References[0].ID)
			for _, c := range o.Attributes["columns"].([]any) {
				if !mapped[c.(string)] {
					t.Errorf("search %s shows unmapped column %s", o.ID, c)
				}
			}
			var src struct{ Query struct{ Query string } }
			json.Unmarshal([]byte(o.Attributes["kibanaSavedObjectMeta"].(map[string]any)["searchSourceJSON"].(string)), &src)
			field, _, _ := strings.Cut(src.Query.Query, " :")
			if !mapped[field] {
				t.Errorf("search %s queries unmapped field %q", o.ID, field)
			}
		case "dashboard":
			dashboards++
			var panels []struct{ PanelRefName string }
			if err := json.Unmarshal([]byte(o.Attributes["panelsJSON"].(string)), &panels); err != nil || len(panels) != len(o.References) {
				t.Errorf("dashboard panels %v (%v) vs %d references", panels, err, len(o.References))
			}
			for i, p := range panels {
				if p.PanelRefName != o.References[i].Name {
					t.Errorf("panel %d refers to %q, reference is %q", i, p.PanelRefName, o.References[i].Name)
				}
			}
		}
	}
	if dashboards != 1 {
		t.Errorf("%d dashboards", dashboards)
	}
}
