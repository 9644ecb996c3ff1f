package codec

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
)

// Fixed keys make failures reproducible; real keys come from crypto/rand.
var (
	keyA = bytes.Repeat([]byte{0xA1}, KeySize)
	keyB = bytes.Repeat([]byte{0xB2}, KeySize)
)

const plaintext = "model churn, rule accuracy-drop: PLAINTEXT-CANARY-3f9c"

func mustNew(t *testing.T, current []byte, previous ...[]byte) *Codec {
	t.Helper()
	c, err := New(current, previous...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func jsonPayload(t *testing.T, v any) *commonpb.Payload {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayload(v)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func encode1(t *testing.T, c *Codec, p *commonpb.Payload) *commonpb.Payload {
	t.Helper()
	out, err := c.Encode([]*commonpb.Payload{p})
	if err != nil {
		t.Fatal(err)
	}
	return out[0]
}

func decode1(c *Codec, p *commonpb.Payload) (*commonpb.Payload, error) {
	out, err := c.Decode([]*commonpb.Payload{p})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// A payload comes back from Decode exactly as it went into Encode,
// metadata included.
func TestRoundTripRestoresThePayload(t *testing.T) {
	c := mustNew(t, keyA)
	orig := jsonPayload(t, plaintext)
	enc := encode1(t, c, orig)
	if got := string(enc.Metadata[converter.MetadataEncoding]); got != Encoding {
		t.Errorf("encoding = %q, want %q", got, Encoding)
	}
	if got := string(enc.Metadata[MetadataKeyID]); got != KeyID(keyA) || len(got) != 8 {
		t.Errorf("key id = %q, want the 8 hex digits %q", got, KeyID(keyA))
	}
	dec, err := decode1(c, enc)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(dec, orig) {
		t.Errorf("decoded %v, want %v", dec, orig)
	}
}

// Through the data converter, Go values survive; the payload on the wire
// is ciphertext.
func TestDataConverterEncryptsValues(t *testing.T) {
	dc := NewDataConverter(mustNew(t, keyA))
	p, err := dc.ToPayload(map[string]string{"reason": plaintext})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(p.Data, []byte("CANARY")) {
		t.Error("the payload's data contains the plaintext")
	}
	var back map[string]string
	if err := dc.FromPayload(p, &back); err != nil {
		t.Fatal(err)
	}
	if back["reason"] != plaintext {
		t.Errorf("round trip gave %v", back)
	}
}

// A random nonce per payload: the same value never encrypts the same way
// twice, and neither the value nor its JSON encoding metadata is visible.
func TestCiphertextDiffersEachTimeAndHidesThePlaintext(t *testing.T) {
	c := mustNew(t, keyA)
	orig := jsonPayload(t, plaintext)
	seen := map[string]bool{}
	for range 100 {
		enc := encode1(t, c, orig)
		if seen[string(enc.Data)] {
			t.Fatal("two encryptions of the same payload produced the same ciphertext")
		}
		seen[string(enc.Data)] = true
		raw, err := proto.Marshal(enc)
		if err != nil {
			t.Fatal(err)
		}
		for _, leak := range []string{"CANARY", "json/plain", base64.StdEncoding.EncodeToString([]byte(plaintext))[:16]} {
			if bytes.Contains(raw, []byte(leak)) {
				t.Fatalf("encrypted payload contains %q", leak)
			}
		}
	}
}

// Rotation: the new key encrypts, the old one still decrypts what it wrote;
// a codec without the old key says which key is missing.
func TestDecodeWithPreviousKeyAfterRotation(t *testing.T) {
	before := mustNew(t, keyA)
	old := encode1(t, before, jsonPayload(t, plaintext))

	after := mustNew(t, keyB, keyA)
	if after.KeyID() != KeyID(keyB) {
		t.Errorf("current key after rotation = %s, want B's %s", after.KeyID(), KeyID(keyB))
	}
	if got := strings.Join(after.KeyIDs(), ","); got != KeyID(keyB)+","+KeyID(keyA) {
		t.Errorf("key IDs = %s", got)
	}
	dec, err := decode1(after, old)
	if err != nil {
		t.Fatalf("old payload with the previous key: %v", err)
	}
	var s string
	if err := converter.GetDefaultDataConverter().FromPayload(dec, &s); err != nil || s != plaintext {
		t.Errorf("decoded %q (%v)", s, err)
	}
	fresh := encode1(t, after, jsonPayload(t, "new"))
	if got := string(fresh.Metadata[MetadataKeyID]); got != KeyID(keyB) {
		t.Errorf("new payloads use key %s, want the current key %s", got, KeyID(keyB))
	}
}

// A payload encrypted with a key the codec does not have fails with
// ErrUnknownKey naming the key ID it needs, and nothing about the keys.
func TestWrongKeyIsAClearError(t *testing.T) {
	enc := encode1(t, mustNew(t, keyA), jsonPayload(t, plaintext))
	_, err := decode1(mustNew(t, keyB), enc)
	if !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("want ErrUnknownKey, got %v", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, KeyID(keyA)) || !strings.Contains(msg, KeyID(keyB)) {
		t.Errorf("the error should name the needed key %s and the configured %s: %s", KeyID(keyA), KeyID(keyB), msg)
	}
	for _, k := range [][]byte{keyA, keyB} {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding} {
			if strings.Contains(msg, enc.EncodeToString(k)[:12]) {
				t.Errorf("the error contains key material: %s", msg)
			}
		}
	}
	if strings.Contains(msg, "CANARY") {
		t.Errorf("the error contains plaintext: %s", msg)
	}
}

// Any change to the ciphertext, its nonce or its tag is detected; so is a
// key ID pointing at a different configured key.
func TestTamperedPayloadIsRejected(t *testing.T) {
	c := mustNew(t, keyA, keyB)
	enc := encode1(t, c, jsonPayload(t, plaintext))
	for _, tc := range []struct {
		name   string
		tamper func(p *commonpb.Payload)
	}{
		{"nonce", func(p *commonpb.Payload) { p.Data[0] ^= 1 }},
		{"ciphertext", func(p *commonpb.Payload) { p.Data[nonceSize+3] ^= 0x80 }},
		{"tag", func(p *commonpb.Payload) { p.Data[len(p.Data)-1] ^= 1 }},
		{"truncated", func(p *commonpb.Payload) { p.Data = p.Data[:nonceSize+5] }},
		{"appended", func(p *commonpb.Payload) { p.Data = append(p.Data, 0) }},
		{"other key id", func(p *commonpb.Payload) { p.Metadata[MetadataKeyID] = []byte(KeyID(keyB)) }},
		{"no key id", func(p *commonpb.Payload) { delete(p.Metadata, MetadataKeyID) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := proto.Clone(enc).(*commonpb.Payload)
			tc.tamper(p)
			_, err := decode1(c, p)
			if !errors.Is(err, ErrDecrypt) {
				t.Errorf("want ErrDecrypt, got %v", err)
			}
		})
	}
	if _, err := decode1(c, enc); err != nil {
		t.Errorf("the untouched payload must still decode: %v", err)
	}
}

// Histories written before encryption was turned on stay readable: payloads
// without the binary/encrypted encoding come back as they are.
func TestUnencryptedPayloadsPassThroughDecode(t *testing.T) {
	c := mustNew(t, keyA)
	plain := []*commonpb.Payload{
		jsonPayload(t, plaintext),
		jsonPayload(t, nil), // binary/null
		{Metadata: map[string][]byte{converter.MetadataEncoding: []byte("binary/zlib")}, Data: []byte{1, 2}},
		{}, // no metadata at all
	}
	out, err := c.Decode(plain)
	if err != nil {
		t.Fatal(err)
	}
	for i := range plain {
		if out[i] != plain[i] {
			t.Errorf("payload %d was changed: %v", i, out[i])
		}
	}
	var s string
	if err := NewDataConverter(c).FromPayload(plain[0], &s); err != nil || s != plaintext {
		t.Errorf("the data converter reads a plain payload as %q (%v)", s, err)
	}
}

func TestEncodeDoesNotMutateItsInput(t *testing.T) {
	c := mustNew(t, keyA)
	orig := jsonPayload(t, plaintext)
	want := proto.Clone(orig)
	encode1(t, c, orig)
	if !proto.Equal(orig, want) {
		t.Error("Encode changed its input payload")
	}
}

func TestParseKey(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"standard", base64.StdEncoding.EncodeToString(keyA), true},
		{"trailing newline", base64.StdEncoding.EncodeToString(keyA) + "\n", true},
		{"unpadded", base64.RawStdEncoding.EncodeToString(keyA), true},
		{"url alphabet", base64.URLEncoding.EncodeToString(keyB), true},
		{"16 bytes", base64.StdEncoding.EncodeToString(keyA[:16]), false},
		{"not base64", "correct horse battery staple!!", false},
		{"empty", "  ", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParseKey(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("ParseKey = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && strings.TrimSpace(tc.in) != "" && strings.Contains(err.Error(), strings.TrimSpace(tc.in)) {
				t.Errorf("the error repeats the key: %v", err)
			}
			if tc.ok && len(k) != KeySize {
				t.Errorf("got %d bytes", len(k))
			}
		})
	}
}

// FromEnv's errors name the variable and never print its value.
func TestFromEnvNamesTheVariable(t *testing.T) {
	good := base64.StdEncoding.EncodeToString(keyA)
	short := base64.StdEncoding.EncodeToString(keyB[:20])
	env := map[string]string{"KEY": good, "OLD": base64.StdEncoding.EncodeToString(keyB), "SHORT": short}
	getenv := func(k string) string { return env[k] }

	c, err := FromEnv(getenv, "KEY", "OLD")
	if err != nil {
		t.Fatal(err)
	}
	if c.KeyID() != KeyID(keyA) || len(c.KeyIDs()) != 2 {
		t.Errorf("keys = %v", c.KeyIDs())
	}
	for _, tc := range []struct {
		current string
		prev    []string
		want    string
	}{
		{"MISSING", nil, "environment variable MISSING is not set"},
		{"KEY", []string{"SHORT"}, "environment variable SHORT: want the base64 of 32 bytes, got 20 bytes"},
		{"SHORT", nil, "environment variable SHORT:"},
	} {
		_, err := FromEnv(getenv, tc.current, tc.prev...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("FromEnv(%s, %v) = %v, want %q", tc.current, tc.prev, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), short) || strings.Contains(err.Error(), good) {
			t.Errorf("the error contains a key: %v", err)
		}
		if !strings.Contains(err.Error(), "head -c32 /dev/urandom | base64") {
			t.Errorf("the error should say how to make a key: %v", err)
		}
	}
}

func TestNewRefusesKeysOfTheWrongSize(t *testing.T) {
	if _, err := New(keyA[:16]); err == nil {
		t.Error("a 16-byte key must be refused: Vigil uses AES-256")
	}
	c := mustNew(t, keyA, keyA)
	if len(c.KeyIDs()) != 1 {
		t.Errorf("the same key twice counts once, got %v", c.KeyIDs())
	}
}
