package slack

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/vigilml/vigil/notify"
)

// Actions is what a button click does. The worker implements it with
// Temporal Updates on the model's IncidentWorkflow. Actor identifies the
// Slack user, e.g. "slack:U0123 (alice)".
type Actions interface {
	Ack(ctx context.Context, model, rule, actor string) error
	Silence(ctx context.Context, model, rule string, d time.Duration, actor string) error
}

// InteractionHandler serves Slack's interactivity endpoint (the Request URL
// under "Interactivity & Shortcuts"). It verifies the signing secret,
// rejects requests older than five minutes (replays) or with a bad
// signature, answers 200 at once (Slack wants an answer within 3 s), runs
// the action in the background and reports its outcome to the clicking user
// through the response_url.
//
// A replay within the five minutes is not detected; Ack and Silence are
// idempotent in the incident workflow, so a replay changes nothing.
type InteractionHandler struct {
	secret  string
	actions Actions
	logger  *slog.Logger
	// HTTPClient posts to response_url; default has a 10 s timeout.
	HTTPClient *http.Client
	// Timeout bounds one action. Default 30 s.
	Timeout time.Duration
	// Done, when set, is called after each action finishes (tests).
	Done func(err error)
}

// NewInteractionHandler returns the handler for signingSecret (a secret,
// read from the environment by the caller).
func NewInteractionHandler(signingSecret string, actions Actions, logger *slog.Logger) (*InteractionHandler, error) {
	if signingSecret == "" {
		return nil, errors.New("slack: the interactivity endpoint needs the app's signing secret")
	}
	if actions == nil {
		return nil, errors.New("slack: the interactivity endpoint needs Actions to run")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &InteractionHandler{
		secret: signingSecret, actions: actions, logger: logger.With("integration", Name),
		HTTPClient: &http.Client{Timeout: 10 * time.Second}, Timeout: 30 * time.Second,
	}, nil
}

const maxInteractionBody = 1 << 20

func (h *InteractionHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxInteractionBody))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	sv, err := slack.NewSecretsVerifier(r.Header, h.secret)
	if err == nil {
		_, _ = sv.Write(body)
		err = sv.Ensure()
	}
	if err != nil {
		// Stale timestamps, missing headers and bad signatures all end here.
		h.logger.WarnContext(r.Context(), "rejected Slack interaction", "reason", err.Error(), "remote", r.RemoteAddr)
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	var cb slack.InteractionCallback
	if err := json.Unmarshal([]byte(form.Get("payload")), &cb); err != nil {
		http.Error(w, "bad payload", http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusOK)
	if cb.Type != slack.InteractionTypeBlockActions {
		return
	}
	actor := "slack:" + cb.User.ID
	if name := cmp.Or(cb.User.Username, cb.User.Name); name != "" {
		actor += " (" + name + ")"
	}
	for _, a := range cb.ActionCallback.BlockActions {
		if a.ActionID != ActionAck && a.ActionID != ActionSilence {
			continue // link buttons also send an interaction
		}
		var v buttonValue
		if err := json.Unmarshal([]byte(a.Value), &v); err != nil || v.Model == "" || v.Rule == "" {
			h.logger.WarnContext(r.Context(), "Slack button without a model and rule", "action", a.ActionID)
			continue
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), h.Timeout)
		go func() {
			defer cancel()
			h.run(ctx, a.ActionID, v, actor, cb.ResponseURL)
		}()
	}
}

func (h *InteractionHandler) run(ctx context.Context, action string, v buttonValue, actor, responseURL string) {
	var (
		err  error
		done string
	)
	switch action {
	case ActionAck:
		err = h.actions.Ack(ctx, v.Model, v.Rule, actor)
		done = "acknowledged"
	case ActionSilence:
		d, perr := time.ParseDuration(cmp.Or(v.Duration, SilenceFor))
		if perr != nil {
			err = perr
			break
		}
		err = h.actions.Silence(ctx, v.Model, v.Rule, d, actor)
		done = "silenced for " + d.String()
	}
	log := h.logger.With("model", v.Model, "rule", v.Rule, "incident", v.Incident, "action", action, "actor", actor)
	text := ":white_check_mark: `" + v.Model + "/" + v.Rule + "` " + done + " by " + actor
	if err != nil {
		log.ErrorContext(ctx, "Slack action failed", "err", err)
		text = ":warning: could not " + strings.TrimPrefix(action, "vigil_") + " `" + v.Model + "/" + v.Rule + "`: " + err.Error()
	} else {
		log.InfoContext(ctx, "Slack action done")
	}
	if responseURL != "" {
		_, rerr := notify.Do(ctx, h.HTTPClient, notify.Request{
			Integration: Name, URL: responseURL, Secrets: []string{responseURL},
			Body: map[string]any{"response_type": "ephemeral", "replace_original": false, "text": text},
		})
		if rerr != nil {
			log.WarnContext(ctx, "could not answer the Slack user", "err", rerr)
		}
	}
	if h.Done != nil {
		h.Done(err)
	}
}
