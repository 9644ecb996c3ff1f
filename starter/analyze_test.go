package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilml/vigil/analysis"
)

const testRef = "../analysis/testdata/e2e_ref.csv"
const testCur = "../analysis/testdata/e2e_cur.csv"

func TestCmdAnalyzeWritesReport(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := cmdAnalyze(context.Background(), []string{"-reference", testRef, "-current", testCur,
		"-task", "binary", "-target", "label", "-prediction", "prediction", "-score", "score",
		"-latency", "latency_ms", "-categorical", "plan"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	var rep analysis.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Rows.Reference != 300 || rep.Rows.Current != 250 || rep.Performance["roc_auc"] == 0 || rep.Latency == nil {
		t.Errorf("report %+v", rep)
	}
}

func TestCmdBaselineThenAnalyze(t *testing.T) {
	dir := t.TempDir()
	b := filepath.Join(dir, "baseline.json")
	var out, errb bytes.Buffer
	if err := cmdBaseline(context.Background(), []string{"-reference", testRef, "-target", "label",
		"-prediction", "prediction", "-score", "score", "-latency", "latency_ms", "-o", b}, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	var base analysis.Baseline
	raw, _ := os.ReadFile(b)
	if err := json.Unmarshal(raw, &base); err != nil || len(base.Features) == 0 {
		t.Fatalf("baseline %s: %v", raw, err)
	}
	report := filepath.Join(dir, "report.json")
	if err := cmdAnalyze(context.Background(), []string{"-reference", testRef, "-current", testCur, "-target", "label",
		"-prediction", "prediction", "-score", "score", "-latency", "latency_ms", "-baseline", b, "-o", report}, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	var rep analysis.Report
	raw, _ = os.ReadFile(report)
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, v := range rep.Violations {
		got[v.Feature+"/"+v.Constraint] = true
	}
	// the current window has a type mismatch in age, a new plan category,
	// a shifted age distribution
	for _, want := range []string{"age/kind", "plan/categories", "age/range"} {
		if !got[want] {
			t.Errorf("missing violation %s; got %v", want, rep.Violations)
		}
	}
}

func TestCmdAnalyzeHelpAndErrors(t *testing.T) {
	var out, errb bytes.Buffer
	if err := cmdAnalyze(context.Background(), []string{"-h"}, &out, &errb); err != nil {
		t.Errorf("-h: %v", err)
	}
	for _, flag := range []string{"-reference", "-current", "-task", "-drift-method", "-format", "-baseline", "-o"} {
		if !strings.Contains(errb.String(), flag) {
			t.Errorf("help lacks %s", flag)
		}
	}
	if err := cmdAnalyze(context.Background(), []string{"-current", testCur}, &out, &errb); err == nil {
		t.Error("no -reference: want an error")
	}
	if err := cmdAnalyze(context.Background(), []string{"-reference", testRef, "-current", testCur, "-drift-method", "magic"}, &out, &errb); err == nil || !strings.Contains(err.Error(), "auto") {
		t.Errorf("bad method: %v", err)
	}
}

func TestCmdAnalyzeJSONL(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, shift float64) string {
		var sb strings.Builder
		for i := 0; i < 300; i++ {
			x := float64(i%50)/10 + shift
			fmt.Fprintf(&sb, `{"event_id":"e%d","model":"churn","features":{"x":%g,"plan":"%s"},"prediction":%d,"label":%d,"score":%g,"latency_ms":%d}`+"\n",
				i, x, []string{"a", "b"}[i%2], i%2, (i/2)%2, float64(i%10)/10, i%30)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ref, cur := write("ref.jsonl", 0), write("cur.jsonl", 3)
	var out, errb bytes.Buffer
	if err := cmdAnalyze(context.Background(), []string{"-reference", ref, "-current", cur, "-task", "binary",
		"-target", "label", "-prediction", "prediction", "-score", "score", "-latency", "latency_ms"}, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	var rep analysis.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	drifted := map[string]bool{}
	for _, f := range rep.Features {
		kinds[f.Name] = f.Kind
		drifted[f.Name] = f.Drift.Drifted
	}
	if kinds["x"] != "numeric" || kinds["plan"] != "categorical" || !drifted["x"] || drifted["plan"] {
		t.Errorf("features %+v", rep.Features)
	}
	if _, ok := kinds["event_id"]; ok {
		t.Errorf("event_id is a feature")
	}
}

// -html writes the report as one page that needs nothing else: no script,
// stylesheet or image is loaded from anywhere.
func TestCmdAnalyzeWritesSelfContainedHTML(t *testing.T) {
	page := filepath.Join(t.TempDir(), "report.html")
	var stdout, stderr bytes.Buffer
	err := cmdAnalyze(context.Background(), []string{"-reference", testRef, "-current", testCur,
		"-task", "binary", "-target", "label", "-prediction", "prediction", "-score", "score",
		"-latency", "latency_ms", "-categorical", "plan", "-html", page}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	html := string(b)
	for _, want := range []string{"<!DOCTYPE html>", "e2e_cur.csv compared with", `class="chart bars"`, `class="chart roc"`, "Confusion matrix", `id="feature-plan"`} {
		if !strings.Contains(html, want) {
			t.Errorf("the HTML report lacks %q", want)
		}
	}
	for _, external := range []string{"<script", `src="http`, `href="http`, "@import", "url(http"} {
		if strings.Contains(html, external) {
			t.Errorf("the HTML report loads something: %q", external)
		}
	}
	if !json.Valid(stdout.Bytes()) {
		t.Errorf("the JSON report is no longer printed")
	}
}
