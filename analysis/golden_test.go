package analysis

import (
	"encoding/json"
	"math"
	"os"
	"strconv"
	"testing"
)

// The golden values come from scipy/sklearn via testdata/golden.py. Data
// sets are regenerated here bit-for-bit with the same generator.

type genSpec struct {
	Seed  uint64  `json:"seed"`
	N     int     `json:"n"`
	Kind  string  `json:"kind"`
	Loc   float64 `json:"loc"`
	Scale float64 `json:"scale"`
}

func lcgUniforms(seed uint64, n int) []float64 {
	s := seed
	out := make([]float64, n)
	for i := range out {
		s = s*6364136223846793005 + 1442695040888963407
		out[i] = float64(s>>11) * (1.0 / (1 << 53))
	}
	return out
}

// genSample mirrors gen() of golden.py.
func genSample(g genSpec) []float64 {
	out := make([]float64, g.N)
	switch g.Kind {
	case "const":
		for i := range out {
			out[i] = g.Loc
		}
	case "int":
		u := lcgUniforms(g.Seed, g.N)
		for i := range out {
			out[i] = math.Floor(u[i]*g.Scale) + g.Loc
		}
	default:
		u := lcgUniforms(g.Seed, 12*g.N)
		for i := range out {
			z := 0.0
			for k := 0; k < 12; k++ {
				z += u[12*i+k]
			}
			out[i] = g.Loc + g.Scale*(z-6.0)
		}
	}
	return out
}

// loadGolden reads testdata/golden.json as generic JSON.
func loadGolden(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatalf("%v (regenerate with /usr/bin/python3 analysis/testdata/golden.py)", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func spec(m any) genSpec {
	b, _ := json.Marshal(m)
	var g genSpec
	_ = json.Unmarshal(b, &g)
	return g
}

func num(m map[string]any, k string) float64 { return m[k].(float64) }

func floats(a any) []float64 {
	var out []float64
	for _, x := range a.([]any) {
		out = append(out, x.(float64))
	}
	return out
}

// close reports whether got is within tol of want, relative for |want| > 1.
func near(got, want, tol float64) bool {
	if math.IsNaN(want) {
		return math.IsNaN(got)
	}
	return math.Abs(got-want) <= tol*math.Max(1, math.Abs(want))
}

func check(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if !near(got, want, tol) {
		t.Errorf("%s = %.17g, want %.17g (diff %.3g, tol %g)", what, got, want, got-want, tol)
	}
}

// Same algorithm as scipy/numpy: 1e-9. p-values: 1e-9 as well, except the
// Pelz–Good/Smirnov branches where floating-point order differs (1e-7
// absolute is still far inside the contract's 1e-6).
const tolSame = 1e-9

func TestGoldenNumericDrift(t *testing.T) {
	g := loadGolden(t)
	for _, c := range g["numeric"].([]any) {
		c := c.(map[string]any)
		t.Run(c["name"].(string), func(t *testing.T) {
			ref, cur := genSample(spec(c["ref"])), genSample(spec(c["cur"]))
			d, p := KS(ref, cur)
			rp := &ColumnProfile{Values: &Sample{Exact: ref, N: int64(len(ref))}}
			cp := &ColumnProfile{Values: &Sample{Exact: cur, N: int64(len(cur))}}
			for _, v := range ref {
				rp.Min, rp.Max = math.Min(rp.Min, v), math.Max(rp.Max, v)
			}
			check(t, "ks statistic", d, num(c, "ks"), tolSame)
			check(t, "ks p-value", p, num(c, "ks_p"), 1e-8)
			// through the profile path, which rounds d to h/lcm like scipy
			o := Options{DriftMethod: MethodKS}.withDefaults()
			dr := numericDrift(rp, cp, o, &FeatureQuality{})
			check(t, "profile ks statistic", dr.Statistic, num(c, "ks"), 1e-12)
			check(t, "wasserstein", Wasserstein(ref, cur), num(c, "wasserstein"), tolSame)
			check(t, "normed wasserstein", NormedWasserstein(ref, cur), num(c, "normed_wasserstein"), tolSame)
			edges := QuantileEdges(sortedCopy(ref), 10)
			want := floats(c["edges"])
			if len(edges) != len(want) {
				t.Fatalf("edges %v, want %v", edges, want)
			}
			for i := range edges {
				check(t, "edge", edges[i], want[i], tolSame)
			}
			rc, cc := binCounts(sortedCopy(ref), nil, edges), binCounts(sortedCopy(cur), nil, edges)
			checkHist(t, rc, cc, c)
			check(t, "p50", Quantile(cur, 0.5), num(c, "p50"), tolSame)
			check(t, "p95", Quantile(cur, 0.95), num(c, "p95"), tolSame)
			check(t, "p99", Quantile(cur, 0.99), num(c, "p99"), tolSame)
		})
	}
}

func checkHist(t *testing.T, rc, cc []float64, c map[string]any) {
	t.Helper()
	check(t, "psi", PSI(rc, cc), num(c, "psi"), tolSame)
	check(t, "jensenshannon", JensenShannon(rc, cc), num(c, "jensenshannon"), tolSame)
	check(t, "hellinger", Hellinger(rc, cc), num(c, "hellinger"), tolSame)
	check(t, "linf", LInf(rc, cc), num(c, "linf"), tolSame)
	s, p := ChiSquare(rc, cc)
	check(t, "chisquare", s, num(c, "chisquare"), tolSame)
	check(t, "chisquare p", p, num(c, "chisquare_p"), tolSame)
}

func TestGoldenKolmogorovSF(t *testing.T) {
	g := loadGolden(t)
	for _, c := range g["kstwo"].([]any) {
		c := c.(map[string]any)
		n, x := int(num(c, "n")), num(c, "x")
		check(t, "kstwo.sf(n="+strconv.Itoa(n)+", x="+strconv.FormatFloat(x, 'g', -1, 64)+")", KolmogorovSF(n, x), num(c, "sf"), 1e-9)
	}
}

func TestGoldenCategoricalDrift(t *testing.T) {
	g := loadGolden(t)
	for _, c := range g["categorical"].([]any) {
		c := c.(map[string]any)
		t.Run(c["name"].(string), func(t *testing.T) {
			checkHist(t, floats(c["ref"]), floats(c["cur"]), c)
		})
	}
}
