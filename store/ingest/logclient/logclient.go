package logclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Prediction is one inference record.
type Prediction struct {
	EventID      string             `json:"event_id"`
	Time         time.Time          `json:"time,omitzero"` // zero: the server's clock
	ModelVersion string             `json:"model_version,omitempty"`
	Features     map[string]any     `json:"features,omitempty"`
	Prediction   any                `json:"prediction"`
	Score        *float64           `json:"score,omitempty"`
	Scores       map[string]float64 `json:"scores,omitempty"`
	LatencyMS    *float64           `json:"latency_ms,omitempty"`
}

// GroundTruth is the true outcome of an earlier prediction.
type GroundTruth struct {
	EventID string    `json:"event_id"`
	Label   any       `json:"label"`
	Time    time.Time `json:"time,omitzero"`
}

// Options tune a Client. Zero values take the defaults shown.
type Options struct {
	Token         string        // bearer token, if the worker requires one
	BatchSize     int           // records per request: 500
	BatchBytes    int           // request body bytes: 1 MiB (keep under the server's limit)
	FlushInterval time.Duration // a partial batch is sent after: 1s
	QueueBatches  int           // full batches waiting to be sent: 8
	MaxAttempts   int           // tries per batch: 6
	Backoff       time.Duration // first retry delay, doubling up to 30s: 200ms
	HTTPClient    *http.Client  // http.Client with a 30s timeout
	OnError       func(error)   // called for each batch given up on
}

// Client batches records and sends them in the background. Safe for
// concurrent use.
type Client struct {
	opts      Options
	endpoints [2]string
	queue     chan job
	stop      chan struct{}
	done      chan struct{}

	mu      sync.Mutex
	pending [2]*bytes.Buffer
	counts  [2]int
	closed  bool
}

type job struct {
	kind  int
	body  []byte
	flush chan error // a flush marker when set
}

const (
	predictions = iota
	groundTruth
)

// ErrClosed is returned by Log after Close.
var ErrClosed = errors.New("logclient: closed")

// New starts a client for one model.
func New(baseURL, model string, opts Options) *Client {
	if opts.BatchSize <= 0 {
		opts.BatchSize = 500
	}
	if opts.BatchBytes <= 0 {
		opts.BatchBytes = 1 << 20
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = time.Second
	}
	if opts.QueueBatches <= 0 {
		opts.QueueBatches = 8
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 6
	}
	if opts.Backoff <= 0 {
		opts.Backoff = 200 * time.Millisecond
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	base := strings.TrimSuffix(baseURL, "/") + "/v1/models/" + url.PathEscape(model)
	c := &Client{
		opts:      opts,
		endpoints: [2]string{base + "/predictions", base + "/ground-truth"},
		queue:     make(chan job, opts.QueueBatches),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
		pending:   [2]*bytes.Buffer{{}, {}},
	}
	go c.run()
	return c
}

// Log queues a prediction.
func (c *Client) Log(ctx context.Context, p Prediction) error { return c.add(ctx, predictions, p) }

// LogGroundTruth queues a label.
func (c *Client) LogGroundTruth(ctx context.Context, g GroundTruth) error {
	return c.add(ctx, groundTruth, g)
}

func (c *Client) add(ctx context.Context, kind int, rec any) error {
	line, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("logclient: encode record: %w", err)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	buf := c.pending[kind]
	if buf.Len() > 0 && buf.Len()+len(line)+1 > c.opts.BatchBytes {
		body := c.take(kind)
		c.mu.Unlock()
		if err := c.enqueue(ctx, job{kind: kind, body: body}); err != nil {
			return err
		}
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return ErrClosed
		}
	}
	buf.Write(line)
	buf.WriteByte('\n')
	c.counts[kind]++
	var full []byte
	if c.counts[kind] >= c.opts.BatchSize || buf.Len() >= c.opts.BatchBytes {
		full = c.take(kind)
	}
	c.mu.Unlock()
	if full != nil {
		return c.enqueue(ctx, job{kind: kind, body: full})
	}
	return nil
}

// take empties a pending batch; c.mu must be held.
func (c *Client) take(kind int) []byte {
	if c.pending[kind].Len() == 0 {
		return nil
	}
	body := bytes.Clone(c.pending[kind].Bytes())
	c.pending[kind].Reset()
	c.counts[kind] = 0
	return body
}

func (c *Client) enqueue(ctx context.Context, j job) error {
	select {
	case c.queue <- j:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("logclient: queue full, record dropped: %w", ctx.Err())
	}
}

// Flush sends everything logged so far and waits for it; it returns the
// errors of batches given up on since the previous Flush.
func (c *Client) Flush(ctx context.Context) error {
	c.mu.Lock()
	bodies := [2][]byte{c.take(predictions), c.take(groundTruth)}
	c.mu.Unlock()
	for kind, b := range bodies {
		if b != nil {
			if err := c.enqueue(ctx, job{kind: kind, body: b}); err != nil {
				return err
			}
		}
	}
	marker := job{flush: make(chan error, 1)}
	if err := c.enqueue(ctx, marker); err != nil {
		return err
	}
	select {
	case err := <-marker.flush:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close flushes (waiting at most 30s) and stops the client.
func (c *Client) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := c.Flush(ctx)
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.stop)
	}
	c.mu.Unlock()
	<-c.done
	return err
}

func (c *Client) run() {
	defer close(c.done)
	tick := time.NewTicker(c.opts.FlushInterval)
	defer tick.Stop()
	var errs []error
	for {
		select {
		case j := <-c.queue:
			if j.flush != nil {
				j.flush <- errors.Join(errs...)
				errs = nil
				continue
			}
			if err := c.send(j); err != nil {
				errs = append(errs, err)
				if c.opts.OnError != nil {
					c.opts.OnError(err)
				}
			}
		case <-tick.C:
			c.mu.Lock()
			bodies := [2][]byte{c.take(predictions), c.take(groundTruth)}
			c.mu.Unlock()
			for kind, b := range bodies {
				if b != nil {
					if err := c.send(job{kind: kind, body: b}); err != nil {
						errs = append(errs, err)
						if c.opts.OnError != nil {
							c.opts.OnError(err)
						}
					}
				}
			}
		case <-c.stop:
			return
		}
	}
}

// send posts one batch, retrying what retrying can fix.
func (c *Client) send(j job) error {
	delay := c.opts.Backoff
	var last error
	for attempt := 1; attempt <= c.opts.MaxAttempts; attempt++ {
		retry, wait, err := c.post(j)
		if err == nil {
			return nil
		}
		last = err
		if !retry || attempt == c.opts.MaxAttempts {
			break
		}
		if wait <= 0 {
			wait = delay/2 + rand.N(delay/2+1)
		}
		select {
		case <-time.After(wait):
		case <-c.stop:
			return last
		}
		delay = min(2*delay, 30*time.Second)
	}
	return fmt.Errorf("logclient: batch of %d bytes to %s dropped: %w", len(j.body), c.endpoints[j.kind], last)
}

// post makes one attempt: whether to retry, how long the server asked to
// wait, and the failure.
func (c *Client) post(j job) (bool, time.Duration, error) {
	req, err := http.NewRequest(http.MethodPost, c.endpoints[j.kind], bytes.NewReader(j.body))
	if err != nil {
		return false, 0, err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	if c.opts.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.opts.Token)
	}
	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		return true, 0, err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	switch {
	case resp.StatusCode/100 == 2:
		return false, 0, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		var wait time.Duration
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			wait = time.Duration(s) * time.Second
		}
		return true, wait, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return false, 0, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(msg))
}
