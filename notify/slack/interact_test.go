package slack_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	vslack "github.com/vigilml/vigil/notify/slack"
)

const signingSecret = "8f742231b10e8888abcd99yyyzzz85a5"

type recordedAction struct {
	Kind, Model, Rule, Actor string
	D                        time.Duration
}

type fakeActions struct {
	mu   sync.Mutex
	done []recordedAction
}

func (f *fakeActions) Ack(_ context.Context, model, rule, actor string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.done = append(f.done, recordedAction{Kind: "ack", Model: model, Rule: rule, Actor: actor})
	return nil
}

func (f *fakeActions) Silence(_ context.Context, model, rule string, d time.Duration, actor string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.done = append(f.done, recordedAction{Kind: "silence", Model: model, Rule: rule, D: d, Actor: actor})
	return nil
}

// clickBody is the form Slack posts when the user clicks actionID on a head
// message posted for trigger().
func clickBody(t *testing.T, actionID, value, responseURL string) string {
	payload := map[string]any{
		"type":         "block_actions",
		"user":         map[string]string{"id": "U0ALICE", "username": "alice", "name": "alice"},
		"response_url": responseURL,
		"actions": []map[string]string{{
			"type": "button", "action_id": actionID, "block_id": "vigil_actions", "value": value, "action_ts": "1732761700.1",
		}},
	}
	b, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	return url.Values{"payload": {string(b)}}.Encode()
}

func sign(secret string, ts int64, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("v0:" + strconv.FormatInt(ts, 10) + ":" + body))
	return "v0=" + hex.EncodeToString(m.Sum(nil))
}

func TestInteractionHandlerVerifiesSignatures(t *testing.T) {
	ackValue := `{"model":"churn","rule":"accuracy-drop","incident":"churn/accuracy-drop/1"}`
	now := time.Now().Unix()
	for _, tc := range []struct {
		name       string
		secret     string // used to sign
		ts         int64
		tamper     bool
		noHeaders  bool
		wantStatus int
	}{
		{"valid", signingSecret, now, false, false, http.StatusOK},
		{"forged body", signingSecret, now, true, false, http.StatusUnauthorized},
		{"wrong secret", "some-other-secret-value", now, false, false, http.StatusUnauthorized},
		{"replayed after 6 minutes", signingSecret, now - 360, false, false, http.StatusUnauthorized},
		{"from the future", signingSecret, now + 360, false, false, http.StatusUnauthorized},
		{"unsigned", signingSecret, now, false, true, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			responses := make(chan map[string]any, 1)
			respSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var b map[string]any
				_ = json.NewDecoder(r.Body).Decode(&b)
				responses <- b
			}))
			defer respSrv.Close()

			actions := &fakeActions{}
			h, err := vslack.NewInteractionHandler(signingSecret, actions, nil)
			if err != nil {
				t.Fatal(err)
			}
			finished := make(chan error, 1)
			h.Done = func(err error) { finished <- err }

			body := clickBody(t, vslack.ActionAck, ackValue, respSrv.URL+"/actions/T0/1/xyz")
			sig := sign(tc.secret, tc.ts, body)
			if tc.tamper {
				body = strings.Replace(body, "accuracy-drop", "drift", 1)
			}
			req := httptest.NewRequest(http.MethodPost, "/slack/interactions", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if !tc.noHeaders {
				req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(tc.ts, 10))
				req.Header.Set("X-Slack-Signature", sig)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d", rec.Code, tc.wantStatus)
			}
			if tc.wantStatus != http.StatusOK {
				time.Sleep(20 * time.Millisecond) // give a wrongly started action the chance to show
				if len(actions.done) != 0 {
					t.Fatalf("action dispatched for a rejected request: %+v", actions.done)
				}
				return
			}
			select {
			case err := <-finished:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("action not run")
			}
			want := recordedAction{Kind: "ack", Model: "churn", Rule: "accuracy-drop", Actor: "slack:U0ALICE (alice)"}
			if len(actions.done) != 1 || actions.done[0] != want {
				t.Fatalf("actions = %+v, want %+v", actions.done, want)
			}
			r := <-responses
			if r["response_type"] != "ephemeral" || !strings.Contains(r["text"].(string), "acknowledged by slack:U0ALICE (alice)") {
				t.Errorf("response_url got %v", r)
			}
		})
	}
}

func TestSilenceButtonSilencesForTwoHours(t *testing.T) {
	actions := &fakeActions{}
	h, err := vslack.NewInteractionHandler(signingSecret, actions, nil)
	if err != nil {
		t.Fatal(err)
	}
	finished := make(chan error, 1)
	h.Done = func(err error) { finished <- err }
	body := clickBody(t, vslack.ActionSilence, `{"model":"churn","rule":"drift","incident":"x","duration":"2h"}`, "")
	ts := time.Now().Unix()
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("X-Slack-Signature", sign(signingSecret, ts, body))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	if err := <-finished; err != nil {
		t.Fatal(err)
	}
	want := recordedAction{Kind: "silence", Model: "churn", Rule: "drift", D: 2 * time.Hour, Actor: "slack:U0ALICE (alice)"}
	if len(actions.done) != 1 || actions.done[0] != want {
		t.Fatalf("actions = %+v", actions.done)
	}
}

func TestInteractionHandlerNeedsASecret(t *testing.T) {
	if _, err := vslack.NewInteractionHandler("", &fakeActions{}, nil); err == nil {
		t.Fatal("accepted an empty signing secret")
	}
}
