package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCompare runs `starter compare` and decodes its JSON.
func runCompare(t *testing.T, args ...string) (*comparison, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := runMain(context.Background(), append([]string{"compare"}, args...), &out, &errOut)
	if code != 0 {
		return nil, errOut.String(), code
	}
	var c comparison
	if err := json.Unmarshal(out.Bytes(), &c); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	for _, k := range []string{"metric", "a", "b", "difference", "lower", "upper", "p_value", "winner"} {
		if !strings.Contains(out.String(), `"`+k+`"`) {
			t.Errorf("output lacks %q:\n%s", k, out.String())
		}
	}
	return &c, errOut.String(), code
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// twoColumns: 200 labeled events; a and b agree except on 17: a alone is
// right on 2 of them, b alone on 15.
func twoColumns() string {
	var sb strings.Builder
	sb.WriteString("label,pred_a,pred_b\n")
	for i := 0; i < 200; i++ {
		y := i % 2
		pa, pb := y, y
		switch {
		case i < 2:
			pb = 1 - y
		case i < 17:
			pa = 1 - y
		case i < 40: // both wrong
			pa, pb = 1-y, 1-y
		}
		fmt.Fprintf(&sb, "%d,%d,%d\n", y, pa, pb)
	}
	return sb.String()
}

func TestCompareColumnsPairedClassification(t *testing.T) {
	f := writeFile(t, "log.csv", twoColumns())
	c, stderr, code := runCompare(t, "-current", f, "-task", "binary", "-target", "label", "-a", "pred_a", "-b", "pred_b", "-paired")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	// exact McNemar: 2·P(X <= 2), X ~ Bin(17, ½) = 2·(1+17+136)/2^17
	if c.Metric != "accuracy" || c.Test != "mcnemar exact" || math.Abs(c.PValue-308.0/131072) > 1e-15 {
		t.Errorf("metric %s, test %s, p %.17g; want accuracy, mcnemar exact, %.17g", c.Metric, c.Test, c.PValue, 308.0/131072)
	}
	if math.Abs(c.A-(200-15-23)/200.0) > 1e-12 || math.Abs(c.B-(200-2-23)/200.0) > 1e-12 || math.Abs(c.Difference-13/200.0) > 1e-12 {
		t.Errorf("a %g, b %g, difference %g", c.A, c.B, c.Difference)
	}
	if c.Winner != "b" || !(c.Lower > 0 && c.Lower <= c.Difference && c.Difference <= c.Upper) {
		t.Errorf("winner %q, interval [%g, %g] around %g; want b with an interval above 0", c.Winner, c.Lower, c.Upper, c.Difference)
	}
	// the same with the roles swapped names a as the winner
	c, _, _ = runCompare(t, "-current", f, "-task", "binary", "-target", "label", "-a", "pred_b", "-b", "pred_a", "-paired")
	if c.Winner != "a" || c.Difference >= 0 {
		t.Errorf("swapped: winner %q, difference %g; want a, negative", c.Winner, c.Difference)
	}
}

func TestCompareIdenticalModelsHaveNoWinner(t *testing.T) {
	f := writeFile(t, "log.csv", "y,p,q\n1.5,1,1\n2,2.5,2.5\n3,3,3\n4,3,3\n")
	c, stderr, code := runCompare(t, "-current", f, "-task", "regression", "-target", "y", "-a", "p", "-b", "q", "-paired")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if c.Winner != "none" || c.PValue != 1 || c.Difference != 0 || c.Note == "" {
		t.Errorf("winner %q p %g difference %g note %q; want none, 1, 0 and a note", c.Winner, c.PValue, c.Difference, c.Note)
	}
}

// Split traffic: v1 served half the events with errors around 2, v2 the
// other half with errors around 1 (MAE, lower is better).
func TestCompareVersionsOnSplitTraffic(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("event_id,model_version,prediction,y\n")
	for i := 0; i < 120; i++ {
		v, e := "v1", 2.0+float64(i%7)/10
		if i%2 == 1 {
			v, e = "v2", 1.0+float64(i%5)/10
		}
		if i%3 == 0 {
			e = -e
		}
		fmt.Fprintf(&sb, "e%d,%s,%g,10\n", i, v, 10+e)
	}
	f := writeFile(t, "log.csv", sb.String())
	c, stderr, code := runCompare(t, "-current", f, "-task", "regression", "-target", "y", "-a", "v1", "-b", "v2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if c.Metric != "mae" || c.Test != "welch t" || c.Source != "versions" || c.NA != 60 || c.NB != 60 {
		t.Errorf("%+v", c)
	}
	if c.Winner != "b" || c.Difference >= 0 || c.Upper >= 0 || c.PValue >= 0.05 {
		t.Errorf("winner %q, difference %g in [%g, %g], p %g; want b with a negative MAE difference", c.Winner, c.Difference, c.Lower, c.Upper, c.PValue)
	}
}

// Shadow: every event was served by v1 and also scored by v2 in shadow
// ({"shadow": {"v2": {...}}} in JSONL); -paired compares them event by event.
func TestCompareServedAndShadowVersionPaired(t *testing.T) {
	var sb strings.Builder
	for i := 0; i < 100; i++ {
		y := i % 2
		served, shadow := y, y
		if i%10 == 0 {
			served = 1 - y // v1 is wrong on 10 events
		}
		if i == 1 {
			shadow = 1 - y // v2 on 1
		}
		fmt.Fprintf(&sb, `{"event_id":"e%d","model_version":"v1","prediction":%d,"label":%d,"shadow":{"v2":{"prediction":%d,"score":0.5}}}`+"\n", i, served, y, shadow)
	}
	f := writeFile(t, "log.jsonl", sb.String())
	c, stderr, code := runCompare(t, "-current", f, "-task", "binary", "-target", "label", "-a", "v1", "-b", "v2", "-paired")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if c.NA != 100 || c.NB != 100 || c.A != 0.9 || c.B != 0.99 || c.Winner != "b" || c.Source != "versions" {
		t.Errorf("%+v", c)
	}
	// without -paired only served traffic counts, and v2 served none
	_, stderr, code = runCompare(t, "-current", f, "-task", "binary", "-target", "label", "-a", "v1", "-b", "v2")
	if code != 1 || !strings.Contains(stderr, "0 for b") {
		t.Errorf("unpaired on shadow-only data: exit %d, %s", code, stderr)
	}
}

func TestCompareRefusesAmbiguousInput(t *testing.T) {
	f := writeFile(t, "log.csv", twoColumns())
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"columns without -paired", []string{"-a", "pred_a", "-b", "pred_b"}, "add -paired"},
		{"a column and a version", []string{"-a", "pred_a", "-b", "v2", "-paired"}, "only one is a column"},
		{"versions without a version column", []string{"-a", "v1", "-b", "v2"}, "no model_version column"},
		{"unknown target", []string{"-a", "pred_a", "-b", "pred_b", "-paired", "-target", "nope"}, `no target column "nope"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"-current", f, "-task", "binary", "-target", "label"}, c.args...)
			_, stderr, code := runCompare(t, args...)
			if code != 1 || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", code, stderr, c.want)
			}
		})
	}
	if _, _, code := runCompare(t, "-current", f); code != 2 {
		t.Errorf("missing flags: exit %d, want 2", code)
	}
}
