package train

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// GitLab trains by triggering a GitLab CI pipeline with the pipeline
// trigger API (POST /projects/:id/trigger/pipeline, token + ref +
// variables; see ciVariables) and polling GET /projects/:id/pipelines/:pid
// until it succeeds or fails.
//
// With an APIToken (read_api scope; api to cancel) it is idempotent by run
// id: before triggering it looks for a recent pipeline of the ref whose
// VIGIL_RUN_ID variable is the run's and follows that one; on cancellation it
// cancels the pipeline. Without one (public projects) neither is possible.
type GitLab struct {
	BaseURL      string // e.g. https://gitlab.com
	Project      string // id or group/name
	Ref          string
	TriggerToken string
	APIToken     string
	PollInterval time.Duration
	HTTP         *http.Client
}

// Name implements Trainer.
func (g *GitLab) Name() string { return "gitlab" }

type glPipeline struct {
	ID     int    `json:"id"`
	Status string `json:"status"`
	WebURL string `json:"web_url"`
}

func (g *GitLab) api(path string) string {
	return strings.TrimRight(g.BaseURL, "/") + "/api/v4/projects/" + url.PathEscape(g.Project) + path
}

func (g *GitLab) get(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.api(path), nil)
	if err != nil {
		return err
	}
	if g.APIToken != "" {
		req.Header.Set("PRIVATE-TOKEN", g.APIToken)
	}
	_, err = do(g.HTTP, req, out)
	return err
}

// Train implements Trainer.
func (g *GitLab) Train(ctx context.Context, job Job, progress func(string)) (*Result, error) {
	if err := job.Validate(); err != nil {
		return nil, err
	}
	progress = progressOrNop(progress)
	p, err := g.find(ctx, job.RunID)
	if err != nil {
		return nil, fmt.Errorf("train: gitlab: look for run %s: %w", job.RunID, startCut(ctx, permanentHTTP("gitlab", job.RunID, err)))
	}
	if p != nil {
		progress(fmt.Sprintf("re-attaching to pipeline %d (%s)", p.ID, p.WebURL))
	} else if p, err = g.trigger(ctx, job); err != nil {
		return nil, fmt.Errorf("train: gitlab: trigger pipeline: %w", startCut(ctx, permanentHTTP("gitlab", job.RunID, err)))
	} else {
		progress(fmt.Sprintf("triggered pipeline %d (%s)", p.ID, p.WebURL))
	}
	id := strconv.Itoa(p.ID)
	last := p.Status
	err = poller{interval: g.PollInterval, tolerate: ciTolerate}.run(ctx, func() (bool, error) {
		var cur glPipeline
		if err := g.get(ctx, "/pipelines/"+id, &cur); err != nil {
			return false, err
		}
		if cur.Status != last {
			progress("pipeline " + id + ": " + cur.Status)
			last = cur.Status
		}
		switch cur.Status {
		case "success":
			return true, nil
		case "failed", "canceled", "skipped":
			return false, &PermanentError{Backend: "gitlab", JobID: p.WebURL, Reason: "pipeline " + cur.Status}
		}
		return false, nil
	}, func(stopCtx context.Context) error {
		if g.APIToken == "" {
			return fmt.Errorf("no API token to cancel pipeline %s", id)
		}
		req, _ := http.NewRequestWithContext(stopCtx, http.MethodPost, g.api("/pipelines/"+id+"/cancel"), nil)
		req.Header.Set("PRIVATE-TOKEN", g.APIToken)
		_, err := do(g.HTTP, req, nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("train: gitlab pipeline %s: %w", p.WebURL, err)
	}
	return ciResult("gitlab", p.WebURL, p.WebURL, job)
}

func (g *GitLab) trigger(ctx context.Context, job Job) (*glPipeline, error) {
	form := url.Values{"token": {g.TriggerToken}, "ref": {cmp.Or(g.Ref, "main")}}
	vars := ciVariables(job)
	for _, k := range sortedKeys(vars) {
		form.Set("variables["+k+"]", vars[k])
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.api("/trigger/pipeline"), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var p glPipeline
	if _, err := do(g.HTTP, req, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// find returns the recent triggered pipeline of the ref that carries runID.
func (g *GitLab) find(ctx context.Context, runID string) (*glPipeline, error) {
	if g.APIToken == "" {
		return nil, nil
	}
	var recent []glPipeline
	q := url.Values{"ref": {cmp.Or(g.Ref, "main")}, "source": {"trigger"}, "per_page": {"50"}, "order_by": {"id"}, "sort": {"desc"}}
	if err := g.get(ctx, "/pipelines?"+q.Encode(), &recent); err != nil {
		return nil, err
	}
	for _, p := range recent {
		var vars []struct{ Key, Value string }
		if err := g.get(ctx, fmt.Sprintf("/pipelines/%d/variables", p.ID), &vars); err != nil {
			return nil, err
		}
		for _, v := range vars {
			if v.Key == EnvRunID && v.Value == runID {
				return &p, nil
			}
		}
	}
	return nil, nil
}
