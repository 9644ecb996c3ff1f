package demo

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
)

// Kind marks a demo model file.
const Kind = "vigil-demo-logistic-regression"

// Model is a binary logistic regression: P(label=1|x) = σ(bias + Σ wᵢxᵢ).
type Model struct {
	Kind     string    `json:"kind"`
	Features []string  `json:"features"`
	Weights  []float64 `json:"weights"`
	Bias     float64   `json:"bias"`
	// Trained describes the fit (rows, iterations, l2), for people.
	Trained map[string]float64 `json:"trained,omitempty"`
}

// FitOptions tune Fit.
type FitOptions struct {
	L2      float64 // ridge penalty on the weights (not the bias), per row; default 1e-5
	MaxIter int     // Newton iterations; default 50
}

// Fit fits a logistic regression on examples by Newton's method (iteratively
// reweighted least squares) with an L2 penalty; it converges in a handful of
// iterations on the demo's few features.
func Fit(features []string, data []Example, opt FitOptions) (*Model, error) {
	if len(data) == 0 {
		return nil, errors.New("demo: no training examples")
	}
	if opt.L2 <= 0 {
		opt.L2 = 1e-5
	}
	if opt.MaxIter <= 0 {
		opt.MaxIter = 50
	}
	k := len(features) + 1 // bias is parameter 0
	for i, e := range data {
		if len(e.X) != k-1 {
			return nil, fmt.Errorf("demo: example %d has %d features, want %d", i, len(e.X), k-1)
		}
	}
	beta := make([]float64, k)
	n := float64(len(data))
	iter := 0
	for ; iter < opt.MaxIter; iter++ {
		grad := make([]float64, k)
		hess := make([][]float64, k)
		for i := range hess {
			hess[i] = make([]float64, k)
		}
		xi := make([]float64, k)
		xi[0] = 1
		for _, e := range data {
			copy(xi[1:], e.X)
			p := sigmoid(dot(beta, xi))
			w := p * (1 - p)
			r := float64(e.Label) - p
			for a := range k {
				grad[a] += r * xi[a] / n
				for b := range k {
					hess[a][b] += w * xi[a] * xi[b] / n
				}
			}
		}
		for a := 1; a < k; a++ {
			grad[a] -= opt.L2 * beta[a]
			hess[a][a] += opt.L2
		}
		hess[0][0] += 1e-9
		step, err := solve(hess, grad)
		if err != nil {
			return nil, fmt.Errorf("demo: fit: %w", err)
		}
		var size float64
		for a := range k {
			beta[a] += step[a]
			size = math.Max(size, math.Abs(step[a]))
		}
		if size < 1e-8 {
			break
		}
	}
	return &Model{Kind: Kind, Features: append([]string(nil), features...), Weights: beta[1:], Bias: beta[0],
		Trained: map[string]float64{"rows": n, "iterations": float64(iter + 1), "l2": opt.L2}}, nil
}

// PredictProba returns P(label=1) for a feature vector in m.Features order.
func (m *Model) PredictProba(x []float64) float64 {
	z := m.Bias
	for i, w := range m.Weights {
		z += w * x[i]
	}
	return sigmoid(z)
}

// Predict returns the class at threshold 0.5.
func (m *Model) Predict(x []float64) int {
	if m.PredictProba(x) >= 0.5 {
		return 1
	}
	return 0
}

// Score scores a record's features by name, as the dev worker has them; it
// returns the probability of class 1 and the predicted class.
func (m *Model) Score(features map[string]float64) (score float64, prediction int, err error) {
	x := make([]float64, len(m.Features))
	for i, f := range m.Features {
		v, ok := features[f]
		if !ok {
			return 0, 0, fmt.Errorf("demo: record lacks feature %q", f)
		}
		x[i] = v
	}
	p := m.PredictProba(x)
	if p >= 0.5 {
		return p, 1, nil
	}
	return p, 0, nil
}

// Metrics are the figures the demo trainer reports in metrics.json.
func Metrics(m *Model, data []Example) map[string]float64 {
	var correct, ll float64
	for _, e := range data {
		p := m.PredictProba(e.X)
		if (p >= 0.5) == (e.Label == 1) {
			correct++
		}
		p = math.Min(math.Max(p, 1e-15), 1-1e-15) // sklearn's clipping
		if e.Label == 1 {
			ll -= math.Log(p)
		} else {
			ll -= math.Log(1 - p)
		}
	}
	n := float64(len(data))
	if n == 0 {
		return map[string]float64{"rows": 0}
	}
	return map[string]float64{"accuracy": correct / n, "log_loss": ll / n, "rows": n}
}

// Accuracy is the share of data m classifies correctly.
func Accuracy(m *Model, data []Example) float64 { return Metrics(m, data)["accuracy"] }

// Save writes m as JSON.
func (m *Model) Save(path string) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// Load reads a model written by Save (or by the demo trainer).
func Load(path string) (*Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(data)
}

// Parse decodes a model file.
func Parse(data []byte) (*Model, error) {
	var m Model
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("demo: model: %w", err)
	}
	if m.Kind != Kind || len(m.Weights) != len(m.Features) {
		return nil, fmt.Errorf("demo: not a %s model (kind %q, %d weights for %d features)", Kind, m.Kind, len(m.Weights), len(m.Features))
	}
	return &m, nil
}

func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// solve solves A x = b by Gaussian elimination with partial pivoting.
func solve(a [][]float64, b []float64) ([]float64, error) {
	n := len(b)
	m := make([][]float64, n)
	for i := range m {
		m[i] = append(append([]float64(nil), a[i]...), b[i])
	}
	for c := range n {
		p := c
		for r := c + 1; r < n; r++ {
			if math.Abs(m[r][c]) > math.Abs(m[p][c]) {
				p = r
			}
		}
		if math.Abs(m[p][c]) < 1e-12 {
			return nil, errors.New("singular system (constant or duplicate features?)")
		}
		m[c], m[p] = m[p], m[c]
		for r := c + 1; r < n; r++ {
			f := m[r][c] / m[c][c]
			for k := c; k <= n; k++ {
				m[r][k] -= f * m[c][k]
			}
		}
	}
	x := make([]float64, n)
	for r := n - 1; r >= 0; r-- {
		s := m[r][n]
		for k := r + 1; k < n; k++ {
			s -= m[r][k] * x[k]
		}
		x[r] = s / m[r][r]
	}
	return x, nil
}

// LoadURI loads a model from a registry artifact URI (file:// or a path).
func LoadURI(uri string) (*Model, error) {
	if strings.Contains(uri, "://") && !strings.HasPrefix(uri, "file://") {
		return nil, fmt.Errorf("demo: models are loaded from local files, got %q", uri)
	}
	return Load(strings.TrimPrefix(uri, "file://"))
}
