package metrics

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
)

// TemporalLabels are the SDK tags kept as Prometheus labels; any other tag
// (for example one a workflow adds with an ID in it) is dropped, so the
// SDK's metrics cannot grow without bound. Every SDK metric carries all of
// them; a tag the SDK did not set is exported as "" (which Prometheus treats
// as absent).
var TemporalLabels = []string{
	"namespace", "task_queue", "workflow_type", "activity_type", "worker_type", "poller_type",
	"operation", "status_code", "failure_reason", "nexus_service", "nexus_operation", "client_name",
}

// TemporalHandler adapts client_golang to the Temporal SDK's metrics
// (client.Options.MetricsHandler), without the tally or OpenTelemetry
// contrib modules: counters become <name>_total, timers histograms
// <name>_seconds, gauges keep their name; the SDK's names already start with
// temporal_. Use the worker's registry:
//
//	c, err := client.Dial(client.Options{..., MetricsHandler: metrics.TemporalHandler(reg)})
func TemporalHandler(reg prometheus.Registerer) client.MetricsHandler {
	return &temporalHandler{root: &temporalRoot{reg: reg, vecs: map[string]any{}}, tags: map[string]string{}}
}

type temporalRoot struct {
	reg  prometheus.Registerer
	mu   sync.Mutex
	vecs map[string]any // full metric name → *CounterVec | *GaugeVec | *HistogramVec | nil (unusable)
}

type temporalHandler struct {
	root *temporalRoot
	tags map[string]string
}

func (h *temporalHandler) WithTags(tags map[string]string) client.MetricsHandler {
	merged := maps.Clone(h.tags)
	for k, v := range tags {
		if slices.Contains(TemporalLabels, k) {
			merged[k] = v
		}
	}
	return &temporalHandler{root: h.root, tags: merged}
}

func (h *temporalHandler) values() []string {
	out := make([]string, len(TemporalLabels))
	for i, k := range TemporalLabels {
		out[i] = clean(h.tags[k])
	}
	return out
}

func (h *temporalHandler) Counter(name string) client.MetricsCounter {
	v, _ := h.root.get(promName(name)+"_total", func(n string) prometheus.Collector {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: n, Help: "Temporal SDK counter " + name + "."}, TemporalLabels)
	}).(*prometheus.CounterVec)
	if v == nil {
		return client.MetricsNopHandler.Counter(name)
	}
	c := v.WithLabelValues(h.values()...)
	return counterFunc(func(d int64) {
		if d > 0 {
			c.Add(float64(d))
		}
	})
}

func (h *temporalHandler) Gauge(name string) client.MetricsGauge {
	v, _ := h.root.get(promName(name), func(n string) prometheus.Collector {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: n, Help: "Temporal SDK gauge " + name + "."}, TemporalLabels)
	}).(*prometheus.GaugeVec)
	if v == nil {
		return client.MetricsNopHandler.Gauge(name)
	}
	g := v.WithLabelValues(h.values()...)
	return gaugeFunc(g.Set)
}

func (h *temporalHandler) Timer(name string) client.MetricsTimer {
	v, _ := h.root.get(promName(name)+"_seconds", func(n string) prometheus.Collector {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: n, Help: "Temporal SDK timer " + name + ".",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600}}, TemporalLabels)
	}).(*prometheus.HistogramVec)
	if v == nil {
		return client.MetricsNopHandler.Timer(name)
	}
	o := v.WithLabelValues(h.values()...)
	return timerFunc(func(d time.Duration) { o.Observe(d.Seconds()) })
}

// get returns the collector registered under name, creating it on first
// use. A name that cannot be registered (already taken by another kind of
// metric) yields nil, and the SDK's metric is dropped rather than crashing
// the worker.
func (r *temporalRoot) get(name string, mk func(string) prometheus.Collector) any {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.vecs[name]; ok {
		return c
	}
	c := mk(name)
	if err := r.reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			c = are.ExistingCollector
		} else {
			c = nil
		}
	}
	r.vecs[name] = c
	return c
}

// promName maps an SDK metric name to a valid Prometheus name.
func promName(name string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == ':' {
			return r
		}
		return '_'
	}, name)
}

type counterFunc func(int64)

func (f counterFunc) Inc(d int64) { f(d) }

type gaugeFunc func(float64)

func (f gaugeFunc) Update(v float64) { f(v) }

type timerFunc func(time.Duration)

func (f timerFunc) Record(d time.Duration) { f(d) }
