package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/vigilml/vigil/codec"
	"github.com/vigilml/vigil/control"
	"github.com/vigilml/vigil/workflows"
)

// canary is a value that travels through workflow payloads: the rule's name
// is in the monitor's result and the incident signal, and the ack's actor
// is an Update's input. Finding it in raw history means plaintext leaked.
const canary = "plaintext-canary-5e1d9b7a"

// TestEncryptedPayloadsStayEncryptedInHistory runs an evaluation, an
// incident and an ack with temporal.encryption on, and then requires that
//   - the worker's own client reads results and state in the clear,
//   - no event of any history, read by a client WITHOUT the codec, contains
//     the canary in any string or bytes field, while encrypted payloads are
//     there,
//   - the worker's codec endpoint decrypts those payloads back to the canary,
//   - the dev Web UI is configured with that endpoint and the endpoint
//     accepts the UI's CORS preflight,
//   - the temporal CLI shows the canary with --codec-endpoint and not without,
//   - the key appears in no log line (the key ID does).
func TestEncryptedPayloadsStayEncryptedInHistory(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ref.csv"), []byte("x,label,prediction\n1,1,1\n2,0,0\n3,1,0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgPath := writeConfig(t, dir, `
dev: {data_dir: "{{dir}}/state"}
temporal:
  encryption: {key_env: VIGIL_TEST_ENCRYPTION_KEY}
models:
  - name: churn
    task: binary
    schedule: {every: 1h}
    columns: {target: label, prediction: prediction}
    source: {uri: "file://{{dir}}/data"}
    reference: {uri: "file://{{dir}}/ref.csv"}
    rules:
      # No traffic breaches on the first evaluation and opens an incident.
      - {name: `+canary+`, metric: rows.current, below: 1, severity: warning}
`)

	// A key that is not a key stops the worker before anything starts, and
	// the message names the variable, not the value.
	t.Setenv("VIGIL_TEST_ENCRYPTION_KEY", "c2hvcnQ=")
	if _, err := launchWorker(t, options{configPath: cfgPath, logLevel: "warn", uiPort: -1}, 10*time.Second); err == nil ||
		!strings.Contains(err.Error(), "environment variable VIGIL_TEST_ENCRYPTION_KEY: want the base64 of 32 bytes") ||
		strings.Contains(err.Error(), "c2hvcnQ=") {
		t.Fatalf("a bad key must stop the worker with a message naming the variable: %v", err)
	}

	key := make([]byte, codec.KeySize)
	rand.Read(key)
	t.Setenv("VIGIL_TEST_ENCRYPTION_KEY", base64.StdEncoding.EncodeToString(key))
	logs := captureStderr(t)
	started := time.Now()
	w := startWorker(t, options{configPath: cfgPath, uiPort: freePort(t), logLevel: "debug"})
	t.Logf("worker with the embedded server and UI ready in %s", time.Since(started).Round(time.Millisecond))
	ctx := context.Background()
	wc := &control.Client{C: w.Client, TaskQueue: w.Config.Temporal.TaskQueue}

	// The worker's client encrypts and decrypts transparently.
	run, err := wc.Trigger(ctx, "churn", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var res workflows.MonitorResult
	if err := run.Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Results) != 1 || res.Results[0].Rule != canary || !res.Results[0].Breached {
		t.Fatalf("monitor result = %+v, want the canary rule breached", res.Results)
	}
	waitFor(t, 20*time.Second, "the incident to open", func() (bool, error) {
		st, err := wc.Incidents(ctx, "churn")
		return err == nil && st != nil && st.Rules[canary] != nil && st.Rules[canary].Open != nil, err
	})
	if ack, err := wc.Ack(ctx, "churn", "", canary); err != nil || len(ack.Incidents) != 1 {
		t.Fatalf("ack = %+v, %v", ack, err)
	}

	// Every event of every workflow, read without the codec.
	raw, err := w.Dev.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var list *workflowservice.ListWorkflowExecutionsResponse
	waitFor(t, 10*time.Second, "visibility to list the monitor and incident workflows", func() (bool, error) {
		var err error
		list, err = raw.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{})
		return len(list.GetExecutions()) >= 2, err
	})
	var events int
	var encrypted []*commonpb.Payload
	var monitorResult *commonpb.Payload
	for _, ex := range list.Executions {
		id := ex.Execution.WorkflowId
		iter := raw.GetWorkflowHistory(ctx, id, ex.Execution.RunId, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for iter.HasNext() {
			ev, err := iter.Next()
			if err != nil {
				t.Fatalf("history of %s: %v", id, err)
			}
			events++
			walk(ev.ProtoReflect(), func(b []byte) {
				if bytes.Contains(b, []byte(canary)) {
					t.Errorf("workflow %s event %d (%s) holds the plaintext canary: %q", id, ev.EventId, ev.EventType, b)
				}
			}, func(p *commonpb.Payload) {
				if string(p.Metadata[converter.MetadataEncoding]) == codec.Encoding {
					encrypted = append(encrypted, p)
				}
			})
			if c := ev.GetWorkflowExecutionCompletedEventAttributes(); c != nil && id == run.GetID() {
				monitorResult = c.GetResult().GetPayloads()[0]
			}
		}
	}
	if events == 0 || len(encrypted) < 10 {
		t.Fatalf("read %d events with %d encrypted payloads; the check above proves nothing", events, len(encrypted))
	}
	if got := string(monitorResult.GetMetadata()[converter.MetadataEncoding]); got != codec.Encoding {
		t.Errorf("the monitor's result in history has encoding %q, want %q", got, codec.Encoding)
	}
	t.Logf("%d history events of %d workflows, %d encrypted payloads, no plaintext", events, len(list.Executions), len(encrypted))

	// The codec endpoint turns them back into plaintext, as the UI's
	// browser asks for it (origin, X-Namespace).
	if w.CodecEndpoint != "http://"+w.HTTPAddr+"/codec" {
		t.Errorf("codec endpoint = %q, want it on the worker's HTTP address %s", w.CodecEndpoint, w.HTTPAddr)
	}
	body, err := protojson.Marshal(&commonpb.Payloads{Payloads: encrypted})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, w.CodecEndpoint+"/decode", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Namespace", "default")
	req.Header.Set("Origin", w.Dev.UIURL())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != w.Dev.UIURL() {
		t.Fatalf("decode: %s (Allow-Origin %q): %s", resp.Status, resp.Header.Get("Access-Control-Allow-Origin"), out)
	}
	var decoded commonpb.Payloads
	if err := protojson.Unmarshal(out, &decoded); err != nil {
		t.Fatal(err)
	}
	withCanary := 0
	for _, p := range decoded.Payloads {
		if string(p.Metadata[converter.MetadataEncoding]) == codec.Encoding {
			t.Errorf("the endpoint left a payload encrypted")
		}
		if bytes.Contains(p.Data, []byte(canary)) {
			withCanary++
		}
	}
	// At least the monitor's result, the incident signal and the ack.
	if withCanary < 3 {
		t.Errorf("%d decrypted payloads hold the canary, want at least 3", withCanary)
	}

	// The dev Web UI is configured with the endpoint, and its origin passes
	// the endpoint's CORS preflight.
	settings, err := http.Get(w.Dev.UIURL() + "/api/v1/settings")
	if err != nil {
		t.Fatal(err)
	}
	var s struct{ Codec struct{ Endpoint string } }
	err = json.NewDecoder(settings.Body).Decode(&s)
	settings.Body.Close()
	if err != nil || s.Codec.Endpoint != w.CodecEndpoint {
		t.Errorf("the Web UI's codec endpoint = %q (%v), want %q", s.Codec.Endpoint, err, w.CodecEndpoint)
	}
	pre, _ := http.NewRequest(http.MethodOptions, w.CodecEndpoint+"/decode", nil)
	pre.Header.Set("Origin", strings.Replace(w.Dev.UIURL(), "127.0.0.1", "localhost", 1))
	pre.Header.Set("Access-Control-Request-Method", "POST")
	pre.Header.Set("Access-Control-Request-Headers", "content-type,x-namespace")
	if resp, err := http.DefaultClient.Do(pre); err != nil || resp.StatusCode/100 != 2 || resp.Header.Get("Access-Control-Allow-Origin") == "" {
		t.Errorf("preflight from the UI (as localhost): %v %v", resp, err)
	}

	t.Run("temporal CLI", func(t *testing.T) {
		cli := temporalCLI(t)
		show := func(extra ...string) string {
			args := append([]string{"workflow", "show", "--workflow-id", run.GetID(), "--address", w.Config.Temporal.Address, "--output", "json"}, extra...)
			out, err := exec.Command(cli, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("temporal %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			return string(out)
		}
		// JSON output keeps payloads as they are, data in base64.
		plain := func(out string) bool {
			if strings.Contains(out, canary) {
				return true
			}
			for _, m := range regexp.MustCompile(`"data":\s*"([A-Za-z0-9+/=]+)"`).FindAllStringSubmatch(out, -1) {
				if b, err := base64.StdEncoding.DecodeString(m[1]); err == nil && bytes.Contains(b, []byte(canary)) {
					return true
				}
			}
			return false
		}
		if plain(show()) {
			t.Error("temporal workflow show without the codec printed plaintext")
		}
		if out := show("--codec-endpoint", w.CodecEndpoint); !plain(out) {
			t.Errorf("temporal workflow show --codec-endpoint did not decode the result:\n%s", out)
		}
	})

	w.shutdown()
	logged := logs()
	if !strings.Contains(logged, "payload encryption on") || !strings.Contains(logged, codec.KeyID(key)) {
		t.Errorf("the worker should log that encryption is on, with the key's ID %s", codec.KeyID(key))
	}
	for _, form := range []string{base64.StdEncoding.EncodeToString(key), base64.RawStdEncoding.EncodeToString(key)[:20], hex.EncodeToString(key)} {
		if strings.Contains(logged, form) {
			t.Errorf("the worker's log contains the key (%d lines checked)", strings.Count(logged, "\n"))
		}
	}
}

// walk calls raw with every string and bytes value in m at any depth (map
// keys included) and payload with every Payload message.
func walk(m protoreflect.Message, raw func([]byte), payload func(*commonpb.Payload)) {
	if p, ok := m.Interface().(*commonpb.Payload); ok {
		payload(p)
	}
	value := func(fd protoreflect.FieldDescriptor, v protoreflect.Value) {
		switch fd.Kind() {
		case protoreflect.MessageKind, protoreflect.GroupKind:
			walk(v.Message(), raw, payload)
		case protoreflect.StringKind:
			raw([]byte(v.String()))
		case protoreflect.BytesKind:
			raw(v.Bytes())
		}
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList():
			for i, l := 0, v.List(); i < l.Len(); i++ {
				value(fd, l.Get(i))
			}
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				raw([]byte(k.String()))
				value(fd.MapValue(), mv)
				return true
			})
		default:
			value(fd, v)
		}
		return true
	})
}
