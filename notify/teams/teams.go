package teams

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/vigilml/vigil/notify"
)

// Name is the integration's name in config and routes.
const Name = "teams"

// Options configures a Notifier. WebhookURL is a secret (it embeds a
// signature).
type Options struct {
	WebhookURL string
	HTTPClient *http.Client
}

// Notifier posts Adaptive Cards. It is safe for concurrent use.
type Notifier struct{ opts Options }

// New builds a Notifier.
func New(opts Options) (*Notifier, error) {
	if opts.WebhookURL == "" {
		return nil, errors.New("teams: the webhook URL is empty")
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	return &Notifier{opts: opts}, nil
}

// Name implements notify.Notifier.
func (n *Notifier) Name() string { return Name }

// Notify implements notify.Notifier with one attempt; there is no ref.
func (n *Notifier) Notify(ctx context.Context, ev notify.Event) (string, error) {
	_, err := notify.Do(ctx, n.opts.HTTPClient, notify.Request{
		Integration: Name, URL: n.opts.WebhookURL, Body: Message(ev), Secrets: []string{n.opts.WebhookURL},
	})
	return "", err
}

// Message is the webhook body: a message with one Adaptive Card attachment.
func Message(ev notify.Event) map[string]any {
	return map[string]any{
		"type": "message",
		"attachments": []any{map[string]any{
			"contentType": "application/vnd.microsoft.card.adaptive",
			"contentUrl":  nil,
			"content":     Card(ev),
		}},
	}
}

// Card renders ev as an Adaptive Card (schema 1.4).
func Card(ev notify.Event) map[string]any {
	color := map[string]string{"critical": "attention", "warning": "warning"}[ev.Severity]
	if color == "" {
		color = "accent"
	}
	if ev.Kind == notify.KindResolve || ev.Kind == notify.KindTest {
		color = "good"
	}
	var facts []any
	fact := func(k, v string) {
		if v != "" {
			facts = append(facts, map[string]string{"title": k, "value": v})
		}
	}
	fact("Model", strings.TrimSpace(ev.Model+" "+ev.ModelVersion))
	fact("Rule", fmt.Sprintf("%s (%s)", ev.Rule, ev.Severity))
	fact("Observed", ev.Figures())
	fact("Window", ev.Window())
	fact("Top drifted", strings.Join(ev.TopDrifted, ", "))
	fact("Acknowledged by", ev.AckedBy)
	body := []any{
		map[string]any{"type": "TextBlock", "size": "Large", "weight": "Bolder", "wrap": true, "color": color,
			"text": headline(ev)},
		map[string]any{"type": "FactSet", "facts": facts},
	}
	if ev.Summary != "" {
		body = append(body, map[string]any{"type": "TextBlock", "wrap": true, "text": ev.Summary})
	}
	var actions []any
	for _, l := range []struct{ title, url string }{{"Temporal workflow", ev.WorkflowURL}, {"Report", ev.ReportURL}} {
		if l.url != "" {
			actions = append(actions, map[string]string{"type": "Action.OpenUrl", "title": l.title, "url": l.url})
		}
	}
	card := map[string]any{
		"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
		"type":    "AdaptiveCard",
		"version": "1.4",
		"body":    body,
	}
	if len(actions) > 0 {
		card["actions"] = actions
	}
	return card
}

func headline(ev notify.Event) string {
	switch ev.Kind {
	case notify.KindAcknowledge:
		return "Acknowledged by " + ev.Actor + ": " + ev.Title()
	case notify.KindEscalate:
		return "Escalated: " + ev.Title()
	case notify.KindResolve:
		return "Resolved: " + ev.Title()
	case notify.KindUpdate:
		return "Update: " + ev.Title()
	case notify.KindTest:
		return ev.Title() + ": test notification from starter notify test, nothing is wrong"
	}
	return ev.Title()
}
