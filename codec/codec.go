package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
)

const (
	// Encoding is the metadata encoding of an encrypted payload.
	Encoding = "binary/encrypted"
	// MetadataKeyID is the metadata field naming the key that encrypted a payload.
	MetadataKeyID = "encryption-key-id"
	// KeySize is the size of an AES-256 key in bytes.
	KeySize = 32

	nonceSize = 12
)

// Errors that Decode wraps; check them with errors.Is.
var (
	// ErrUnknownKey: the payload names a key ID that is not configured.
	ErrUnknownKey = errors.New("encrypted with a key that is not configured")
	// ErrDecrypt: the key ID matches but the data does not authenticate
	// (tampered or corrupt), or the payload is malformed.
	ErrDecrypt = errors.New("cannot decrypt")
)

// Codec is a converter.PayloadCodec that encrypts with AES-256-GCM. It is
// safe for concurrent use.
type Codec struct {
	current string
	keys    map[string]cipher.AEAD
	ids     []string // current first, then previous keys in order
}

var _ converter.PayloadCodec = (*Codec)(nil)

// New returns a codec that encrypts with current and decrypts with current
// or any of previous. Every key is KeySize bytes.
func New(current []byte, previous ...[]byte) (*Codec, error) {
	c := &Codec{keys: map[string]cipher.AEAD{}}
	for i, k := range append([][]byte{current}, previous...) {
		if len(k) != KeySize {
			return nil, fmt.Errorf("codec: key %d is %d bytes, want %d", i, len(k), KeySize)
		}
		id := KeyID(k)
		if _, dup := c.keys[id]; dup {
			continue // the same key twice (e.g. current also listed as previous)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("codec: %w", err)
		}
		aead, err := cipher.NewGCMWithNonceSize(block, nonceSize)
		if err != nil {
			return nil, fmt.Errorf("codec: %w", err)
		}
		c.keys[id] = aead
		c.ids = append(c.ids, id)
	}
	c.current = c.ids[0]
	return c, nil
}

// KeyID identifies a key in payload metadata without revealing it: the
// first 8 hex digits of its SHA-256.
func KeyID(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:4])
}

// KeyID is the ID of the key Encode uses.
func (c *Codec) KeyID() string { return c.current }

// KeyIDs are the IDs of every key Decode accepts, the current one first.
func (c *Codec) KeyIDs() []string { return slices.Clone(c.ids) }

// Encode encrypts every payload with the current key.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	aead := c.keys[c.current]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return payloads, fmt.Errorf("codec: marshal payload %d: %w", i, err)
		}
		nonce := make([]byte, nonceSize, nonceSize+len(plain)+aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return payloads, fmt.Errorf("codec: nonce: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				converter.MetadataEncoding: []byte(Encoding),
				MetadataKeyID:              []byte(c.current),
			},
			Data: aead.Seal(nonce, nonce, plain, nil),
		}
	}
	return out, nil
}

// Decode decrypts the payloads Encode produced with any configured key and
// returns the others unchanged.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != Encoding {
			out[i] = p
			continue
		}
		id := string(p.Metadata[MetadataKeyID])
		aead, ok := c.keys[id]
		switch {
		case id == "":
			return payloads, fmt.Errorf("codec: payload %d: %w: no %s in its metadata", i, ErrDecrypt, MetadataKeyID)
		case !ok:
			return payloads, fmt.Errorf("codec: payload %d: %w: key ID %s, configured: %s (add the key that wrote it to the previous keys)",
				i, ErrUnknownKey, id, strings.Join(c.ids, ", "))
		case len(p.Data) < nonceSize+aead.Overhead():
			return payloads, fmt.Errorf("codec: payload %d: %w: %d bytes is too short to be encrypted data", i, ErrDecrypt, len(p.Data))
		}
		plain, err := aead.Open(nil, p.Data[:nonceSize], p.Data[nonceSize:], nil)
		if err != nil {
			return payloads, fmt.Errorf("codec: payload %d: %w with key %s: the data was tampered with or is corrupt (message authentication failed)", i, ErrDecrypt, id)
		}
		var orig commonpb.Payload
		if err := proto.Unmarshal(plain, &orig); err != nil {
			return payloads, fmt.Errorf("codec: payload %d: %w: decrypted data is not a payload: %v", i, ErrDecrypt, err)
		}
		out[i] = &orig
	}
	return out, nil
}

// NewDataConverter is Temporal's default data converter (JSON, protobuf,
// bytes) with c applied to every payload it produces and reads.
func NewDataConverter(c converter.PayloadCodec) converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}

// GenerateHint says how to make a key; it goes into error messages.
const GenerateHint = "generate one with: head -c32 /dev/urandom | base64"

// ParseKey decodes a base64 key (standard or URL alphabet, padded or not,
// surrounding whitespace ignored). Its errors never contain the input.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("empty key")
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		k, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(k) != KeySize {
			return nil, fmt.Errorf("want the base64 of %d bytes, got %d bytes (%s)", KeySize, len(k), GenerateHint)
		}
		return k, nil
	}
	return nil, fmt.Errorf("not base64: want the base64 of %d bytes (%s)", KeySize, GenerateHint)
}

// FromEnv builds a codec from keys in environment variables: the variable
// named current holds the key that encrypts, those named previous hold older
// keys that still decrypt. Errors name the variable, never its value.
func FromEnv(getenv func(string) string, current string, previous ...string) (*Codec, error) {
	if current == "" {
		return nil, errors.New("codec: no environment variable named for the current key")
	}
	var keys [][]byte
	for _, name := range append([]string{current}, previous...) {
		v := getenv(name)
		if v == "" {
			return nil, fmt.Errorf("environment variable %s is not set (it holds an encryption key; %s)", name, GenerateHint)
		}
		k, err := ParseKey(v)
		if err != nil {
			return nil, fmt.Errorf("environment variable %s: %w", name, err)
		}
		keys = append(keys, k)
	}
	return New(keys[0], keys[1:]...)
}
