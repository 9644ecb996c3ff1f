package integrations_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/notify"
	"github.com/vigilml/vigil/notify/integrations"
)

// Known secret values: none may appear in an error, a log line or a ref.
var secretValues = map[string]string{
	"SLACK_BOT_TOKEN":      "xoxb-SECRET-slack-token-1111",
	"SLACK_WEBHOOK_URL":    "", // set per server: its path holds SECRET-slack-hook-2222
	"SLACK_SIGNING_SECRET": "SECRET-signing-3333",
	"PD_ROUTING_KEY":       "SECRETpdroutingkey44444444444444",
	"TEAMS_URL":            "", // path and query hold SECRET-teams-5555
	"OPSGENIE_KEY":         "SECRET-opsgenie-6666",
	"HOOK_URL":             "", // path holds SECRET-hook-7777
	"HOOK_SECRET":          "SECRET-hmac-8888",
}

var secretMarkers = []string{"SECRET-slack-token", "SECRET-slack-hook", "SECRET-signing", "SECRETpdroutingkey",
	"SECRET-teams", "SECRET-opsgenie", "SECRET-hook-", "SECRET-hmac"}

// hostileServer answers every request with status and echoes everything it
// received (URL, headers, body) back, as a careless provider might.
func hostileServer(t *testing.T, status int) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		echo := r.URL.String() + " " + r.Header.Get("Authorization") + " " + string(body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"ok": false, "error": "invalid_auth " + echo, "message": echo, "errors": []string{echo},
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func env(base string) func(string) string {
	return func(name string) string {
		switch name {
		case "SLACK_WEBHOOK_URL":
			return base + "/services/T0/B0/SECRET-slack-hook-2222"
		case "TEAMS_URL":
			return base + "/workflows/SECRET-teams-5555/run?sig=SECRET-teams-5555"
		case "HOOK_URL":
			return base + "/hooks/SECRET-hook-7777"
		}
		return secretValues[name]
	}
}

func allConfigured(base string, slackWebhookMode bool) config.Notify {
	on := true
	cfg := config.Notify{
		Slack:     &config.Slack{TokenEnv: "SLACK_BOT_TOKEN", Channel: "C0VIGIL", SigningSecretEnv: "SLACK_SIGNING_SECRET", APIURL: base + "/api/"},
		PagerDuty: &config.PagerDuty{RoutingKeyEnv: "PD_ROUTING_KEY", EventsURL: base},
		Teams:     &config.Teams{WebhookURLEnv: "TEAMS_URL"},
		Opsgenie:  &config.Opsgenie{APIKeyEnv: "OPSGENIE_KEY", APIURL: base},
		Webhook:   &config.Webhook{URLEnv: "HOOK_URL", SecretEnv: "HOOK_SECRET"},
		Console:   &on,
	}
	if slackWebhookMode {
		cfg.Slack = &config.Slack{WebhookURLEnv: "SLACK_WEBHOOK_URL"}
	}
	return cfg
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func assertNoSecret(t *testing.T, what, text string) {
	t.Helper()
	for _, m := range secretMarkers {
		if strings.Contains(text, m) {
			t.Errorf("%s leaks a secret (%s): %s", what, m, text)
		}
	}
}

// TestNoSecretInErrorsOrLogs runs every integration against servers that
// fail (400, 429, 500, or are down) and echo back whatever they received,
// and checks that no secret reaches an error, a ref or a log line.
func TestNoSecretInErrorsOrLogs(t *testing.T) {
	for _, status := range []int{400, 401, 429, 500, 0} {
		for _, webhookMode := range []bool{false, true} {
			var base string
			if status == 0 {
				srv := hostileServer(t, 500)
				base = srv.URL
				srv.Close() // connection refused
			} else {
				base = hostileServer(t, status).URL
			}
			var logs syncBuffer
			logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			built, err := integrations.Build(allConfigured(base, webhookMode), env(base), logger)
			if err != nil {
				t.Fatal(err)
			}
			if len(built) != 6 {
				t.Fatalf("built %d integrations, want 6", len(built))
			}
			for _, kind := range []notify.Kind{notify.KindTrigger, notify.KindEscalate, notify.KindAcknowledge, notify.KindResolve, notify.KindUpdate, notify.KindTest} {
				ev := integrations.TestEvent("tester", time.Now())
				ev.Kind = kind
				if kind != notify.KindTrigger {
					ev.Ref = "C0VIGIL:1732761600.000001"
				}
				for name, n := range built {
					ref, err := notify.Send(context.Background(), n, ev, notify.Backoff{Attempts: 2, Initial: time.Millisecond, Max: time.Millisecond})
					if name != "console" && (kind != notify.KindUpdate || name != "pagerduty") && err == nil {
						t.Errorf("%s %s against HTTP %d: no error", name, kind, status)
					}
					if err != nil {
						assertNoSecret(t, name+" error", err.Error())
						wantRetry := status != 400 && status != 401 // 429, 500 and "down" may pass later
						if got := notify.IsRetryable(err); got != wantRetry {
							t.Errorf("%s %s against HTTP %d: retryable=%v, want %v: %v", name, kind, status, got, wantRetry, err)
						}
					}
					assertNoSecret(t, name+" ref", ref)
				}
			}
			assertNoSecret(t, "logs", logs.String())
		}
	}
}

func TestSlackInteractionRejectionsDoNotLogTheSecret(t *testing.T) {
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h, err := integrations.SlackInteractions(allConfigured("http://x", false), env("http://x"), panicActions{}, logger)
	if err != nil || h == nil {
		t.Fatalf("handler %v, %v", h, err)
	}
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("payload=%7B%7D"))
	req.Header.Set("X-Slack-Request-Timestamp", "1")
	req.Header.Set("X-Slack-Signature", "v0=00")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("status %d", rec.Code)
	}
	assertNoSecret(t, "logs", logs.String())
	assertNoSecret(t, "response", rec.Body.String())
}

func TestBuild(t *testing.T) {
	t.Run("a missing variable is named, nothing is built", func(t *testing.T) {
		cfg := config.Notify{PagerDuty: &config.PagerDuty{RoutingKeyEnv: "PD_ROUTING_KEY"}, Teams: &config.Teams{WebhookURLEnv: "NOPE"}}
		_, err := integrations.Build(cfg, env("http://x"), nil)
		if err == nil || !strings.Contains(err.Error(), "NOPE is not set") || !strings.Contains(err.Error(), "notify.teams.webhook_url_env") {
			t.Fatalf("got %v", err)
		}
		assertNoSecret(t, "error", err.Error())
	})
	t.Run("console only, as dev mode defaults", func(t *testing.T) {
		on := true
		built, err := integrations.Build(config.Notify{Console: &on}, nil, nil)
		if err != nil || len(built) != 1 || built["console"] == nil {
			t.Fatalf("built %v, %v", built, err)
		}
	})
	t.Run("slack prefers the bot token over the webhook", func(t *testing.T) {
		cfg := config.Notify{Slack: &config.Slack{TokenEnv: "SLACK_BOT_TOKEN", WebhookURLEnv: "SLACK_WEBHOOK_URL", Channel: "C1"}}
		built, err := integrations.Build(cfg, env("http://x"), nil)
		if err != nil || built["slack"] == nil {
			t.Fatalf("built %v, %v", built, err)
		}
	})
}

func TestSelect(t *testing.T) {
	base := "http://x"
	cfg := allConfigured(base, false)
	cfg.Routes = map[string]config.Route{"critical": {Notify: []string{"slack"}, Escalate: []string{"pagerduty"}}}
	built, err := integrations.Build(cfg, env(base), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ route, want string }{
		{"", "console,opsgenie,pagerduty,slack,teams,webhook"},
		{"teams", "teams"},
		{"critical", "pagerduty,slack"},
	} {
		got, err := integrations.Select(cfg, built, tc.route)
		if err != nil || strings.Join(got, ",") != tc.want {
			t.Errorf("Select(%q) = %v, %v; want %s", tc.route, got, err, tc.want)
		}
	}
	if _, err := integrations.Select(cfg, built, "sms"); err == nil || !strings.Contains(err.Error(), "want one of") {
		t.Errorf("unknown route: %v", err)
	}
}

func TestSendTestReportsEachIntegration(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) }))
	defer ok.Close()
	bad := hostileServer(t, 400)
	cfg := config.Notify{Teams: &config.Teams{WebhookURLEnv: "TEAMS_URL"}, Webhook: &config.Webhook{URLEnv: "HOOK_URL"}}
	built, err := integrations.Build(cfg, func(n string) string {
		if n == "TEAMS_URL" {
			return ok.URL + "/teams"
		}
		return bad.URL + "/hooks/SECRET-hook-7777"
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = integrations.SendTest(context.Background(), built, []string{"teams", "webhook"}, integrations.TestEvent("me", time.Now()), notify.Backoff{Attempts: 1}, &out)
	if err == nil || !strings.Contains(err.Error(), "webhook") || strings.Contains(err.Error(), "teams") {
		t.Fatalf("err = %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "ok    teams") || !strings.HasPrefix(lines[1], "FAIL  webhook") || !strings.Contains(lines[1], "HTTP 400") {
		t.Fatalf("output:\n%s", out.String())
	}
	assertNoSecret(t, "output", out.String())
}

type panicActions struct{}

func (panicActions) Ack(context.Context, string, string, string) error {
	panic("forged click dispatched")
}
func (panicActions) Silence(context.Context, string, string, time.Duration, string) error {
	panic("forged click dispatched")
}
