package main

// Issue 9, "Provider outages": Slack and PagerDuty answer 500, then 429
// with Retry-After, while an incident opens, escalates, is acknowledged and
// resolves. The incident's state follows the data and the people at once;
// after recovery each provider gets every event once, in order, on the
// same Slack message and the same PagerDuty dedup key.
//
//	go test -run TestProviderOutage -v ./worker

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigilml/vigil/control"
	"github.com/vigilml/vigil/workflows"
)

func TestProviderOutageDeliversOnceInOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an incident through a 25-second provider outage on a Temporal server")
	}
	const (
		token    = "xoxb-outage"
		key      = "outage-routing-key"
		channel  = "C0OUTAGE1"
		rule     = "no-traffic"
		dedupKey = "vigil/churn/" + rule
		// The outage: 500 for the first part, then 429 with Retry-After.
		outage500 = 15 * time.Second
		outage429 = 10 * time.Second
	)
	slack := newFakeSlack(t, fakeOptions{Credential: token, Channel: channel})
	pd := newFakePagerDuty(t, fakeOptions{Credential: key})
	t.Setenv("OUTAGE_SLACK_TOKEN", token)
	t.Setenv("OUTAGE_PD_KEY", key)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ref.csv"), []byte("x,label,prediction\n1,1,1\n2,0,0\n3,1,0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgPath := writeConfig(t, dir, fmt.Sprintf(`
dev: {data_dir: "{{dir}}/state"}
notify:
  slack: {token_env: OUTAGE_SLACK_TOKEN, channel: %s, api_url: %q}
  pagerduty: {routing_key_env: OUTAGE_PD_KEY, events_url: %q}
models:
  - name: churn
    task: binary
    schedule: {every: 1h}
    columns: {target: label, prediction: prediction}
    source: {uri: "file://{{dir}}/data"}
    reference: {uri: "file://{{dir}}/ref.csv"}
    rules:
      # No traffic breaches at once; nobody acks in 2s, so it pages.
      - {name: %s, metric: rows.current, below: 1, severity: critical, escalate_after: 2s}
`, channel, slack.apiURL(), pd.srv.URL, rule))

	slack.down(http.StatusInternalServerError, 0)
	pd.down(http.StatusInternalServerError, 0)
	down := time.Now()
	w := startWorker(t, options{configPath: cfgPath})
	ctx := context.Background()
	wc := &control.Client{C: w.Client, TaskQueue: w.Config.Temporal.TaskQueue}
	state := func() (*workflows.RuleState, error) {
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		st, err := wc.Incidents(qctx, "churn")
		if err != nil || st == nil || st.Rules[rule] == nil {
			return nil, err
		}
		return st.Rules[rule], nil
	}
	nothingDelivered := func(when string) {
		t.Helper()
		if n := len(slack.served()) + len(pd.accepted()); n != 0 {
			t.Errorf("%s: %d requests took effect during the outage (Slack %v, PagerDuty %v)", when, n, slack.methods(), pd.actions())
		}
	}

	// The incident opens while both providers are down...
	if _, err := wc.Trigger(ctx, "churn", time.Time{}); err != nil {
		t.Fatal(err)
	}
	var incID string
	waitFor(t, 30*time.Second, "the incident to open", func() (bool, error) {
		rs, err := state()
		if rs != nil && rs.Open != nil {
			incID = rs.Open.ID
		}
		return incID != "", err
	})
	// ...escalates on time although nobody could be told...
	waitFor(t, 15*time.Second, "the incident to escalate during the outage", func() (bool, error) {
		rs, err := state()
		return rs != nil && rs.Open != nil && rs.Open.Escalated, err
	})
	if rs, _ := state(); rs != nil && rs.Open != nil && (len(rs.Open.Notified) != 0 || len(rs.Open.Refs) != 0) {
		t.Errorf("during the outage the incident claims deliveries: notified %v, refs %v", rs.Open.Notified, rs.Open.Refs)
	}
	// ...is acknowledged: the ack is recorded at once, not after the outage...
	ackStarted := time.Now()
	actx, cancel := context.WithTimeout(ctx, 15*time.Second)
	_, err := wc.Ack(actx, "churn", "", "alice")
	cancel()
	if err != nil {
		t.Fatalf("ack during the outage: %v", err)
	}
	ackTook := time.Since(ackStarted)
	if rs, err := state(); err != nil || rs == nil || rs.Open == nil || rs.Open.AckedBy != "alice" {
		t.Fatalf("after the ack: %+v (err %v), want the open incident acknowledged by alice", rs, err)
	}

	// ...and resolves when traffic arrives, while the providers rate-limit.
	for time.Since(down) < outage500 {
		time.Sleep(100 * time.Millisecond)
	}
	slack.down(http.StatusTooManyRequests, time.Second)
	pd.down(http.StatusTooManyRequests, time.Second)
	sendTraffic(t, ctx, wc, dir, "churn")
	waitFor(t, 20*time.Second, "recovery to resolve the incident during the outage", func() (bool, error) {
		rs, err := state()
		return rs != nil && rs.Open == nil && rs.Resolved == 1, err
	})
	nothingDelivered("before recovery")
	for time.Since(down) < outage500+outage429 {
		time.Sleep(100 * time.Millisecond)
	}
	nothingDelivered("at recovery")
	slack.up()
	pd.up()
	up := time.Now()
	outageFor := up.Sub(down)

	waitFor(t, 90*time.Second, "every event to be delivered after recovery", func() (bool, error) {
		return len(pd.actions()) >= 3 && len(slackUpdates(slack)) >= 2, nil
	})
	delivered := time.Since(up)
	time.Sleep(3 * time.Second) // room for a duplicate to show up

	// Slack: one head message, then the ack and the resolution as thread
	// replies and edits of that head, in order.
	if n := slack.heads(""); n != 1 {
		t.Errorf("Slack got %d head messages, want 1 (calls %v)", n, slack.methods())
	}
	ts := slack.headTS(incID)
	if ts == "" {
		t.Fatalf("no head message for incident %s", incID)
	}
	var replies, updates []string
	for _, c := range slack.served() {
		switch {
		case c.Method == "chat.postMessage" && c.ThreadTS != "":
			if c.ThreadTS != ts {
				t.Errorf("thread reply %q went to %s, want the head %s", c.Text, c.ThreadTS, ts)
			}
			replies = append(replies, firstWords(c.Text))
		case c.Method == "chat.update":
			if c.TS != ts || c.Channel != channel {
				t.Errorf("chat.update of %s:%s, want the head %s:%s", c.Channel, c.TS, channel, ts)
			}
			updates = append(updates, firstWords(c.Text))
		}
	}
	if want := []string{"Acknowledged by alice", "Resolved"}; !slices.Equal(replies, want) {
		t.Errorf("Slack thread replies %q, want %q", replies, want)
	}
	if len(updates) != 2 || !strings.HasPrefix(updates[1], "Resolved") {
		t.Errorf("Slack head edits %q, want two, the last one resolved", updates)
	}
	// PagerDuty: one trigger, then acknowledge and resolve, same dedup key.
	if got := pd.actions(); !slices.Equal(got, []string{"trigger", "acknowledge", "resolve"}) {
		t.Errorf("PagerDuty events %v, want trigger, acknowledge, resolve", got)
	}
	for _, e := range pd.accepted() {
		if e.DedupKey != dedupKey {
			t.Errorf("PagerDuty %s with dedup key %q, want %q", e.Action, e.DedupKey, dedupKey)
		}
	}
	if triggers, pages := pd.count(dedupKey); triggers != 1 || pages != 1 {
		t.Errorf("PagerDuty: %d triggers, %d pages, want 1 and 1", triggers, pages)
	}
	if rs, err := state(); err != nil || rs == nil || rs.Open != nil || rs.Resolved != 1 {
		t.Errorf("after recovery: %+v (err %v), want resolved once", rs, err)
	}
	// The outage shows in the worker's metrics.
	errs := notificationErrors(t, w.HTTPAddr)
	if errs["slack"] == 0 || errs["pagerduty"] == 0 {
		t.Errorf("vigil_notifications_total{result=\"error\"} = %v, want failures of both", errs)
	}

	if dst := os.Getenv("VIGIL_RECORD_REPLAY"); dst != "" {
		record(t, w, dst, "incident-outage.json", workflows.IncidentWorkflowID("churn"))
	}

	sent := len(slack.served()) + len(pd.accepted())
	summary := fmt.Sprintf("provider outage: %s down (%s of 500, then 429 with Retry-After: 1), %d Slack and %d PagerDuty requests refused; "+
		"state followed at once (ack answered in %s); after recovery %d requests delivered in %s, in order; duplicates: %d Slack head messages, %d PagerDuty triggers",
		outageFor.Round(time.Second), outage500, slack.refusedCount(), pd.refusedCount(), ackTook.Round(time.Millisecond),
		sent, delivered.Round(100*time.Millisecond), slack.heads("")-1, pd.triggers()-1)
	t.Log(summary)
	fmt.Fprintln(os.Stderr, summary)
}

// slackUpdates lists the chat.update calls that took effect.
func slackUpdates(f *fakeSlack) (out []slackCall) {
	for _, c := range f.served() {
		if c.Method == "chat.update" {
			out = append(out, c)
		}
	}
	return out
}

// firstWords is a message's text up to the first colon or newline.
func firstWords(s string) string {
	if i := strings.IndexAny(s, ":\n"); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

var notificationErrorLine = regexp.MustCompile(`^vigil_notifications_total\{(.*)\} (\S+)$`)

// notificationErrors reads the failed notification attempts per integration
// from the worker's /metrics.
func notificationErrors(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		m := notificationErrorLine.FindStringSubmatch(line)
		if m == nil || !strings.Contains(m[1], `result="error"`) {
			continue
		}
		v, _ := strconv.ParseFloat(m[2], 64)
		for _, name := range []string{"slack", "pagerduty"} {
			if strings.Contains(m[1], `integration="`+name+`"`) {
				out[name] += v
			}
		}
	}
	return out
}
