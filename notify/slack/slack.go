package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/vigilml/vigil/notify"
)

// Name is the integration's name in config and routes.
const Name = "slack"

// MetadataEventType marks Vigil's head messages in Slack message metadata.
const MetadataEventType = "vigil_incident"

// Options configures a Notifier. Token and WebhookURL are secrets: the
// caller reads them from the environment.
type Options struct {
	Token      string // bot token (xoxb-…): threads, updates, buttons
	WebhookURL string // incoming webhook, used when Token is empty
	Channel    string // channel ID (preferred) or #name; required with Token
	APIURL     string // Slack Web API base, default https://slack.com/api/
	HTTPClient *http.Client
	Logger     *slog.Logger
	// Lookback bounds the history search for an already-posted head
	// message before the event's At. Default 15 minutes.
	Lookback time.Duration
}

// Notifier sends events to Slack. It is safe for concurrent use.
type Notifier struct {
	opts   Options
	api    *slack.Client
	logger *slog.Logger

	mu        sync.Mutex
	channelID string // learned from the first post when configured by name
}

var channelIDPattern = regexp.MustCompile(`^[CGD][A-Z0-9]{6,}$`)

// New checks opts and builds a Notifier.
func New(opts Options) (*Notifier, error) {
	if opts.Token == "" && opts.WebhookURL == "" {
		return nil, errors.New("slack: need a bot token or an incoming-webhook URL")
	}
	if opts.Token != "" && opts.Channel == "" {
		return nil, errors.New("slack: a channel is required with a bot token")
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Lookback <= 0 {
		opts.Lookback = 15 * time.Minute
	}
	n := &Notifier{opts: opts, logger: opts.Logger.With("integration", Name)}
	if opts.Token != "" {
		apiOpts := []slack.Option{slack.OptionHTTPClient(opts.HTTPClient)} // no retries: see notify.Notifier
		if opts.APIURL != "" {
			u := opts.APIURL
			if !strings.HasSuffix(u, "/") {
				u += "/"
			}
			apiOpts = append(apiOpts, slack.OptionAPIURL(u))
		}
		n.api = slack.New(opts.Token, apiOpts...)
		if channelIDPattern.MatchString(opts.Channel) {
			n.channelID = opts.Channel
		}
	}
	return n, nil
}

// Name implements notify.Notifier.
func (n *Notifier) Name() string { return Name }

// Notify implements notify.Notifier with one attempt.
func (n *Notifier) Notify(ctx context.Context, ev notify.Event) (string, error) {
	if n.api == nil {
		return "", n.postWebhook(ctx, ev)
	}
	channel, ts, ok := parseRef(ev.Ref)
	switch {
	case ev.Kind == notify.KindTest:
		return n.post(ctx, ev, false)
	case !ok:
		// First send for this incident (trigger, or an escalation/update
		// reaching Slack first): post the head message once.
		if ref, found, err := n.findHead(ctx, ev); err != nil {
			return "", err
		} else if found {
			n.logger.InfoContext(ctx, "head message already posted; reusing it", "incident", ev.IncidentID, "ref", ref)
			return ref, nil
		}
		return n.post(ctx, ev, true)
	case ev.Kind == notify.KindTrigger:
		return ev.Ref, nil // already posted
	default:
		return ev.Ref, n.followUp(ctx, ev, channel, ts)
	}
}

// post sends a head message (with metadata when head) and returns its ref.
func (n *Notifier) post(ctx context.Context, ev notify.Event, head bool) (string, error) {
	opts := []slack.MsgOption{
		slack.MsgOptionText(fallbackText(ev), false),
		slack.MsgOptionBlocks(headBlocks(ev, true)...),
	}
	if head {
		opts = append(opts, slack.MsgOptionMetadata(slack.SlackMetadata{
			EventType:    MetadataEventType,
			EventPayload: map[string]any{"incident_id": ev.IncidentID, "model": ev.Model, "rule": ev.Rule},
		}))
	}
	channel, ts, err := n.api.PostMessageContext(ctx, n.channel(), opts...)
	if err != nil {
		return "", n.classify("chat.postMessage", err)
	}
	n.mu.Lock()
	if n.channelID == "" {
		n.channelID = channel
	}
	n.mu.Unlock()
	return channel + ":" + ts, nil
}

// findHead looks for an earlier head message of ev's incident.
func (n *Notifier) findHead(ctx context.Context, ev notify.Event) (string, bool, error) {
	n.mu.Lock()
	id := n.channelID
	n.mu.Unlock()
	if id == "" || ev.IncidentID == "" {
		return "", false, nil
	}
	at := ev.At
	if at.IsZero() {
		at = time.Now()
	}
	params := &slack.GetConversationHistoryParameters{
		ChannelID:          id,
		Oldest:             fmt.Sprintf("%d.000000", at.Add(-n.opts.Lookback).Unix()),
		Limit:              200,
		IncludeAllMetadata: true,
	}
	for page := 0; page < 5; page++ {
		resp, err := n.api.GetConversationHistoryContext(ctx, params)
		if err != nil {
			return "", false, n.classify("conversations.history", err)
		}
		for _, m := range resp.Messages {
			if m.Metadata.EventType == MetadataEventType && m.Metadata.EventPayload["incident_id"] == ev.IncidentID {
				return id + ":" + m.Timestamp, true, nil
			}
		}
		if !resp.HasMore || resp.ResponseMetaData.NextCursor == "" {
			break
		}
		params.Cursor = resp.ResponseMetaData.NextCursor
	}
	return "", false, nil
}

// followUp replies in the incident's thread and updates its head message.
func (n *Notifier) followUp(ctx context.Context, ev notify.Event, channel, ts string) error {
	if _, _, err := n.api.PostMessageContext(ctx, channel,
		slack.MsgOptionTS(ts), slack.MsgOptionText(replyText(ev), false)); err != nil {
		return n.classify("chat.postMessage (thread reply)", err)
	}
	_, _, _, err := n.api.UpdateMessageContext(ctx, channel, ts,
		slack.MsgOptionText(fallbackText(ev), false),
		slack.MsgOptionBlocks(headBlocks(ev, true)...))
	if err != nil {
		return n.classify("chat.update", err)
	}
	return nil
}

func (n *Notifier) postWebhook(ctx context.Context, ev notify.Event) error {
	msg := map[string]any{"text": fallbackText(ev), "blocks": headBlocks(ev, false)}
	_, err := notify.Do(ctx, n.opts.HTTPClient, notify.Request{
		Integration: Name, URL: n.opts.WebhookURL, Body: msg, Secrets: []string{n.opts.WebhookURL},
	})
	return err
}

func (n *Notifier) channel() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.channelID != "" {
		return n.channelID
	}
	return n.opts.Channel
}

// retryableAPIErrors are Slack error codes (HTTP 200, ok=false) that may
// succeed later; every other code (invalid_auth, channel_not_found,
// not_in_channel, invalid_blocks, …) needs a person to fix something.
var retryableAPIErrors = map[string]bool{
	"ratelimited": true, "internal_error": true, "fatal_error": true,
	"service_unavailable": true, "request_timeout": true,
}

var hints = map[string]string{
	"invalid_auth":      "the bot token is not valid: check notify.slack.token_env",
	"not_authed":        "no bot token was sent: check notify.slack.token_env",
	"token_revoked":     "the bot token was revoked: install the app again",
	"channel_not_found": "channel not found: check notify.slack.channel (use the channel ID) and invite the bot",
	"not_in_channel":    "the bot is not in the channel: /invite it",
	"missing_scope":     "the bot lacks a scope: it needs chat:write and channels:history (groups:history for private channels)",
}

func (n *Notifier) classify(method string, err error) *notify.Error {
	var (
		rl   *slack.RateLimitedError
		sc   slack.StatusCodeError
		resp slack.SlackErrorResponse
	)
	switch {
	case errors.As(err, &rl):
		return &notify.Error{Integration: Name, Status: http.StatusTooManyRequests, Retryable: true,
			Msg: method + ": rate limited", RetryAfter: rl.RetryAfter}
	case errors.As(err, &sc):
		return notify.StatusError(Name, sc.Code, method+": "+sc.Status)
	case errors.As(err, &resp):
		msg := method + ": " + resp.Err
		if h, ok := hints[resp.Err]; ok {
			msg += " (" + h + ")"
		}
		return &notify.Error{Integration: Name, Retryable: retryableAPIErrors[resp.Err], Msg: notify.Redact(msg, n.opts.Token)}
	default:
		e := notify.TransportError(Name, err, n.opts.Token, n.opts.WebhookURL)
		e.Msg = method + ": " + e.Msg
		return e
	}
}

// parseRef splits "channel:ts".
func parseRef(ref string) (channel, ts string, ok bool) {
	channel, ts, ok = strings.Cut(ref, ":")
	return channel, ts, ok && channel != "" && ts != ""
}
