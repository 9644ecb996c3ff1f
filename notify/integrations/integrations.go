package integrations

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/notify"
	"github.com/vigilml/vigil/notify/console"
	"github.com/vigilml/vigil/notify/opsgenie"
	"github.com/vigilml/vigil/notify/pagerduty"
	"github.com/vigilml/vigil/notify/slack"
	"github.com/vigilml/vigil/notify/teams"
	"github.com/vigilml/vigil/notify/webhook"
)

// Options tune Build; the zero value is right for the worker.
type Options struct {
	// HTTPClient is shared by every integration; default: 30 s timeout.
	HTTPClient *http.Client
}

// Build returns the configured integrations by name ("slack",
// "pagerduty", ...). getenv reads the secrets named by *_env fields (nil:
// none is found); a missing one is an error naming the variable, never its
// value. Console is built when cfg.Console is true.
func Build(cfg config.Notify, getenv func(string) string, logger *slog.Logger, opts ...Options) (map[string]notify.Notifier, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	env := secrets{getenv: getenv}
	out := map[string]notify.Notifier{}
	var errs []error
	add := func(n notify.Notifier, err error) {
		if err != nil {
			errs = append(errs, err)
			return
		}
		out[n.Name()] = n
	}
	if s := cfg.Slack; s != nil {
		token := env.get("notify.slack.token_env", s.TokenEnv, false)
		hook := ""
		if token == "" {
			hook = env.get("notify.slack.webhook_url_env", s.WebhookURLEnv, true)
		}
		if token != "" || hook != "" {
			add(slack.New(slack.Options{Token: token, WebhookURL: hook, Channel: s.Channel, APIURL: s.APIURL, HTTPClient: o.HTTPClient, Logger: logger}))
		}
	}
	if p := cfg.PagerDuty; p != nil {
		if key := env.get("notify.pagerduty.routing_key_env", p.RoutingKeyEnv, true); key != "" {
			add(pagerduty.New(pagerduty.Options{RoutingKey: key, EventsURL: p.EventsURL, HTTPClient: o.HTTPClient, Logger: logger}))
		}
	}
	if t := cfg.Teams; t != nil {
		if u := env.get("notify.teams.webhook_url_env", t.WebhookURLEnv, true); u != "" {
			add(teams.New(teams.Options{WebhookURL: u, HTTPClient: o.HTTPClient}))
		}
	}
	if g := cfg.Opsgenie; g != nil {
		if k := env.get("notify.opsgenie.api_key_env", g.APIKeyEnv, true); k != "" {
			add(opsgenie.New(opsgenie.Options{APIKey: k, APIURL: g.APIURL, HTTPClient: o.HTTPClient}))
		}
	}
	if w := cfg.Webhook; w != nil {
		if u := env.get("notify.webhook.url_env", w.URLEnv, true); u != "" {
			add(webhook.New(webhook.Options{URL: u, Secret: env.get("notify.webhook.secret_env", w.SecretEnv, false), HTTPClient: o.HTTPClient}))
		}
	}
	if cfg.Console != nil && *cfg.Console {
		out[console.Name] = console.New(logger)
	}
	errs = append(env.errs, errs...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

type secrets struct {
	getenv func(string) string
	errs   []error
}

func (s *secrets) get(field, name string, required bool) string {
	if name == "" {
		return ""
	}
	v := ""
	if s.getenv != nil {
		v = s.getenv(name)
	}
	if v == "" && required {
		s.errs = append(s.errs, fmt.Errorf("%s: environment variable %s is not set", field, name))
	}
	return v
}

// SlackInteractions returns the handler for Slack's interactivity endpoint,
// or nil when Slack has no signing_secret_env (buttons then do nothing).
func SlackInteractions(cfg config.Notify, getenv func(string) string, actions slack.Actions, logger *slog.Logger) (http.Handler, error) {
	if cfg.Slack == nil || cfg.Slack.SigningSecretEnv == "" {
		return nil, nil
	}
	env := secrets{getenv: getenv}
	secret := env.get("notify.slack.signing_secret_env", cfg.Slack.SigningSecretEnv, true)
	if len(env.errs) > 0 {
		return nil, env.errs[0]
	}
	return slack.NewInteractionHandler(secret, actions, logger)
}

// TestEvent is the clearly marked event `starter notify test` sends.
func TestEvent(actor string, now time.Time) notify.Event {
	return notify.Event{
		Kind: notify.KindTest, IncidentID: notify.IncidentID("vigil-test", "notify-test", now),
		DedupKey: notify.DedupKey("vigil-test", "notify-test"), Model: "vigil-test", Rule: "notify-test",
		Severity: "info", Summary: "Test notification from `starter notify test`: if you can read this, Vigil can reach you. Nothing is wrong.",
		Actor: actor, At: now,
	}
}

// Select resolves a -route argument: an integration name selects it; a
// severity selects its route's first and escalation integrations; empty
// selects every built integration. Names are returned sorted.
func Select(cfg config.Notify, built map[string]notify.Notifier, route string) ([]string, error) {
	var names []string
	switch {
	case route == "":
		for name := range built {
			names = append(names, name)
		}
	case built[route] != nil:
		names = []string{route}
	default:
		if _, ok := cfg.Routes[route]; !ok {
			var known []string
			for name := range built {
				known = append(known, name)
			}
			for sev := range cfg.Routes {
				known = append(known, sev)
			}
			sort.Strings(known)
			return nil, fmt.Errorf("-route %q: not a configured integration or severity; want one of %s", route, strings.Join(known, ", "))
		}
		first, esc := notify.Route(cfg, route)
		for _, n := range append(first, esc...) {
			if built[n] != nil && !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return nil, errors.New("no integration to test: configure one under notify (slack, pagerduty, teams, opsgenie, webhook, console)")
	}
	return names, nil
}

// SendTest sends ev through each named integration, retrying with b, and
// prints one line per integration to w. It returns an error naming the
// integrations that failed.
func SendTest(ctx context.Context, built map[string]notify.Notifier, names []string, ev notify.Event, b notify.Backoff, w io.Writer) error {
	var failed []string
	for _, name := range names {
		ref, err := notify.Send(ctx, built[name], ev, b)
		if err != nil {
			failed = append(failed, name)
			fmt.Fprintf(w, "FAIL  %-10s %v\n", name, err)
			continue
		}
		if ref != "" {
			fmt.Fprintf(w, "ok    %-10s ref %s\n", name, ref)
		} else {
			fmt.Fprintf(w, "ok    %-10s\n", name)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("notify test failed for %s", strings.Join(failed, ", "))
	}
	return nil
}
