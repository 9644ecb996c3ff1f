package config

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Notify configures the alert integrations and which severities reach them.
// Every secret is the name of an environment variable.
type Notify struct {
	Slack     *Slack     `yaml:"slack"`
	PagerDuty *PagerDuty `yaml:"pagerduty"`
	Teams     *Teams     `yaml:"teams"`
	Opsgenie  *Opsgenie  `yaml:"opsgenie"`
	Webhook   *Webhook   `yaml:"webhook"`
	// Console logs every notification; on by default when nothing else is
	// configured, so dev mode shows its alerts.
	Console *bool `yaml:"console"`
	// Routes maps a rule severity to integrations. Default: every chat
	// integration (slack, teams, webhook, console) first, and for critical
	// rules the pager integrations (pagerduty, opsgenie) after escalate_after.
	Routes map[string]Route `yaml:"routes"`
	// MaxDelivery bounds how long a notification is retried while its
	// provider is down (default DefaultMaxDelivery). Past it the notification
	// is dropped, logged and counted (vigil_notifications_dropped_total).
	MaxDelivery Duration `yaml:"max_delivery"`
}

// DefaultMaxDelivery is notify.max_delivery's default: a provider outage of
// a day is rare, and an acknowledge or resolve delivered a day late still
// closes the pager incident that would otherwise stay triggered.
const DefaultMaxDelivery = 24 * time.Hour

// Route says who hears about a severity: Notify at once, Escalate when the
// incident is not acknowledged within the rule's escalate_after.
type Route struct {
	Notify   []string `yaml:"notify"`
	Escalate []string `yaml:"escalate"`
}

// Slack posts with a bot token (threads, updates, buttons) or, failing that,
// an incoming webhook (one message per event).
type Slack struct {
	TokenEnv         string `yaml:"token_env"`
	WebhookURLEnv    string `yaml:"webhook_url_env"`
	Channel          string `yaml:"channel"`            // prefer the ID (C0123…): needed to find a head message again after a worker restart
	SigningSecretEnv string `yaml:"signing_secret_env"` // verifies button clicks
	APIURL           string `yaml:"api_url"`            // for tests and proxies
}

// PagerDuty sends Events API v2 events.
type PagerDuty struct {
	RoutingKeyEnv string `yaml:"routing_key_env"`
	EventsURL     string `yaml:"events_url"` // default https://events.pagerduty.com
}

// Teams posts Adaptive Cards to an incoming webhook or Workflows URL.
type Teams struct {
	WebhookURLEnv string `yaml:"webhook_url_env"`
}

// Opsgenie uses the Alert API v2.
type Opsgenie struct {
	APIKeyEnv string `yaml:"api_key_env"`
	APIURL    string `yaml:"api_url"` // default https://api.opsgenie.com
}

// Webhook posts signed JSON to any URL.
type Webhook struct {
	URLEnv    string `yaml:"url_env"`
	SecretEnv string `yaml:"secret_env"` // HMAC-SHA256 key for the signature header
}

// Integrations lists the configured integrations by name.
func (n Notify) Integrations() []string {
	var out []string
	if n.Slack != nil {
		out = append(out, "slack")
	}
	if n.Teams != nil {
		out = append(out, "teams")
	}
	if n.Webhook != nil {
		out = append(out, "webhook")
	}
	if n.Console != nil && *n.Console {
		out = append(out, "console")
	}
	if n.PagerDuty != nil {
		out = append(out, "pagerduty")
	}
	if n.Opsgenie != nil {
		out = append(out, "opsgenie")
	}
	return out
}

var pagers = []string{"pagerduty", "opsgenie"}

func (n *Notify) applyDefaults() {
	orDefault(&n.MaxDelivery, Duration(DefaultMaxDelivery))
	if n.Console == nil {
		on := n.Slack == nil && n.Teams == nil && n.Webhook == nil && n.PagerDuty == nil && n.Opsgenie == nil
		n.Console = &on
	}
	if n.Routes != nil {
		return
	}
	var chat, page []string
	for _, name := range n.Integrations() {
		if slices.Contains(pagers, name) {
			page = append(page, name)
		} else {
			chat = append(chat, name)
		}
	}
	n.Routes = map[string]Route{
		"info":     {Notify: chat},
		"warning":  {Notify: chat},
		"critical": {Notify: chat, Escalate: page},
	}
}

func (n *Notify) validate(d *decoder, env envChecker) {
	if n.MaxDelivery < Duration(time.Hour) {
		d.at("notify.max_delivery", "at least 1h: one hour is what one delivery attempt retries for")
	}
	if s := n.Slack; s != nil {
		if s.TokenEnv == "" && s.WebhookURLEnv == "" {
			d.at("notify.slack", "set token_env (bot token: threads, updates, buttons) or webhook_url_env")
		}
		if s.TokenEnv != "" && s.Channel == "" {
			d.at("notify.slack.channel", "required with token_env: the channel to post incidents in")
		}
		checkBaseURL(d, "notify.slack.api_url", s.APIURL)
		env.check("notify.slack.token_env", s.TokenEnv)
		env.check("notify.slack.webhook_url_env", s.WebhookURLEnv)
		env.check("notify.slack.signing_secret_env", s.SigningSecretEnv)
	}
	if p := n.PagerDuty; p != nil {
		checkBaseURL(d, "notify.pagerduty.events_url", p.EventsURL)
		env.require("notify.pagerduty.routing_key_env", p.RoutingKeyEnv, "the variable holding the Events API v2 routing key")
	}
	if t := n.Teams; t != nil {
		env.require("notify.teams.webhook_url_env", t.WebhookURLEnv, "the variable holding the incoming webhook or Workflows URL")
	}
	if o := n.Opsgenie; o != nil {
		checkBaseURL(d, "notify.opsgenie.api_url", o.APIURL)
		env.require("notify.opsgenie.api_key_env", o.APIKeyEnv, "the variable holding the Alert API key")
	}
	if w := n.Webhook; w != nil {
		env.require("notify.webhook.url_env", w.URLEnv, "the variable holding the URL to post to")
		env.check("notify.webhook.secret_env", w.SecretEnv)
	}
	configured := n.Integrations()
	sevs := make([]string, 0, len(n.Routes))
	for sev := range n.Routes {
		sevs = append(sevs, sev)
	}
	sort.Strings(sevs)
	for _, sev := range sevs {
		if !slices.Contains(severities, sev) {
			d.at("notify.routes."+sev, "unknown severity: want one of %s", quoteList(severities))
		}
		r := n.Routes[sev]
		for i, name := range r.Notify {
			if !slices.Contains(configured, name) {
				d.at(fmt.Sprintf("notify.routes.%s.notify[%d]", sev, i), "integration %q is not configured under notify", name)
			}
		}
		for i, name := range r.Escalate {
			if !slices.Contains(configured, name) {
				d.at(fmt.Sprintf("notify.routes.%s.escalate[%d]", sev, i), "integration %q is not configured under notify", name)
			}
		}
	}
}

// checkBaseURL wants an http(s) base URL (these are endpoints, not secrets).
func checkBaseURL(d *decoder, path, v string) {
	if v != "" && !strings.HasPrefix(v, "https://") && !strings.HasPrefix(v, "http://") {
		d.at(path, "want an http(s) URL, e.g. https://events.eu.pagerduty.com, got %q", v)
	}
}
