package main

// The Slack Web API and the PagerDuty Events API v2 as Vigil's notifiers use
// them (slack-go: chat.postMessage, chat.update, conversations.history;
// go-pagerduty: POST /v2/enqueue), shared by the worker tests. Both record
// every request, can answer slowly (so a test can kill the worker while a
// request is in flight) and can be taken down: while down they answer 500,
// or 429 with Retry-After, without acting on the request, until told to
// recover.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeOptions configures a fake provider.
type fakeOptions struct {
	// Credential is the Slack bot token or the PagerDuty routing key the
	// fake accepts; a request with another one is recorded and refused
	// (invalid_auth, 400). Empty accepts any.
	Credential string
	// Channel is the Slack channel ID messages are posted to.
	Channel string
	// Latency is how long the fake holds its answer after it acted on a
	// request: Slack head messages only, every PagerDuty event.
	Latency time.Duration
}

// outage is the switch both fakes share: while down, every request is
// answered with the outage status and not acted on.
type outage struct {
	mu         sync.Mutex
	status     int           // 0 while up
	retryAfter time.Duration // sent with 429
	refused    int
	since      time.Time
	lasted     time.Duration // total time down so far (closed outages)
}

// down takes the provider down: status 500 (or any 5xx), or 429 with a
// Retry-After of retryAfter.
func (o *outage) down(status int, retryAfter time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.status == 0 {
		o.since = time.Now()
	}
	o.status, o.retryAfter = status, retryAfter
}

// up brings the provider back.
func (o *outage) up() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.status != 0 {
		o.lasted += time.Since(o.since)
	}
	o.status = 0
}

// refusedCount is how many requests were answered with an outage status.
func (o *outage) refusedCount() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.refused
}

// refuse answers with the outage status if the provider is down.
func (o *outage) refuse(w http.ResponseWriter, body429 string) bool {
	o.mu.Lock()
	status, retryAfter := o.status, o.retryAfter
	if status != 0 {
		o.refused++
	}
	o.mu.Unlock()
	switch {
	case status == 0:
		return false
	case status == http.StatusTooManyRequests:
		if retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(retryAfter.Round(time.Second)/time.Second)))
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintln(w, body429)
	default: // providers answer 5xx with an HTML page
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		fmt.Fprintf(w, "<html><body>%d %s</body></html>\n", status, http.StatusText(status))
	}
	return true
}

// fakeSlack is the Slack Web API.
type fakeSlack struct {
	outage
	srv  *httptest.Server
	opts fakeOptions

	mu      sync.Mutex
	calls   []slackCall    // every request, served or not
	pending map[string]int // model → head messages posted, answer not sent yet
	nextTS  int
}

// slackCall is one request to the Web API.
type slackCall struct {
	Method   string
	Token    string
	Channel  string
	TS       string // the message's ts: the new one (postMessage) or the edited one (update)
	ThreadTS string // set on thread replies
	Text     string
	Metadata slackMetadata // of head messages
	// Served is false for a request answered with an outage status or an
	// auth error: it had no effect.
	Served bool
}

type slackMetadata struct {
	EventType    string            `json:"event_type"`
	EventPayload map[string]string `json:"event_payload"`
}

func newFakeSlack(t *testing.T, opts fakeOptions) *fakeSlack {
	f := &fakeSlack{opts: opts, pending: map[string]int{}}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

// apiURL is the notifier's api_url.
func (f *fakeSlack) apiURL() string { return f.srv.URL + "/api/" }

func (f *fakeSlack) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	reply := func(v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	c := slackCall{Method: strings.TrimPrefix(r.URL.Path, "/api/"), Token: r.PostForm.Get("token"),
		Channel: r.PostForm.Get("channel"), ThreadTS: r.PostForm.Get("thread_ts"), Text: r.PostForm.Get("text")}
	if c.Token == "" {
		c.Token = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	if md := r.PostForm.Get("metadata"); md != "" {
		_ = json.Unmarshal([]byte(md), &c.Metadata)
	}
	record := func(c slackCall) int {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.calls = append(f.calls, c)
		return len(f.calls) - 1
	}
	if f.refuse(w, `{"ok":false,"error":"ratelimited"}`) {
		record(c)
		return
	}
	if f.opts.Credential != "" && c.Token != f.opts.Credential {
		record(c)
		reply(map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	c.Served = true
	switch c.Method {
	case "chat.postMessage":
		head := c.ThreadTS == ""
		model := c.Metadata.EventPayload["model"]
		f.mu.Lock()
		f.nextTS++
		c.TS = fmt.Sprintf("1764300000.%06d", f.nextTS)
		c.Channel = f.opts.Channel
		f.calls = append(f.calls, c)
		if head {
			f.pending[model]++
		}
		f.mu.Unlock()
		if head { // posted; the answer takes a while
			time.Sleep(f.opts.Latency)
			f.mu.Lock()
			f.pending[model]--
			f.mu.Unlock()
		}
		reply(map[string]any{"ok": true, "channel": f.opts.Channel, "ts": c.TS})
	case "chat.update":
		c.TS = r.PostForm.Get("ts")
		record(c)
		reply(map[string]any{"ok": true, "channel": c.Channel, "ts": c.TS})
	case "conversations.history":
		record(c)
		type message struct {
			TS       string        `json:"ts"`
			Text     string        `json:"text"`
			Metadata slackMetadata `json:"metadata"`
		}
		var top []message
		f.mu.Lock()
		for i := len(f.calls) - 1; i >= 0; i-- { // newest first, as Slack
			if m := f.calls[i]; m.Served && m.Method == "chat.postMessage" && m.ThreadTS == "" {
				top = append(top, message{TS: m.TS, Text: m.Text, Metadata: m.Metadata})
			}
		}
		f.mu.Unlock()
		reply(map[string]any{"ok": true, "messages": top, "has_more": false})
	default:
		c.Served = false
		record(c)
		reply(map[string]any{"ok": false, "error": "unknown_method"})
	}
}

// served returns the requests that took effect, in order.
func (f *fakeSlack) served() []slackCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []slackCall
	for _, c := range f.calls {
		if c.Served {
			out = append(out, c)
		}
	}
	return out
}

// methods lists the methods of the requests that took effect, in order.
func (f *fakeSlack) methods() (out []string) {
	for _, c := range f.served() {
		out = append(out, c.Method)
	}
	return out
}

// heads counts the head messages (not thread replies) posted for an
// incident, or for every incident with "".
func (f *fakeSlack) heads(incident string) (n int) {
	for _, c := range f.served() {
		if c.Method == "chat.postMessage" && c.ThreadTS == "" && (incident == "" || c.Metadata.EventPayload["incident_id"] == incident) {
			n++
		}
	}
	return n
}

// headTS is the ts of an incident's first head message.
func (f *fakeSlack) headTS(incident string) string {
	for _, c := range f.served() {
		if c.Method == "chat.postMessage" && c.ThreadTS == "" && c.Metadata.EventPayload["incident_id"] == incident {
			return c.TS
		}
	}
	return ""
}

// inFlight says whether a head message of model is posted but not answered.
func (f *fakeSlack) inFlight(model string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pending[model] > 0
}

// badTokens counts requests that did not carry the expected token.
func (f *fakeSlack) badTokens() (n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.calls {
		if c.Token != f.opts.Credential {
			n++
		}
	}
	return n
}

// fakePagerDuty is the Events API v2. It pages as PagerDuty does: once per
// dedup key until that key is resolved.
type fakePagerDuty struct {
	outage
	srv  *httptest.Server
	opts fakeOptions

	mu      sync.Mutex
	events  []pdEvent // every event received, accepted or not
	pages   map[string]int
	open    map[string]bool
	pending map[string]int // dedup key → events accepted, answer not sent yet
}

type pdEvent struct {
	RoutingKey string `json:"routing_key"`
	Action     string `json:"event_action"`
	DedupKey   string `json:"dedup_key"`
	// Accepted is false for an event refused (outage, bad routing key).
	Accepted bool `json:"-"`
}

func newFakePagerDuty(t *testing.T, opts fakeOptions) *fakePagerDuty {
	f := &fakePagerDuty{opts: opts, pages: map[string]int{}, open: map[string]bool{}, pending: map[string]int{}}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakePagerDuty) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var ev pdEvent
	if r.URL.Path != "/v2/enqueue" || json.NewDecoder(r.Body).Decode(&ev) != nil {
		http.Error(w, `{"status":"invalid event","message":"Event object is invalid"}`, http.StatusBadRequest)
		return
	}
	record := func(ev pdEvent) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.events = append(f.events, ev)
	}
	if f.refuse(w, `{"status":"throttle event","message":"Requests for this service are arriving too quickly. Please retry later."}`) {
		record(ev)
		return
	}
	if f.opts.Credential != "" && ev.RoutingKey != f.opts.Credential {
		record(ev)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintln(w, `{"status":"invalid event","message":"Event object is invalid","errors":["Invalid routing key"]}`)
		return
	}
	ev.Accepted = true
	f.mu.Lock()
	f.events = append(f.events, ev)
	switch ev.Action {
	case "trigger":
		if !f.open[ev.DedupKey] {
			f.open[ev.DedupKey] = true
			f.pages[ev.DedupKey]++
		}
	case "resolve":
		f.open[ev.DedupKey] = false
	}
	f.pending[ev.DedupKey]++
	f.mu.Unlock()
	time.Sleep(f.opts.Latency)
	f.mu.Lock()
	f.pending[ev.DedupKey]--
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(map[string]string{"status": "success", "message": "Event processed", "dedup_key": ev.DedupKey})
}

// accepted returns the events that took effect, in order.
func (f *fakePagerDuty) accepted() []pdEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []pdEvent
	for _, e := range f.events {
		if e.Accepted {
			out = append(out, e)
		}
	}
	return out
}

// actions lists the accepted events' actions, in order.
func (f *fakePagerDuty) actions() (out []string) {
	for _, e := range f.accepted() {
		out = append(out, e.Action)
	}
	return out
}

// triggers counts accepted trigger events, for every key.
func (f *fakePagerDuty) triggers() (n int) {
	for _, e := range f.accepted() {
		if e.Action == "trigger" {
			n++
		}
	}
	return n
}

// count returns the trigger events accepted for a dedup key and the pages
// they caused.
func (f *fakePagerDuty) count(key string) (triggers, pages int) {
	for _, e := range f.accepted() {
		if e.Action == "trigger" && e.DedupKey == key {
			triggers++
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return triggers, f.pages[key]
}

// keys lists the dedup keys that were triggered.
func (f *fakePagerDuty) keys() []string {
	var out []string
	for _, e := range f.accepted() {
		if e.Action == "trigger" && !slices.Contains(out, e.DedupKey) {
			out = append(out, e.DedupKey)
		}
	}
	slices.Sort(out)
	return out
}

func (f *fakePagerDuty) inFlight(key string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pending[key] > 0
}

func (f *fakePagerDuty) inFlightKeys() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for k, n := range f.pending {
		if n > 0 {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// badKeys counts events that did not carry the expected routing key.
func (f *fakePagerDuty) badKeys() (n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range f.events {
		if e.RoutingKey != f.opts.Credential {
			n++
		}
	}
	return n
}
