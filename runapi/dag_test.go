package runapi

import (
	"encoding/json"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// dagFacts is what parsing the example DAG with Python's own parser finds:
// the HttpOperator calls, and whether a sensor defers on a TimeDeltaTrigger.
const dagFacts = `
import ast, json, sys
tree = ast.parse(open(sys.argv[1]).read(), sys.argv[1])
kw = lambda call: {k.arg: k.value for k in call.keywords}
ops, defers, sensors = [], [], []
for node in ast.walk(tree):
    if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "HttpOperator":
        k = kw(node)
        ops.append({"method": k["method"].value, "endpoint": k["endpoint"].value,
                    "filter": ast.unparse(k["response_filter"]), "headers": ast.unparse(k["headers"])})
    if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "defer":
        defers.append(ast.unparse(kw(node)["trigger"]))
    if isinstance(node, ast.ClassDef) and any(getattr(b, "id", "") == "BaseSensorOperator" for b in node.bases):
        sensors.append(node.name)
print(json.dumps({"ops": ops, "defers": defers, "sensors": sensors}))
`

// The example DAG under examples/airflow parses with Debian's python3, and
// calls this API as it is served: each HttpOperator posts to a route of the
// handler with the bearer token and hands the answer's status_url to a
// sensor that defers between polls.
func TestExampleDAG(t *testing.T) {
	out, err := exec.Command("/usr/bin/python3", "-c", dagFacts, "../examples/airflow/vigil_retrain_dag.py").Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("python3 could not parse the DAG: %v\n%s", err, stderr)
	}
	var facts struct {
		Ops []struct {
			Method, Endpoint, Filter, Headers string
		}
		Defers  []string
		Sensors []string
	}
	if err := json.Unmarshal(out, &facts); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var routes []string
	for _, op := range facts.Ops {
		routes = append(routes, op.Method+" "+strings.ReplaceAll(op.Endpoint, "{{ params.model }}", "{model}"))
		if !strings.Contains(op.Filter, "['status_url']") {
			t.Errorf("%s %s: the response filter %s does not pass on status_url", op.Method, op.Endpoint, op.Filter)
		}
		if !strings.Contains(op.Headers, "AUTH") {
			t.Errorf("%s %s sends no bearer token: headers %s", op.Method, op.Endpoint, op.Headers)
		}
	}
	if want := []string{"POST /v1/models/{model}/evaluations", "POST /v1/models/{model}/retrains"}; !reflect.DeepEqual(routes, want) {
		t.Errorf("the DAG calls %v, want %v", routes, want)
	}
	for _, r := range routes {
		if !slices.Contains(Patterns(), r) {
			t.Errorf("the DAG calls %s, which the API does not serve", r)
		}
	}
	if len(facts.Sensors) != 1 || len(facts.Defers) != 1 || !strings.HasPrefix(facts.Defers[0], "TimeDeltaTrigger(") {
		t.Errorf("want one sensor deferring on a TimeDeltaTrigger, got sensors %v deferring on %v", facts.Sensors, facts.Defers)
	}
}
