package main

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"

	"github.com/vigilml/vigil/analysis"
	"github.com/vigilml/vigil/internal/metrics"
)

// defaultPushJob is the Pushgateway job of `starter analyze -push`.
const defaultPushJob = "vigil-analyze"

// pushReport pushes the metrics of one offline analysis to the Pushgateway
// at url (e.g. http://pushgateway:9091): the same vigil_* series the worker
// serves for an evaluation, built by the same metrics.Publisher, without a
// status or duration (an offline analysis has neither). The group is
// job/instance=model: a push replaces the model's previous push (HTTP PUT),
// so series of features that are gone disappear, and other models' pushes
// are untouched. ("model" itself cannot be the grouping label: the series
// carry it already, which the Pushgateway refuses.)
func pushReport(ctx context.Context, url, job, model string, rep *analysis.Report) error {
	if job == "" {
		job = defaultPushJob
	}
	if model == "" {
		model = "offline"
	}
	reg := prometheus.NewRegistry()
	p := metrics.New(reg, metrics.Options{})
	p.Evaluation(model, "", "", rep, time.Time{}, 0)
	err := push.New(url, job).Gatherer(reg).Grouping("instance", model).PushContext(ctx)
	if err != nil {
		return fmt.Errorf("push metrics to the Pushgateway at %s: %w", url, err)
	}
	return nil
}
