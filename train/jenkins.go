package train

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Jenkins trains by starting a parameterized job
// (POST /job/<path>/buildWithParameters with the VIGIL_* parameters, see
// ciVariables), following the queue item it returns (Location header) to
// the build, and polling the build's api/json until it has a result.
//
// It is idempotent by run id: before starting, it looks through the job's
// recent builds and the queue for one whose VIGIL_RUN_ID parameter is the
// run's. On cancellation it stops the build (or cancels the queue item).
// The job must declare the VIGIL_* string parameters.
type Jenkins struct {
	BaseURL      string
	Job          string // folders separated by "/", e.g. ml/train-churn
	User         string
	Token        string
	PollInterval time.Duration
	HTTP         *http.Client
	// LogTailLines is how much console output a failure carries; default 30.
	LogTailLines int
}

// Name implements Trainer.
func (j *Jenkins) Name() string { return "jenkins" }

func (j *Jenkins) jobURL() string {
	u := strings.TrimRight(j.BaseURL, "/")
	for _, part := range strings.Split(strings.Trim(j.Job, "/"), "/") {
		u += "/job/" + url.PathEscape(part)
	}
	return u + "/"
}

func (j *Jenkins) request(ctx context.Context, method, u string, body io.Reader, out any) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(j.User, j.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return do(j.HTTP, req, out)
}

type jkBuild struct {
	Number   int    `json:"number"`
	URL      string `json:"url"`
	Building bool   `json:"building"`
	Result   string `json:"result"`
	Actions  []struct {
		Parameters []struct {
			Name  string `json:"name"`
			Value any    `json:"value"`
		} `json:"parameters"`
	} `json:"actions"`
}

type jkQueueItem struct {
	ID         int    `json:"id"`
	URL        string `json:"url"` // relative: queue/item/N/
	Cancelled  bool   `json:"cancelled"`
	Why        string `json:"why"`
	Params     string `json:"params"`
	Executable *struct {
		Number int    `json:"number"`
		URL    string `json:"url"`
	} `json:"executable"`
	Task struct {
		URL string `json:"url"`
	} `json:"task"`
}

// Train implements Trainer.
func (j *Jenkins) Train(ctx context.Context, job Job, progress func(string)) (*Result, error) {
	if err := job.Validate(); err != nil {
		return nil, err
	}
	progress = progressOrNop(progress)
	buildURL, queueURL, err := j.find(ctx, job.RunID)
	if err != nil {
		return nil, fmt.Errorf("train: jenkins: look for run %s: %w", job.RunID, permanentHTTP("jenkins", job.RunID, err))
	}
	switch {
	case buildURL != "":
		progress("re-attaching to build " + buildURL)
	case queueURL != "":
		progress("re-attaching to queued item " + queueURL)
	default:
		form := url.Values{}
		vars := ciVariables(job)
		for _, k := range sortedKeys(vars) {
			form.Set(k, vars[k])
		}
		resp, err := j.request(ctx, http.MethodPost, j.jobURL()+"buildWithParameters", strings.NewReader(form.Encode()), nil)
		if err != nil {
			return nil, fmt.Errorf("train: jenkins: start %s: %w", j.Job, startCut(ctx, permanentHTTP("jenkins", job.RunID, err)))
		}
		queueURL = resp.Header.Get("Location")
		if queueURL == "" {
			return nil, &PermanentError{Backend: "jenkins", JobID: job.RunID, Reason: "buildWithParameters answered without a queue item Location"}
		}
		progress("queued " + queueURL)
	}
	var result string
	stop := func(stopCtx context.Context) error {
		if buildURL != "" {
			_, err := j.request(stopCtx, http.MethodPost, buildURL+"stop", nil, nil)
			return err
		}
		var item jkQueueItem
		if _, err := j.request(stopCtx, http.MethodGet, absolute(j.BaseURL, queueURL)+"api/json", nil, &item); err != nil {
			return err
		}
		_, err := j.request(stopCtx, http.MethodPost, strings.TrimRight(j.BaseURL, "/")+fmt.Sprintf("/queue/cancelItem?id=%d", item.ID), nil, nil)
		return err
	}
	err = poller{interval: j.PollInterval, tolerate: ciTolerate}.run(ctx, func() (bool, error) {
		if buildURL == "" {
			var item jkQueueItem
			if _, err := j.request(ctx, http.MethodGet, absolute(j.BaseURL, queueURL)+"api/json", nil, &item); err != nil {
				return false, err
			}
			if item.Cancelled {
				return false, &PermanentError{Backend: "jenkins", JobID: queueURL, Reason: "the queued build was cancelled"}
			}
			if item.Executable == nil {
				return false, nil
			}
			buildURL = absolute(j.BaseURL, item.Executable.URL)
			progress("build started: " + buildURL)
		}
		var b jkBuild
		if _, err := j.request(ctx, http.MethodGet, buildURL+"api/json", nil, &b); err != nil {
			return false, err
		}
		if b.Building || b.Result == "" {
			return false, nil
		}
		result = b.Result
		return true, nil
	}, stop)
	if err != nil {
		return nil, fmt.Errorf("train: jenkins %s: %w", cmp.Or(buildURL, queueURL), err)
	}
	progress("build " + buildURL + ": " + result)
	if result != "SUCCESS" {
		return nil, &PermanentError{Backend: "jenkins", JobID: buildURL, Reason: "build " + result, LogTail: j.consoleTail(ctx, buildURL)}
	}
	return ciResult("jenkins", buildURL, buildURL+"console", job)
}

// find looks for a build or queue item carrying runID.
func (j *Jenkins) find(ctx context.Context, runID string) (buildURL, queueURL string, err error) {
	var jobInfo struct {
		Builds []jkBuild `json:"builds"`
	}
	tree := "builds[number,url,building,result,actions[parameters[name,value]]]{0,50}"
	if _, err := j.request(ctx, http.MethodGet, j.jobURL()+"api/json?tree="+url.QueryEscape(tree), nil, &jobInfo); err != nil {
		return "", "", err
	}
	for _, b := range jobInfo.Builds {
		for _, a := range b.Actions {
			for _, p := range a.Parameters {
				if p.Name == EnvRunID && p.Value == runID {
					return absolute(j.BaseURL, b.URL), "", nil
				}
			}
		}
	}
	var queue struct {
		Items []jkQueueItem `json:"items"`
	}
	if _, err := j.request(ctx, http.MethodGet, strings.TrimRight(j.BaseURL, "/")+"/queue/api/json", nil, &queue); err != nil {
		return "", "", err
	}
	for _, it := range queue.Items {
		if absolute(j.BaseURL, it.Task.URL) == j.jobURL() && strings.Contains(it.Params+"\n", "\n"+EnvRunID+"="+runID+"\n") {
			return "", absolute(j.BaseURL, it.URL), nil
		}
	}
	return "", "", nil
}

func (j *Jenkins) consoleTail(ctx context.Context, buildURL string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, buildURL+"consoleText", nil)
	if err != nil {
		return ""
	}
	req.SetBasicAuth(j.User, j.Token)
	client := j.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	t := newTail(j.LogTailLines)
	if j.LogTailLines <= 0 {
		t.n = 30
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	for _, l := range strings.Split(strings.TrimRight(string(body), "\n"), "\n") {
		t.add(l)
	}
	return t.String()
}

// absolute resolves a URL Jenkins returned (absolute, or relative to the
// root, like queue/item/N/) and ends it with a slash.
func absolute(base, u string) string {
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		u = strings.TrimRight(base, "/") + "/" + strings.TrimLeft(u, "/")
	}
	if !strings.HasSuffix(u, "/") {
		u += "/"
	}
	return u
}
