package main

// The README's commands, parsed out of README.md and run in its order against
// a real dev server, so that the README cannot drift from the code: a command
// the README gains needs a check here, a command it loses fails its check.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack/slacktest"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/control"
	"github.com/vigilml/vigil/store/ingest/logclient"
	"github.com/vigilml/vigil/train/demo"
	"github.com/vigilml/vigil/train/registry"
	"github.com/vigilml/vigil/workflows"
)

// readmeSection is the text of the README's "## <heading>" section.
func readmeSection(t *testing.T, heading string) string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), "\n## "+heading+"\n")
	if !ok {
		t.Fatalf("README has no section %q", heading)
	}
	section, _, _ := strings.Cut(after, "\n## ")
	return section
}

var (
	fenceRE  = regexp.MustCompile("(?s)```([a-z]*)\n(.*?)```")
	inlineRE = regexp.MustCompile("`([^`]+)`")
)

// readmeCommands returns, in the order the section shows them, the commands
// that start with prefix: the lines of its ```sh blocks (continuations
// joined) and its inline code spans. Each command is split into words as a
// shell would (quotes removed, a trailing # comment dropped).
func readmeCommands(t *testing.T, section, prefix string) [][]string {
	t.Helper()
	var out [][]string
	add := func(line string) {
		if !strings.HasPrefix(strings.Join(strings.Fields(line), " "), prefix) {
			return
		}
		words, err := shellWords(line)
		if err != nil {
			t.Fatalf("README command %q: %v", line, err)
		}
		out = append(out, words)
	}
	rest := section
	for {
		loc := fenceRE.FindStringSubmatchIndex(rest)
		prose := rest
		if loc != nil {
			prose = rest[:loc[0]]
		}
		for _, m := range inlineRE.FindAllStringSubmatch(prose, -1) {
			add(m[1])
		}
		if loc == nil {
			return dropMentions(out)
		}
		if rest[loc[2]:loc[3]] == "sh" {
			for _, line := range strings.Split(strings.ReplaceAll(rest[loc[4]:loc[5]], "\\\n", " "), "\n") {
				add(line)
			}
		}
		rest = rest[loc[1]:]
	}
}

// dropMentions drops the commands that only name another one shown in
// full: prose like "a second `temporal workflow start` of it".
func dropMentions(cmds [][]string) [][]string {
	var out [][]string
	for _, c := range cmds {
		line := strings.Join(c, " ")
		mention := false
		for _, other := range cmds {
			mention = mention || (len(other) > len(c) && commandKey(other) == line)
		}
		if !mention {
			out = append(out, c)
		}
	}
	return out
}

// isTemplate reports whether a README command is a pattern, not a command
// to run as it is: it has a placeholder (M, <model>, …) or optional parts
// ([-metrics FILE]).
func isTemplate(words []string) bool {
	return slices.ContainsFunc(words, func(w string) bool {
		return w == "M" || strings.HasPrefix(w, "<") || strings.HasPrefix(w, "[") || strings.Contains(w, "…")
	})
}

// checkTemplates checks that each template's subcommand exists and has
// every flag the README gives it, from the command's own -h.
func checkTemplates(t *testing.T, templates [][]string, run func(words []string) (string, error)) {
	t.Helper()
	for _, words := range templates {
		key := strings.Fields(commandKey(words))
		out, err := run(append(key, "-h"))
		if err != nil {
			t.Errorf("README shows %q, but %s -h fails: %v\n%s", strings.Join(words, " "), strings.Join(key, " "), err, out)
			continue
		}
		for _, w := range words[len(key):] {
			if flag := strings.Trim(w, "[]"); strings.HasPrefix(flag, "-") && !strings.Contains(out, "  "+flag+" ") && !strings.Contains(out, " "+flag+"\n") {
				t.Errorf("README shows %q, but %s has no flag %s:\n%s", strings.Join(words, " "), strings.Join(key, " "), flag, out)
			}
		}
		t.Logf("README template %q: its flags exist", strings.Join(words, " "))
	}
}

// shellWords splits a command line as sh does for the README's commands:
// whitespace separates words, single and double quotes group, and an
// unquoted # starting a word begins a comment.
func shellWords(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case r == '#' && !inWord:
			return words, nil
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unclosed %c", quote)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

func TestReadmeCommandsParser(t *testing.T) {
	section := "Run `go run ./starter list` first.\n\n```yaml\nx: `go run ./starter not-this`\n```\n\n" +
		"```sh\ngo run ./starter trigger \\\n  -model demo   # evaluate\nother command\n```\nThen `go run ./starter\nack -by 'a b'`; " +
		"a second `go run ./starter trigger` is a mention.\n"
	var got []string
	for _, words := range readmeCommands(t, section, "go run ./starter ") {
		got = append(got, strings.Join(words, "|"))
	}
	want := []string{"go|run|./starter|list", "go|run|./starter|trigger|-model|demo", "go|run|./starter|ack|-by|a b"}
	if !slices.Equal(got, want) {
		t.Errorf("readmeCommands = %q, want %q", got, want)
	}
}

func TestShellWords(t *testing.T) {
	tests := []struct{ line, want string }{
		{`go run ./starter list   # models`, `go|run|./starter|list`},
		{`temporal workflow list --query 'VigilModel="churn" AND VigilStatus="breach"'`, `temporal|workflow|list|--query|VigilModel="churn" AND VigilStatus="breach"`},
		{`--input '{"Actor":"oncall"}'  # who`, `--input|{"Actor":"oncall"}`},
		{`a#b "c d"`, `a#b|c d`},
	}
	for _, tt := range tests {
		got, err := shellWords(tt.line)
		if err != nil || strings.Join(got, "|") != tt.want {
			t.Errorf("shellWords(%q) = %q, %v; want %q", tt.line, strings.Join(got, "|"), err, tt.want)
		}
	}
}

// readmeCheck runs before and checks after one README command; key is the
// command's words up to its first flag.
type readmeCheck struct {
	key string
	// before prepares what the tour's reader would have by then.
	before func(t *testing.T)
	// until: rerun the command (visibility lags a moment) until its output
	// passes; nil means once.
	until func(out string) bool
	check func(t *testing.T, out string)
}

// commandKey is a command's words up to its first flag: "go run ./starter
// models history", "temporal schedule trigger".
func commandKey(words []string) string {
	i := slices.IndexFunc(words, func(w string) bool { return strings.HasPrefix(w, "-") })
	if i < 0 {
		i = len(words)
	}
	return strings.Join(words[:i], " ")
}

// runReadme runs each command with run, in order, under its check; every
// command needs a check and every check a command.
func runReadme(t *testing.T, commands [][]string, checks []readmeCheck, run func(words []string) (string, error)) {
	t.Helper()
	if len(commands) == 0 {
		t.Fatal("no commands found in the README section")
	}
	for i, words := range commands {
		if i >= len(checks) || checks[i].key != commandKey(words) {
			var keys []string
			for _, c := range commands {
				keys = append(keys, commandKey(c))
			}
			t.Fatalf("README command %d %q has no check here: the README shows %q; update the checks of this test", i+1, strings.Join(words, " "), keys)
		}
		c := checks[i]
		if c.before != nil {
			c.before(t)
		}
		line := strings.Join(words, " ")
		var out string
		deadline := time.Now().Add(30 * time.Second)
		for {
			var err error
			out, err = run(words)
			if err != nil {
				t.Fatalf("%s: %v\n%s", line, err, out)
			}
			if c.until == nil || c.until(out) || time.Now().After(deadline) {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		t.Logf("$ %s\n%s", line, out)
		if c.check != nil {
			c.check(t, out)
		}
	}
	if len(checks) > len(commands) {
		t.Errorf("checks for commands the README no longer shows: %+v", checks[len(commands):])
	}
}

// wants checks that out contains every string.
func wants(subs ...string) func(t *testing.T, out string) {
	return func(t *testing.T, out string) {
		t.Helper()
		for _, s := range subs {
			if !strings.Contains(out, s) {
				t.Errorf("output lacks %q:\n%s", s, out)
			}
		}
	}
}

func containsAll(subs ...string) func(string) bool {
	return func(out string) bool {
		for _, s := range subs {
			if !strings.Contains(out, s) {
				return false
			}
		}
		return true
	}
}

// buildStarter builds the starter command once per test.
func buildStarter(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "starter")
	build := exec.Command("go", "build", "-o", bin, "github.com/vigilml/vigil/starter")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build starter: %v\n%s", err, out)
	}
	return bin
}

// The README's five-minute tour on the built-in demo, as a new user runs it:
// `worker -dev` without a config, then every `go run ./starter` command of
// the tour, without flags beyond the README's, from the directory the worker
// runs in. Minutes of the demo are compressed: the concept drifted five
// minutes ago and the last four minutes of traffic are logged through the
// ingest API at once, so step 1 (incident, retrain, promotion) happens in
// seconds. `notify test` runs with the README's Slack and PagerDuty config
// against slack-go's test server and a PagerDuty Events API on httptest.
// Then the worker restarts on the same data dir and the tour still reads.
func TestReadmeTour(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the tour on a Temporal server")
	}
	commands := readmeCommands(t, readmeSection(t, "A five-minute tour"), "go run ./starter ")
	starter := buildStarter(t)
	dir := t.TempDir()
	dataDir := filepath.Join(dir, config.DefaultDataDir)
	// The demo's concept drifted 5 minutes ago (kept in the data dir).
	driftAt := time.Now().Add(-5 * time.Minute).UTC()
	if err := os.MkdirAll(filepath.Join(dataDir, demoModel), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dataDir, demoModel, "drift-at"), []byte(driftAt.Format(time.RFC3339Nano)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := options{dataDir: dataDir, demoTraffic: true, demoDriftAfter: 3 * time.Minute, demoRate: 2, demoTick: 250 * time.Millisecond}
	port := freePort(t)
	opts.frontendPort = port
	w := startWorker(t, opts)
	ctx := context.Background()
	wc := &control.Client{C: w.Client, TaskQueue: "vigil"}
	blobs, err := w.Store.Blobs(ctx, w.Config.Storage.Registry)
	if err != nil {
		t.Fatal(err)
	}
	reg := registry.New(blobs)

	// Step 1, compressed: four minutes of drifted traffic scored by v1.
	var v1 registry.Version
	waitFor(t, 30*time.Second, "the demo's v1 in production", func() (bool, error) {
		v1, err = reg.Resolve(ctx, demoModel, registry.AliasProduction)
		return err == nil, nil
	})
	logDemoTraffic(t, "http://"+w.HTTPAddr, v1, driftAt, time.Now().Add(-4*time.Minute), time.Now())
	for i := range 3 { // for: 3 — three breaching windows open the incident
		run, err := wc.Trigger(ctx, demoModel, time.Now().Add(time.Duration(i-3)*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		var res workflows.MonitorResult
		if err := run.Get(ctx, &res); err != nil || res.Status != "breach" {
			t.Fatalf("evaluation %d: %s (%d rows), err %v; want breach", i+1, res.Status, res.Rows, err)
		}
	}
	waitFor(t, 90*time.Second, "the incident's retrain to promote v2", func() (bool, error) {
		v, err := reg.Resolve(ctx, demoModel, registry.AliasProduction)
		return err == nil && v.Version == 2, nil
	})
	promotedAt := time.Now()

	slack := newRecordingSlack(t)
	pd := newFakePagerDuty(t, fakeOptions{Credential: "readme-routing-key"})
	env := append(os.Environ(), "VIGIL_TEMPORAL_ADDRESS=", "VIGIL_TEMPORAL_NAMESPACE=",
		"SLACK_BOT_TOKEN=xoxb-readme", "SLACK_SIGNING_SECRET=readme-signing-secret", "PAGERDUTY_ROUTING_KEY=readme-routing-key")
	run := func(words []string) (string, error) {
		cmd := exec.Command(starter, words[3:]...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	checks := []readmeCheck{
		{key: "go run ./starter list", check: wants("MODEL", "demo", "1m", "active", "1")},
		// The window still holds mostly v1's predictions after the drift.
		{key: "go run ./starter trigger", check: wants("started vigil-monitor-demo-manual", "status breach", "BREACH  accuracy-drop: performance.accuracy = 0.")},
		{key: "go run ./starter incidents", check: wants("accuracy-drop", "performance.accuracy", "unacknowledged")},
		{key: "go run ./starter ack", check: wants("acknowledged demo/accuracy-drop")},
		{key: "go run ./starter history", until: func(out string) bool { return strings.Count(out, "MonitorWorkflow") >= 4 },
			check: func(t *testing.T, out string) {
				if n := strings.Count(out, "MonitorWorkflow"); n != strings.Count(out, "breach") || n < 4 {
					t.Errorf("want the 4 breach evaluations and only those:\n%s", out)
				}
			}},
		{key: "go run ./starter models history", check: func(t *testing.T, out string) {
			// Newest first: the retrain's promotion of v2, then v1's registration.
			if strings.Count(out, "production") != 2 || !strings.Contains(out, "ALIAS") {
				t.Errorf("want two production moves (v1, then the retrain's v2):\n%s", out)
			}
		}},
		// The trail of step 1: v1, the breaches, the incident and its ack,
		// the retrain that promoted v2, oldest first.
		{key: "go run ./starter audit", until: containsAll("retrain.promoted"), check: func(t *testing.T, out string) {
			wants("version.registered", "v2 registered", "alias.moved", "production: v1 → v2", "evaluation.completed",
				"status breach", "incident.opened", "incident.acknowledged", "retrain.started", "retrain.promoted")(t, out)
			if i, j := strings.Index(out, "retrain.started"), strings.Index(out, "retrain.promoted"); i > j {
				t.Errorf("want the retrain's start before its promotion (oldest first):\n%s", out)
			}
		}},
		{key: "go run ./starter report", check: wants(`"performance"`, `"accuracy"`, `"dataset_drift"`, `"features"`)},
		{key: "go run ./starter notify test",
			// Step 3: the README's notify config, pointed at the test servers.
			before: func(t *testing.T) { writeTourNotifyConfig(t, dir, slack.URL, pd.srv.URL) },
			check: func(t *testing.T, out string) {
				wants("sending a test notification to 2 integration(s)", "ok    pagerduty", "ok    slack")(t, out)
				if posts := slack.posts(); len(posts) != 1 || posts[0].Get("channel") != "C0123456789" ||
					!strings.HasPrefix(posts[0].Get("text"), "[TEST] [info] vigil-test: notify-test") ||
					!strings.Contains(posts[0].Get("blocks"), "Test notification from `starter notify test`") {
					t.Errorf("Slack got %v, want one test message to the README's channel", posts)
				}
				if got := pd.actions(); !slices.Equal(got, []string{"trigger", "resolve"}) {
					t.Errorf("PagerDuty got %v, want a test trigger and its resolve", got)
				}
				if err := os.Remove(filepath.Join(dir, "vigil.yaml")); err != nil {
					t.Fatal(err)
				}
			}},
		{key: "go run ./starter retrain", before: func(t *testing.T) {
			waitFor(t, 30*time.Second, "the incident's retrain to close", func() (bool, error) {
				n, err := countWorkflows(ctx, w.Worker, `WorkflowType = "RetrainWorkflow" AND ExecutionStatus != "Running"`)
				return n == 1, err
			})
			// Until validation_window has passed since v2's promotion the
			// held-out window holds v1's predictions, which are not v2's:
			// validation refuses to compare (as the README says), so the
			// tour's user, like this test, retrains after that.
			wait := time.Until(promotedAt.Add(w.Config.Model(demoModel).Retrain.ValidationWindow.D() + 2*time.Second))
			t.Logf("waiting %s for validation_window to pass since v2's promotion", wait.Round(time.Second))
			time.Sleep(wait)
		}, check: wants("started retrain-demo", "challenger v3 vs champion v2 (performance.accuracy")},
	}
	var runnable, templates [][]string
	for _, c := range commands {
		if isTemplate(c) {
			templates = append(templates, c)
		} else {
			runnable = append(runnable, c)
		}
	}
	checkTemplates(t, templates, run)
	runReadme(t, runnable, checks, run)

	// A restart on the same data dir: the tour reads the same.
	w.shutdown()
	startWorker(t, opts)
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"go", "run", "./starter", "list"}, []string{"demo", "active"}},
		{[]string{"go", "run", "./starter", "incidents", "-model", "demo"}, []string{"accuracy-drop", "acked by"}},
		{[]string{"go", "run", "./starter", "models", "history", "-model", "demo"}, []string{"production"}},
		// The evaluation history as Power BI reads it (README "Power BI").
		{[]string{"go", "run", "./starter", "export", "-model", "demo", "-format", "csv"},
			[]string{"model,version,window_end,metric,value,status\n", ",performance.accuracy,", ",rows.current,"}},
	} {
		out, err := run(c.args)
		if err != nil {
			t.Fatalf("after the restart, %s: %v\n%s", strings.Join(c.args, " "), err, out)
		}
		wants(c.want...)(t, out)
	}
}

// logDemoTraffic logs the demo's traffic between from and to, scored by
// version v, through the worker's ingest API as the demo model server does.
func logDemoTraffic(t *testing.T, url string, v registry.Version, driftAt, from, to time.Time) {
	t.Helper()
	m, err := demo.LoadURI(v.ArtifactURI)
	if err != nil {
		t.Fatal(err)
	}
	g := demo.NewGenerator(demo.GeneratorConfig{Seed: 24, DriftAt: driftAt})
	c := logclient.New(url, demoModel, logclient.Options{OnError: func(err error) { t.Errorf("log demo traffic: %v", err) }})
	ctx := context.Background()
	n := 0
	for at := from; at.Before(to); at = at.Add(100 * time.Millisecond) {
		for range 2 {
			n++
			ex := g.Sample(at)
			score, pred, err := m.Score(ex.FeatureMap())
			if err != nil {
				t.Fatal(err)
			}
			features := map[string]any{}
			for k, x := range ex.FeatureMap() {
				features[k] = x
			}
			id := fmt.Sprintf("readme-%d", n)
			latency := ex.LatencyMS
			if err := c.Log(ctx, logclient.Prediction{EventID: id, Time: at.UTC(), ModelVersion: "v1", Features: features,
				Prediction: pred, Score: &score, LatencyMS: &latency}); err != nil {
				t.Fatal(err)
			}
			if err := c.LogGroundTruth(ctx, logclient.GroundTruth{EventID: id, Label: ex.Label, Time: at.UTC()}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

// writeTourNotifyConfig writes ./vigil.yaml: the config the dev worker runs
// with the notify block of the tour's step 3, pointed at the test servers.
func writeTourNotifyConfig(t *testing.T, dir, slackURL, pdURL string) {
	t.Helper()
	tour := readmeSection(t, "A five-minute tour")
	_, block, ok := strings.Cut(tour, "```yaml\nnotify:")
	block, _, closed := strings.Cut(block, "```")
	if !ok || !closed {
		t.Fatal("the tour has no notify block")
	}
	snippet, err := config.Parse("README step 3", []byte("notify:"+block+
		"models: [{name: m, source: {uri: file:///d}, reference: {uri: file:///r.csv}}]\n"), config.Options{SkipEnv: true})
	if err != nil {
		t.Fatalf("the tour's notify block: %v", err)
	}
	cfg, err := config.Load(filepath.Join(dir, config.DefaultDataDir, "vigil.yaml"), config.Options{SkipEnv: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Notify = snippet.Notify
	if cfg.Notify.Slack == nil || cfg.Notify.PagerDuty == nil {
		t.Fatalf("the tour's notify block configures %v, want slack and pagerduty", cfg.Notify.Integrations())
	}
	cfg.Notify.Slack.APIURL, cfg.Notify.PagerDuty.EventsURL = slackURL, pdURL
	b, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "vigil.yaml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// recordingSlack is slack-go's Slack test server behind a proxy that keeps
// the forms posted to chat.postMessage: slacktest answers as Slack does, but
// only shows messages to websocket clients.
type recordingSlack struct {
	URL string
	mu  sync.Mutex
	got []url.Values
}

func newRecordingSlack(t *testing.T) *recordingSlack {
	st := slacktest.NewTestServer()
	st.Start()
	t.Cleanup(st.Stop)
	target, err := url.Parse(st.GetAPIURL())
	if err != nil {
		t.Fatal(err)
	}
	r := &recordingSlack{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		if strings.HasSuffix(req.URL.Path, "/chat.postMessage") {
			form, _ := url.ParseQuery(string(body))
			r.mu.Lock()
			r.got = append(r.got, form)
			r.mu.Unlock()
		}
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL + "/"
	return r
}

func (r *recordingSlack) posts() []url.Values {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}
