package config

import (
	"slices"
	"time"
)

// Retrain configures how a model is retrained, validated and promoted.
type Retrain struct {
	// Trainer is the backend: command | sagemaker | gitlab | jenkins.
	Trainer string `yaml:"trainer"`
	// Command runs a local program (trainer: command). It receives the
	// training data URIs, an output dir and hyperparameters (see README).
	Command []string `yaml:"command"`
	// Hyperparameters are passed to the trainer as they are.
	Hyperparameters map[string]string `yaml:"hyperparameters"`
	// Metric decides champion vs challenger; default: the task's main metric.
	Metric string `yaml:"metric"`
	// MinImprovement is how much the challenger must beat the champion by.
	MinImprovement float64 `yaml:"min_improvement"`
	// Approval is none (promote when the gate passes) or required (wait for
	// an approve/reject Update, up to ApprovalTimeout).
	Approval        string   `yaml:"approval"`
	ApprovalTimeout Duration `yaml:"approval_timeout"`
	// Timeout bounds one training run.
	Timeout Duration `yaml:"timeout"`
}

var trainers = []string{"command", "sagemaker", "gitlab", "jenkins"}

// MainMetric is the metric a task's challengers are judged on by default.
func MainMetric(task string) string {
	switch task {
	case "regression":
		return "performance.rmse"
	case "multiclass":
		return "performance.f1_macro"
	default:
		return "performance.accuracy"
	}
}

func (r *Retrain) applyDefaults() {
	orDefault(&r.Trainer, "command")
	orDefault(&r.Approval, "none")
	orDefault(&r.ApprovalTimeout, Duration(24*time.Hour))
	orDefault(&r.Timeout, Duration(2*time.Hour))
}

func (r *Retrain) validate(d *decoder, p string, m *Model) {
	if !slices.Contains(trainers, r.Trainer) {
		d.at(p+".trainer", "want one of %s, got %q", quoteList(trainers), r.Trainer)
	}
	if r.Trainer == "command" && len(r.Command) == 0 {
		d.at(p+".command", "required with trainer: command (e.g. [python3, train.py])")
	}
	if m.Task == "" {
		d.at(p, "retraining needs a task and ground truth to compare champion and challenger")
	}
	if r.Metric == "" {
		r.Metric = MainMetric(m.Task)
	} else if err := CheckMetric(m.Task, r.Metric); err != nil {
		d.at(p+".metric", "%v", err)
	}
	if r.MinImprovement < 0 {
		d.at(p+".min_improvement", "must not be negative, got %g", r.MinImprovement)
	}
	if r.Approval != "none" && r.Approval != "required" {
		d.at(p+".approval", "want none or required, got %q", r.Approval)
	}
	if r.Timeout.D() <= 0 {
		d.at(p+".timeout", "must be positive")
	}
}
