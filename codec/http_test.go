package codec

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
)

const uiOrigin = "http://127.0.0.1:8233"

// newServer mounts the handler as the worker does, under /codec/.
func newServer(t *testing.T, c *Codec, o HandlerOptions) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/codec/", NewHandler(c, o))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func post(t *testing.T, url string, body string, header map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func payloadsJSON(t *testing.T, ps ...*commonpb.Payload) string {
	t.Helper()
	b, err := protojson.Marshal(&commonpb.Payloads{Payloads: ps})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func readPayloads(t *testing.T, resp *http.Response) []*commonpb.Payload {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %s", resp.Status, b)
	}
	var out commonpb.Payloads
	if err := protojson.Unmarshal(b, &out); err != nil {
		t.Fatalf("response is not {\"payloads\": [...]}: %v\n%s", err, b)
	}
	return out.Payloads
}

// The endpoint speaks the remote-codec protocol of the Temporal Web UI and
// the temporal CLI: /encode encrypts, /decode decrypts, both JSON.
func TestHandlerEncodesAndDecodes(t *testing.T) {
	c := mustNew(t, keyA)
	srv := newServer(t, c, HandlerOptions{AllowedOrigins: []string{uiOrigin}})

	enc := readPayloads(t, post(t, srv.URL+"/codec/encode", payloadsJSON(t, jsonPayload(t, plaintext)), nil))
	if len(enc) != 1 || string(enc[0].Metadata[converter.MetadataEncoding]) != Encoding {
		t.Fatalf("encode returned %v", enc)
	}
	if strings.Contains(string(enc[0].Data), "CANARY") {
		t.Error("encode returned plaintext")
	}
	// What the UI does with a history: decode a mix of encrypted and
	// pre-encryption payloads in one request.
	old := jsonPayload(t, "written before encryption")
	dec := readPayloads(t, post(t, srv.URL+"/codec/decode", payloadsJSON(t, enc[0], old),
		map[string]string{"Origin": uiOrigin, "X-Namespace": "default"}))
	var got [2]string
	for i := range dec {
		if err := converter.GetDefaultDataConverter().FromPayload(dec[i], &got[i]); err != nil {
			t.Fatal(err)
		}
	}
	if got != [2]string{plaintext, "written before encryption"} {
		t.Errorf("decode returned %q", got)
	}

	// A payload the codec cannot decrypt is a 400 that says why.
	foreign := encode1(t, mustNew(t, keyB), jsonPayload(t, "x"))
	resp := post(t, srv.URL+"/codec/decode", payloadsJSON(t, foreign), nil)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "not configured") {
		t.Errorf("foreign payload: %s %s", resp.Status, body)
	}
}

// The Web UI calls the codec from the browser, cross-origin: the preflight
// for its POST with Content-Type and X-Namespace must succeed for the UI's
// origin and fail for others.
func TestHandlerAnswersCORSPreflightForTheUI(t *testing.T) {
	srv := newServer(t, mustNew(t, keyA), HandlerOptions{AllowedOrigins: []string{uiOrigin}, Token: "s3cret-token"})
	preflight := func(origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/codec/decode", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type,x-namespace")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := preflight(uiOrigin)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("preflight from the UI: %s (a preflight carries no token; it must pass)", resp.Status)
	}
	h := resp.Header
	if h.Get("Access-Control-Allow-Origin") != uiOrigin {
		t.Errorf("Allow-Origin = %q", h.Get("Access-Control-Allow-Origin"))
	}
	if !strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") {
		t.Errorf("Allow-Methods = %q", h.Get("Access-Control-Allow-Methods"))
	}
	allowed := strings.ToLower(h.Get("Access-Control-Allow-Headers"))
	for _, want := range []string{"content-type", "x-namespace", "authorization"} {
		if !strings.Contains(allowed, want) {
			t.Errorf("Allow-Headers %q lacks %s", allowed, want)
		}
	}
	if h.Get("Access-Control-Allow-Credentials") != "true" {
		t.Error("Allow-Credentials must be true for the UI's includeCredentials option")
	}

	if resp := preflight("https://evil.example"); resp.StatusCode != http.StatusForbidden || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from another origin: %s, Allow-Origin %q", resp.Status, resp.Header.Get("Access-Control-Allow-Origin"))
	}
	// A "simple" cross-origin POST skips the preflight; it is refused too.
	resp = post(t, srv.URL+"/codec/decode", payloadsJSON(t), map[string]string{"Origin": "https://evil.example", "Authorization": "Bearer s3cret-token"})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST from another origin: %s", resp.Status)
	}
	// The actual request from the UI gets the CORS headers on its answer.
	resp = post(t, srv.URL+"/codec/decode", payloadsJSON(t), map[string]string{"Origin": uiOrigin, "Authorization": "Bearer s3cret-token"})
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != uiOrigin {
		t.Errorf("POST from the UI: %s, Allow-Origin %q", resp.Status, resp.Header.Get("Access-Control-Allow-Origin"))
	}
}

// With a token, every request needs it as a bearer token.
func TestHandlerRejectsRequestsWithoutTheToken(t *testing.T) {
	srv := newServer(t, mustNew(t, keyA), HandlerOptions{Token: "s3cret-token"})
	enc := payloadsJSON(t, encode1(t, mustNew(t, keyA), jsonPayload(t, plaintext)))
	for _, auth := range []string{"", "Bearer wrong", "Basic s3cret-token", "Bearer s3cret-token-and-more", "s3cret-token"} {
		resp := post(t, srv.URL+"/codec/decode", enc, map[string]string{"Authorization": auth})
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("Authorization %q: %s, want 401", auth, resp.Status)
		}
		if strings.Contains(string(body), "CANARY") || strings.Contains(string(body), "s3cret") {
			t.Errorf("Authorization %q: the refusal leaks: %s", auth, body)
		}
		if resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("Authorization %q: 401 without WWW-Authenticate", auth)
		}
	}
	for _, auth := range []string{"Bearer s3cret-token", "bearer s3cret-token"} {
		dec := readPayloads(t, post(t, srv.URL+"/codec/decode", enc, map[string]string{"Authorization": auth}))
		var s string
		if err := converter.GetDefaultDataConverter().FromPayload(dec[0], &s); err != nil || s != plaintext {
			t.Errorf("Authorization %q: decoded %q (%v)", auth, s, err)
		}
	}
}

// The remote codec the SDK and the temporal CLI use works against the
// handler, so `temporal workflow show --codec-endpoint` does too.
func TestHandlerServesTheSDKRemoteCodec(t *testing.T) {
	srv := newServer(t, mustNew(t, keyA), HandlerOptions{Token: "tok"})
	remote := converter.NewRemotePayloadCodec(converter.RemotePayloadCodecOptions{
		Endpoint: srv.URL + "/codec",
		ModifyRequest: func(r *http.Request) error {
			r.Header.Set("Authorization", "Bearer tok")
			return nil
		},
	})
	dc := converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), remote)
	p, err := dc.ToPayload(plaintext)
	if err != nil {
		t.Fatal(err)
	}
	if string(p.Metadata[converter.MetadataEncoding]) != Encoding {
		t.Errorf("remote encode gave encoding %q", p.Metadata[converter.MetadataEncoding])
	}
	var s string
	if err := NewDataConverter(mustNew(t, keyA)).FromPayload(p, &s); err != nil || s != plaintext {
		t.Errorf("local decode of the remote encoding: %q %v", s, err)
	}
}

func TestHandlerLimitsTheBody(t *testing.T) {
	srv := newServer(t, mustNew(t, keyA), HandlerOptions{MaxBody: 1024})
	big, _ := json.Marshal(map[string]any{"payloads": []any{map[string]any{"data": strings.Repeat("QUFB", 1000)}}})
	if resp := post(t, srv.URL+"/codec/encode", string(big), nil); resp.StatusCode/100 != 4 {
		t.Errorf("a body over MaxBody: %s, want a 4xx", resp.Status)
	}
}
