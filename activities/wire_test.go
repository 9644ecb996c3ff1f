package activities

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
)

// The activities' types are a history format: their JSON is what workflow
// histories hold. These tests pin it, so that renaming a field (or letting
// the YAML schema back in) fails here rather than in a replay of a running
// workflow.

// ModelSpec's JSON, every field set: the names are the Go field names, as
// recorded in workflows/testdata/replay; durations are nanoseconds.
func TestModelSpecWireFormat(t *testing.T) {
	below, above := 0.8, 0.5
	spec := ModelSpec{
		Name: "churn", Task: "binary", Every: time.Hour, Window: 2 * time.Hour, Delay: time.Minute,
		Rules: []RuleSpec{{Name: "accuracy-drop", Metric: "performance.accuracy", Below: &below, Above: &above, For: 3,
			RecoverAfter: 2, Severity: "critical", EscalateAfter: time.Hour, Cooldown: time.Minute, Retrain: true}},
		Retrain: &RetrainSpec{MinImprovement: 0.05, Approval: "required", ApprovalTimeout: 24 * time.Hour,
			Timeout: 2 * time.Hour, TrainWindow: 3 * time.Hour, ValidationWindow: time.Hour,
			Rollout: &RolloutSpec{Mode: "canary", Metric: "performance.accuracy", Margin: 0.01, Alpha: 0.05,
				EvaluationInterval: time.Hour, MinRows: 100, MaxDuration: 7 * 24 * time.Hour, Steps: []int{10, 50, 100}, Hold: 24 * time.Hour}},
		Severity:    map[string]RouteSpec{"critical": {Notify: []string{"slack"}, Escalate: []string{"pagerduty"}}},
		MaxDelivery: 24 * time.Hour, Version: "v3", ShardObjects: 10,
	}
	const want = `{"Name":"churn","Task":"binary","Every":3600000000000,"Window":7200000000000,"Delay":60000000000,` +
		`"Rules":[{"Name":"accuracy-drop","Metric":"performance.accuracy","Below":0.8,"Above":0.5,"For":3,"RecoverAfter":2,` +
		`"Severity":"critical","EscalateAfter":3600000000000,"Cooldown":60000000000,"Retrain":true}],` +
		`"Retrain":{"MinImprovement":0.05,"Approval":"required","ApprovalTimeout":86400000000000,"Timeout":7200000000000,` +
		`"TrainWindow":10800000000000,"ValidationWindow":3600000000000,` +
		`"Rollout":{"Mode":"canary","Metric":"performance.accuracy","Margin":0.01,"Alpha":0.05,"EvaluationInterval":3600000000000,` +
		`"MinRows":100,"MaxDuration":604800000000000,"Steps":[10,50,100],"Hold":86400000000000}},` +
		`"Severity":{"critical":{"Notify":["slack"],"Escalate":["pagerduty"]}},"MaxDelivery":86400000000000,"Version":"v3","ShardObjects":10}`
	got, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("ModelSpec JSON changed:\n got %s\nwant %s", got, want)
	}
	var back ModelSpec
	if err := json.Unmarshal([]byte(want), &back); err != nil {
		t.Fatal(err)
	}
	if again, _ := json.Marshal(back); string(again) != want {
		t.Errorf("ModelSpec does not round-trip:\n got %s\nwant %s", again, want)
	}
}

// Every LoadModel result recorded in workflows/testdata/replay decodes into
// today's ModelSpec, and encoding it again yields no field the recording
// does not have (except those added since, zero in old histories) and no
// value that differs from the recorded one. Recorded fields the spec no
// longer has (the config's trainer settings, which workflows never read)
// are the only ones allowed to go.
func TestRecordedModelSpecsDecode(t *testing.T) {
	addedSince := map[string]bool{"MaxDelivery": true}
	files, err := filepath.Glob("../workflows/testdata/replay/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no recorded histories: %v", err)
	}
	dc := converter.GetDefaultDataConverter()
	var specs, withRetrain, withRules int
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		h, err := client.HistoryFromJSON(bytes.NewReader(data), client.HistoryJSONOptions{})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		activityType := map[int64]string{}
		for _, e := range h.Events {
			if e.EventType == enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED {
				activityType[e.EventId] = e.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()
			}
			done := e.GetActivityTaskCompletedEventAttributes()
			if done == nil || activityType[done.ScheduledEventId] != "LoadModel" {
				continue
			}
			for _, p := range done.GetResult().GetPayloads() {
				var spec ModelSpec
				if err := dc.FromPayload(p, &spec); err != nil {
					t.Fatalf("%s event %d: decode ModelSpec: %v", filepath.Base(f), e.EventId, err)
				}
				again, err := json.Marshal(spec)
				if err != nil {
					t.Fatal(err)
				}
				for _, d := range jsonDiff(decodeJSON(t, again), decodeJSON(t, p.Data), "", addedSince) {
					t.Errorf("%s event %d: %s", filepath.Base(f), e.EventId, d)
				}
				specs++
				if spec.Retrain != nil {
					withRetrain++
				}
				if len(spec.Rules) > 0 {
					withRules++
				}
			}
		}
	}
	if specs == 0 || withRetrain == 0 || withRules == 0 {
		t.Fatalf("checked %d recorded specs, %d with retrain, %d with rules: the histories must exercise both", specs, withRetrain, withRules)
	}
}

func decodeJSON(t *testing.T, data []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	return v
}

// jsonDiff lists where now says something recorded does not: a key
// recorded lacks (unless added since and zero), or a different value.
func jsonDiff(now, recorded any, path string, addedSince map[string]bool) []string {
	switch n := now.(type) {
	case map[string]any:
		r, ok := recorded.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: %v, recorded %v", path, now, recorded)}
		}
		keys := make([]string, 0, len(n))
		for k := range n {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var diffs []string
		for _, k := range keys {
			rv, ok := r[k]
			if !ok {
				if !addedSince[k] || !zeroJSON(n[k]) {
					diffs = append(diffs, fmt.Sprintf("%s.%s: %v, not in the recording", path, k, n[k]))
				}
				continue
			}
			diffs = append(diffs, jsonDiff(n[k], rv, path+"."+k, addedSince)...)
		}
		return diffs
	case []any:
		r, ok := recorded.([]any)
		if !ok || len(r) != len(n) {
			return []string{fmt.Sprintf("%s: %v, recorded %v", path, now, recorded)}
		}
		var diffs []string
		for i := range n {
			diffs = append(diffs, jsonDiff(n[i], r[i], fmt.Sprintf("%s[%d]", path, i), addedSince)...)
		}
		return diffs
	default:
		if now != recorded {
			return []string{fmt.Sprintf("%s: %v, recorded %v", path, now, recorded)}
		}
		return nil
	}
}

func zeroJSON(v any) bool {
	return v == nil || slices.Contains([]any{json.Number("0"), "", false}, v)
}
