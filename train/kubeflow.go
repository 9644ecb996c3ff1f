package train

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
)

// Kubeflow trains by creating a Kubeflow Pipelines run through the KFP v2
// REST API (POST /apis/v2beta1/runs) and polling GET
// /apis/v2beta1/runs/{run_id} until its state is final.
//
// The run executes either an uploaded pipeline (PipelineID, optionally
// PipelineVersionID; unset: the latest version) or a compiled pipeline spec
// sent inline (PipelineSpec, the IR the KFP SDK compiles). The job's
// variables (see ciVariables) are the run's runtime_config.parameters, so
// the pipeline declares string parameters VIGIL_MODEL, VIGIL_RUN_ID, ….
//
// It is idempotent by run name: the run's display_name is derived from model
// and run id (JobName); before creating, it lists runs with that name and
// follows the newest. On cancellation it terminates the run (POST
// /apis/v2beta1/runs/{run_id}:terminate).
//
// Authentication is a bearer token (Token), or, in multi-user deployments
// reached inside the cluster, the kubeflow-userid header (UserID) the
// Kubeflow auth proxy would set; both may be sent.
type Kubeflow struct {
	BaseURL           string // KFP API server, e.g. https://kubeflow.example.com/pipeline
	PipelineID        string
	PipelineVersionID string
	// PipelineSpec is a compiled pipeline (a JSON object), used when
	// PipelineID is empty.
	PipelineSpec   json.RawMessage
	ExperimentID   string
	Namespace      string
	ServiceAccount string
	Token          string
	UserID         string
	PollInterval   time.Duration
	HTTP           *http.Client
}

// Name implements Trainer.
func (k *Kubeflow) Name() string { return "kubeflow" }

// kfpRun is the subset of v2beta1.Run Vigil sends and reads.
type kfpRun struct {
	RunID                    string          `json:"run_id,omitempty"`
	DisplayName              string          `json:"display_name"`
	Description              string          `json:"description,omitempty"`
	ExperimentID             string          `json:"experiment_id,omitempty"`
	Namespace                string          `json:"namespace,omitempty"`
	ServiceAccount           string          `json:"service_account,omitempty"`
	PipelineVersionReference *kfpVersionRef  `json:"pipeline_version_reference,omitempty"`
	PipelineSpec             json.RawMessage `json:"pipeline_spec,omitempty"`
	RuntimeConfig            *kfpRuntime     `json:"runtime_config,omitempty"`
	State                    string          `json:"state,omitempty"`
	CreatedAt                string          `json:"created_at,omitempty"`
	Error                    *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

type kfpVersionRef struct {
	PipelineID        string `json:"pipeline_id"`
	PipelineVersionID string `json:"pipeline_version_id,omitempty"`
}

type kfpRuntime struct {
	Parameters map[string]string `json:"parameters"`
}

// KFP run names may be long; 128 keeps them readable in the UI.
const kfpNameMax = 128

func (k *Kubeflow) api(path string) string {
	return strings.TrimRight(k.BaseURL, "/") + "/apis/v2beta1/runs" + path
}

func (k *Kubeflow) request(ctx context.Context, method, u string, body, out any) error {
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	var req *http.Request
	var err error
	if rd != nil {
		req, err = http.NewRequestWithContext(ctx, method, u, rd)
	} else {
		req, err = http.NewRequestWithContext(ctx, method, u, nil)
	}
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if k.Token != "" {
		req.Header.Set("Authorization", "Bearer "+k.Token)
	}
	if k.UserID != "" {
		req.Header.Set("kubeflow-userid", k.UserID)
	}
	_, err = do(k.HTTP, req, out)
	return err
}

// Train implements Trainer.
func (k *Kubeflow) Train(ctx context.Context, job Job, progress func(string)) (*Result, error) {
	if err := job.Validate(); err != nil {
		return nil, err
	}
	if k.PipelineID == "" && len(k.PipelineSpec) == 0 {
		return nil, &PermanentError{Backend: "kubeflow", JobID: job.RunID, Reason: "neither a pipeline id nor a pipeline spec is configured"}
	}
	progress = progressOrNop(progress)
	name := JobName(job.Model, job.RunID, kfpNameMax)
	run, err := k.find(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("train: kubeflow: look for run %s: %w", name, permanentHTTP("kubeflow", name, err))
	}
	if run != nil {
		progress(fmt.Sprintf("re-attaching to run %s (%s, %s)", run.RunID, name, run.State))
	} else if run, err = k.create(ctx, name, job); err != nil {
		return nil, fmt.Errorf("train: kubeflow: create run %s: %w", name, startCut(ctx, permanentHTTP("kubeflow", name, err)))
	} else {
		progress(fmt.Sprintf("created run %s (%s)", run.RunID, name))
	}
	id := run.RunID
	if id == "" {
		return nil, &PermanentError{Backend: "kubeflow", JobID: name, Reason: "the API answered without a run_id"}
	}
	last := run.State
	err = poller{interval: k.PollInterval, tolerate: ciTolerate}.run(ctx, func() (bool, error) {
		var cur kfpRun
		if err := k.request(ctx, http.MethodGet, k.api("/"+url.PathEscape(id)), nil, &cur); err != nil {
			return false, err
		}
		if cur.State != last {
			progress("run " + id + ": " + cur.State)
			last = cur.State
		}
		return kfpDone(id, cur)
	}, func(stopCtx context.Context) error {
		return k.request(stopCtx, http.MethodPost, k.api("/"+url.PathEscape(id)+":terminate"), nil, nil)
	})
	if err != nil {
		return nil, fmt.Errorf("train: kubeflow run %s (%s): %w", id, name, err)
	}
	return ciResult("kubeflow", id, k.api("/"+url.PathEscape(id)), job)
}

// kfpDone maps a v2beta1 RuntimeState to done / a permanent failure. The
// unspecified state has two spellings across KFP releases
// (RUNTIME_STATE_UNSPECIFIED in v2beta1, RUNTIMESTATE_UNSPECIFIED in the v1
// API some servers still answer with); both, and any state this code does
// not know, mean "not finished yet".
func kfpDone(id string, r kfpRun) (bool, error) {
	switch r.State {
	case "SUCCEEDED":
		return true, nil
	case "FAILED", "CANCELED", "SKIPPED":
		reason := "run " + r.State
		if r.Error != nil && r.Error.Message != "" {
			reason += ": " + truncate(r.Error.Message, 500)
		}
		return false, &PermanentError{Backend: "kubeflow", JobID: id, Reason: reason}
	}
	// "", RUNTIME_STATE_UNSPECIFIED, RUNTIMESTATE_UNSPECIFIED, PENDING,
	// RUNNING, CANCELING, PAUSED.
	return false, nil
}

func (k *Kubeflow) create(ctx context.Context, name string, job Job) (*kfpRun, error) {
	in := kfpRun{
		DisplayName:    name,
		Description:    "Vigil retrain of " + job.Model + ", run " + job.RunID,
		ExperimentID:   k.ExperimentID,
		Namespace:      k.Namespace,
		ServiceAccount: k.ServiceAccount,
		RuntimeConfig:  &kfpRuntime{Parameters: ciVariables(job)},
	}
	if k.PipelineID != "" {
		in.PipelineVersionReference = &kfpVersionRef{PipelineID: k.PipelineID, PipelineVersionID: k.PipelineVersionID}
	} else {
		in.PipelineSpec = k.PipelineSpec
	}
	var out kfpRun
	if err := k.request(ctx, http.MethodPost, k.api(""), in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// find returns the newest run named name, or nil. The filter is the
// JSON form of the v2beta1 Filter message; the name is compared again here
// so that a server applying the filter loosely cannot attach to another run.
func (k *Kubeflow) find(ctx context.Context, name string) (*kfpRun, error) {
	filter, _ := json.Marshal(map[string]any{"predicates": []map[string]any{
		{"key": "display_name", "operation": "EQUALS", "string_value": name},
	}})
	q := url.Values{"filter": {string(filter)}, "page_size": {"20"}, "sort_by": {"created_at desc"}}
	if k.Namespace != "" {
		q.Set("namespace", k.Namespace)
	}
	if k.ExperimentID != "" {
		q.Set("experiment_id", k.ExperimentID)
	}
	var list struct {
		Runs []kfpRun `json:"runs"`
	}
	if err := k.request(ctx, http.MethodGet, k.api("?"+q.Encode()), nil, &list); err != nil {
		return nil, err
	}
	var best *kfpRun
	for i, r := range list.Runs {
		if r.DisplayName == name && (best == nil || r.CreatedAt > best.CreatedAt) {
			best = &list.Runs[i]
		}
	}
	return best, nil
}

// LoadPipelineSpec reads a compiled KFP pipeline (the SDK's
// `kfp dsl compile` output, JSON or YAML) as the JSON object the runs API
// takes in pipeline_spec. A YAML file with a second document (a platform
// spec, e.g. for Kubernetes volumes) is refused: upload such a pipeline and
// use pipeline_id.
func LoadPipelineSpec(path string) (json.RawMessage, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("train: kubeflow pipeline_spec: %w", err)
	}
	var doc any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("train: kubeflow pipeline_spec %s: %w", path, err)
	}
	if bytes.Contains(b, []byte("\n---")) {
		return nil, fmt.Errorf("train: kubeflow pipeline_spec %s has several YAML documents (a platform spec?): upload the pipeline and set pipeline_id instead", path)
	}
	m, ok := doc.(map[string]any)
	if !ok || m["pipelineInfo"] == nil || m["root"] == nil {
		return nil, fmt.Errorf("train: kubeflow pipeline_spec %s is not a compiled pipeline (no pipelineInfo and root)", path)
	}
	out, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("train: kubeflow pipeline_spec %s: %w", path, err)
	}
	return out, nil
}
