package slack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilml/vigil/notify"
	vslack "github.com/vigilml/vigil/notify/slack"
)

const token = "xoxb-test-token-0123456789"

// call is one Web API call the fake Slack received.
type call struct {
	Method string
	Form   map[string]string
}

type message struct {
	TS       string          `json:"ts"`
	ThreadTS string          `json:"thread_ts,omitempty"`
	Text     string          `json:"text"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
	Blocks   json.RawMessage `json:"blocks,omitempty"`
}

// fakeSlack is the Slack Web API as far as the notifier uses it: it keeps
// the channel's messages so conversations.history can answer truthfully.
type fakeSlack struct {
	t        *testing.T
	mu       sync.Mutex
	calls    []call
	messages []message // channel C0VIGIL
	nextTS   int
	// loseNextPost stores the next chat.postMessage but answers 500, as
	// when Slack posted and the answer was lost.
	loseNextPost bool
	failWith     string // answer every call with ok=false and this error
	status       int    // answer every call with this HTTP status
}

func newFake(t *testing.T) (*fakeSlack, *httptest.Server) {
	f := &fakeSlack{t: t, nextTS: 1}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeSlack) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_ = r.ParseForm()
	if got := r.PostForm.Get("token"); got != token { // slack-go sends the token as a form field
		f.t.Errorf("token = %q", got)
	}
	c := call{Method: strings.TrimPrefix(r.URL.Path, "/api/"), Form: map[string]string{}}
	for k := range r.PostForm {
		c.Form[k] = r.PostForm.Get(k)
	}
	f.calls = append(f.calls, c)
	if f.status != 0 {
		w.WriteHeader(f.status)
		return
	}
	reply := func(v map[string]any) {
		if f.failWith != "" {
			v = map[string]any{"ok": false, "error": f.failWith}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	switch c.Method {
	case "chat.postMessage":
		if f.failWith != "" {
			reply(nil)
			return
		}
		ts := fmt.Sprintf("1732761600.%06d", f.nextTS)
		f.nextTS++
		m := message{TS: ts, ThreadTS: c.Form["thread_ts"], Text: c.Form["text"], Blocks: raw(c.Form["blocks"])}
		if c.Form["metadata"] != "" {
			m.Metadata = raw(c.Form["metadata"])
		}
		f.messages = append(f.messages, m)
		if f.loseNextPost {
			f.loseNextPost = false
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		reply(map[string]any{"ok": true, "channel": "C0VIGIL", "ts": ts})
	case "chat.update":
		reply(map[string]any{"ok": true, "channel": c.Form["channel"], "ts": c.Form["ts"]})
	case "conversations.history":
		var top []message
		for _, m := range f.messages {
			if m.ThreadTS == "" {
				top = append(top, m)
			}
		}
		reply(map[string]any{"ok": true, "messages": top, "has_more": false})
	default:
		f.t.Errorf("unexpected Slack call %s", c.Method)
		reply(map[string]any{"ok": false, "error": "unknown_method"})
	}
}

func raw(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

func (f *fakeSlack) methods() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		out = append(out, c.Method)
	}
	return out
}

func (f *fakeSlack) last(method string) call {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.calls) - 1; i >= 0; i-- {
		if f.calls[i].Method == method {
			return f.calls[i]
		}
	}
	f.t.Fatalf("no %s call", method)
	return call{}
}

func newNotifier(t *testing.T, srv *httptest.Server, channel string) *vslack.Notifier {
	t.Helper()
	n, err := vslack.New(vslack.Options{Token: token, Channel: channel, APIURL: srv.URL + "/api/", HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

var opened = time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)

func trigger() notify.Event {
	return notify.Event{
		Kind: notify.KindTrigger, IncidentID: notify.IncidentID("churn", "accuracy-drop", opened),
		DedupKey: notify.DedupKey("churn", "accuracy-drop"),
		Model:    "churn", ModelVersion: "v7", Rule: "accuracy-drop", Severity: "critical",
		Metric: "performance.accuracy", Value: 0.78, Threshold: "< 0.85",
		WindowStart: opened.Add(-15 * time.Minute), WindowEnd: opened,
		TopDrifted: []string{"tenure", "plan"},
		WeakSegments: []string{"plan = basic: accuracy 0.51 (-0.44), 1250 rows",
			"tenure <= 3 and plan = basic: accuracy 0.48 (-0.46), 310 rows", "region = <eu>: accuracy 0.7 (-0.2), 900 rows"},
		WorkflowURL: "http://ui.example/namespaces/default/workflows/incident-churn",
		ReportURL:   "http://reports.example/churn/2026-11-28T03.json",
		At:          opened,
	}
}

func TestTriggerPostsHeadMessageWithBlocksButtonsAndMetadata(t *testing.T) {
	f, srv := newFake(t)
	n := newNotifier(t, srv, "C0VIGIL")

	ref, err := n.Notify(context.Background(), trigger())
	if err != nil {
		t.Fatal(err)
	}
	if ref != "C0VIGIL:1732761600.000001" {
		t.Fatalf("ref = %q", ref)
	}
	if got := strings.Join(f.methods(), ","); got != "conversations.history,chat.postMessage" {
		t.Fatalf("calls = %s: want the dedup lookup, then one post", got)
	}
	h := f.last("conversations.history")
	if h.Form["channel"] != "C0VIGIL" || h.Form["include_all_metadata"] != "1" {
		t.Errorf("history lookup = %v", h.Form)
	}
	p := f.last("chat.postMessage")
	if p.Form["channel"] != "C0VIGIL" || p.Form["thread_ts"] != "" {
		t.Errorf("post form = %v", p.Form)
	}
	var md struct {
		EventType    string            `json:"event_type"`
		EventPayload map[string]string `json:"event_payload"`
	}
	if err := json.Unmarshal([]byte(p.Form["metadata"]), &md); err != nil {
		t.Fatal(err)
	}
	if md.EventType != vslack.MetadataEventType || md.EventPayload["incident_id"] != "churn/accuracy-drop/1795834800" {
		t.Errorf("metadata = %+v", md)
	}
	blocks := p.Form["blocks"]
	for _, want := range []string{
		`"type":"header"`, "churn: accuracy-drop", "`churn` version `v7`", "performance.accuracy", "0.78", `\u0026lt; 0.85`,
		"2026-11-28 02:45 – 03:00 UTC", "`tenure`, `plan`",
		// the top three weak segments, escaped for mrkdwn
		"*Weakest segments:*", "• plan = basic: accuracy 0.51 (-0.44), 1250 rows",
		`• tenure \u0026lt;= 3 and plan = basic`, `region = \u0026lt;eu\u0026gt;`,
		`"action_id":"vigil_ack"`, `"action_id":"vigil_silence"`, "Silence 2h",
		`\"model\":\"churn\"`, `\"rule\":\"accuracy-drop\"`, `\"incident\":\"churn/accuracy-drop/1795834800\"`,
		"http://ui.example/namespaces/default/workflows/incident-churn", "http://reports.example/churn/2026-11-28T03.json",
	} {
		if !strings.Contains(blocks, want) {
			t.Errorf("blocks lack %q:\n%s", want, blocks)
		}
	}
}

func TestRetriedTriggerDoesNotPostASecondHeadMessage(t *testing.T) {
	f, srv := newFake(t)
	n := newNotifier(t, srv, "C0VIGIL")
	f.loseNextPost = true

	_, err := n.Notify(context.Background(), trigger())
	if err == nil || !notify.IsRetryable(err) {
		t.Fatalf("first attempt: got %v, want a retryable error", err)
	}
	// Temporal retries the activity, possibly in a fresh worker.
	ref, err := newNotifier(t, srv, "C0VIGIL").Notify(context.Background(), trigger())
	if err != nil {
		t.Fatal(err)
	}
	if len(f.messages) != 1 {
		t.Fatalf("%d messages posted, want 1", len(f.messages))
	}
	if ref != "C0VIGIL:"+f.messages[0].TS {
		t.Fatalf("ref = %q, want the first post's", ref)
	}
	if got := strings.Join(f.methods(), ","); got != "conversations.history,chat.postMessage,conversations.history" {
		t.Fatalf("calls = %s", got)
	}
}

func TestAnotherIncidentOfTheSameRuleGetsItsOwnMessage(t *testing.T) {
	f, srv := newFake(t)
	n := newNotifier(t, srv, "C0VIGIL")
	if _, err := n.Notify(context.Background(), trigger()); err != nil {
		t.Fatal(err)
	}
	next := trigger()
	next.IncidentID = notify.IncidentID("churn", "accuracy-drop", opened.Add(time.Hour))
	next.At = opened.Add(time.Hour)
	ref, err := n.Notify(context.Background(), next)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.messages) != 2 || ref != "C0VIGIL:"+f.messages[1].TS {
		t.Fatalf("messages=%d ref=%q", len(f.messages), ref)
	}
}

func TestChannelByNameLearnsTheIDFromTheFirstPost(t *testing.T) {
	f, srv := newFake(t)
	n := newNotifier(t, srv, "#ml-alerts")
	if _, err := n.Notify(context.Background(), trigger()); err != nil {
		t.Fatal(err)
	}
	if got := f.last("chat.postMessage").Form["channel"]; got != "#ml-alerts" {
		t.Fatalf("first post to %q", got)
	}
	next := trigger()
	next.IncidentID += "-2"
	if _, err := n.Notify(context.Background(), next); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.methods(), ","); got != "chat.postMessage,conversations.history,chat.postMessage" {
		t.Fatalf("calls = %s: the lookup needs the ID, learned from the first post", got)
	}
}

func TestFollowUpsReplyInThreadAndUpdateTheHead(t *testing.T) {
	for _, tc := range []struct {
		name       string
		ev         func(notify.Event) notify.Event
		reply      string
		headState  string
		ackButton  bool
		anyButtons bool
	}{
		{"acknowledge", func(e notify.Event) notify.Event {
			e.Kind, e.Actor, e.AckedBy = notify.KindAcknowledge, "slack:U1 (alice)", "slack:U1 (alice)"
			return e
		}, "Acknowledged by slack:U1 (alice)", "*Acknowledged* by slack:U1 (alice)", false, true},
		{"escalate", func(e notify.Event) notify.Event { e.Kind = notify.KindEscalate; return e },
			"escalated to on-call", "*Escalated*", true, true},
		{"resolve", func(e notify.Event) notify.Event {
			e.Kind, e.Value, e.At = notify.KindResolve, 0.91, opened.Add(time.Hour)
			return e
		}, "Resolved: performance.accuracy = 0.91", "*Resolved* at 2026-11-28 04:00 UTC", false, false},
		{"update after ack keeps the ack", func(e notify.Event) notify.Event {
			e.Kind, e.AckedBy, e.Value = notify.KindUpdate, "bob", 0.7
			return e
		}, "Update: performance.accuracy = 0.7", "*Acknowledged* by bob", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, srv := newFake(t)
			n := newNotifier(t, srv, "C0VIGIL")
			ev := tc.ev(trigger())
			ev.Ref = "C0VIGIL:1732761600.000042"
			ref, err := n.Notify(context.Background(), ev)
			if err != nil {
				t.Fatal(err)
			}
			if ref != ev.Ref {
				t.Errorf("ref = %q, want it kept", ref)
			}
			if got := strings.Join(f.methods(), ","); got != "chat.postMessage,chat.update" {
				t.Fatalf("calls = %s", got)
			}
			r := f.last("chat.postMessage")
			if r.Form["channel"] != "C0VIGIL" || r.Form["thread_ts"] != "1732761600.000042" || !strings.Contains(r.Form["text"], tc.reply) {
				t.Errorf("reply = %v, want %q in thread", r.Form, tc.reply)
			}
			u := f.last("chat.update")
			if u.Form["channel"] != "C0VIGIL" || u.Form["ts"] != "1732761600.000042" {
				t.Errorf("update = %v", u.Form)
			}
			if !strings.Contains(u.Form["blocks"], tc.headState) {
				t.Errorf("head lacks %q: %s", tc.headState, u.Form["blocks"])
			}
			if got := strings.Contains(u.Form["blocks"], "vigil_ack"); got != tc.ackButton {
				t.Errorf("ack button present=%v, want %v", got, tc.ackButton)
			}
			if got := strings.Contains(u.Form["blocks"], "vigil_silence"); got != tc.anyButtons {
				t.Errorf("silence button present=%v, want %v", got, tc.anyButtons)
			}
		})
	}
}

func TestRetriedTriggerWithRefIsANoOp(t *testing.T) {
	f, srv := newFake(t)
	ev := trigger()
	ev.Ref = "C0VIGIL:1.2"
	ref, err := newNotifier(t, srv, "C0VIGIL").Notify(context.Background(), ev)
	if err != nil || ref != ev.Ref || len(f.methods()) != 0 {
		t.Fatalf("ref=%q err=%v calls=%v", ref, err, f.methods())
	}
}

func TestTestEventIsMarkedAndNotDeduplicated(t *testing.T) {
	f, srv := newFake(t)
	n := newNotifier(t, srv, "C0VIGIL")
	ev := notify.Event{Kind: notify.KindTest, Model: "vigil", Rule: "notify-test", Severity: "info", IncidentID: "test"}
	for range 2 {
		if _, err := n.Notify(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	if len(f.messages) != 2 {
		t.Fatalf("posted %d", len(f.messages))
	}
	p := f.last("chat.postMessage")
	if !strings.Contains(p.Form["text"], "[TEST]") || !strings.Contains(p.Form["blocks"], "Test notification") || p.Form["metadata"] != "" {
		t.Errorf("test post = %v", p.Form)
	}
}

func TestErrorsAreClassified(t *testing.T) {
	for _, tc := range []struct {
		name     string
		status   int
		apiError string
		retry    bool
		hint     string
	}{
		{"500", 500, "", true, "HTTP 500"},
		{"429", 429, "", true, "HTTP 429"},
		{"400", 400, "", false, "HTTP 400"},
		{"invalid_auth", 0, "invalid_auth", false, "check notify.slack.token_env"},
		{"channel_not_found", 0, "channel_not_found", false, "use the channel ID"},
		{"ratelimited in body", 0, "ratelimited", true, "ratelimited"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, srv := newFake(t)
			f.status, f.failWith = tc.status, tc.apiError
			ev := trigger()
			ev.Ref = "C0VIGIL:1.2"
			ev.Kind = notify.KindResolve
			_, err := newNotifier(t, srv, "C0VIGIL").Notify(context.Background(), ev)
			if err == nil || notify.IsRetryable(err) != tc.retry || !strings.Contains(err.Error(), tc.hint) {
				t.Fatalf("got %v (retryable %v), want retryable=%v with %q", err, notify.IsRetryable(err), tc.retry, tc.hint)
			}
		})
	}
}

func TestWebhookModeSendsOneMessagePerEvent(t *testing.T) {
	var bodies []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/services/T0/B0/secretpart" || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("got %s %s", r.URL.Path, r.Header.Get("Content-Type"))
		}
		var b map[string]any
		_ = json.NewDecoder(r.Body).Decode(&b)
		bodies = append(bodies, b)
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	n, err := vslack.New(vslack.Options{WebhookURL: srv.URL + "/services/T0/B0/secretpart", HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	ev := trigger()
	ref, err := n.Notify(context.Background(), ev)
	if err != nil || ref != "" {
		t.Fatalf("ref=%q err=%v", ref, err)
	}
	ev.Kind = notify.KindResolve
	if _, err := n.Notify(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if len(bodies) != 2 {
		t.Fatalf("%d webhook posts", len(bodies))
	}
	first, _ := json.Marshal(bodies[0])
	if !strings.Contains(string(first), "accuracy-drop") || strings.Contains(string(first), "vigil_ack") ||
		bodies[0]["text"] != "[critical] churn: accuracy-drop: performance.accuracy = 0.78 (threshold &lt; 0.85)" {
		t.Errorf("webhook body = %s", first)
	}
	if !strings.HasPrefix(bodies[1]["text"].(string), "Resolved") {
		t.Errorf("resolve text = %v", bodies[1]["text"])
	}
}
