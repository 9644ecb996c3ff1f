// Package codec encrypts Temporal payloads with AES-256-GCM, so that
// workflow inputs, results, signals, updates, queries and memos are stored in
// Temporal's history as ciphertext. It is independent of the rest of Vigil:
// a tool of your own reads Vigil's histories with
//
//	c, err := codec.FromEnv(os.Getenv, "VIGIL_ENCRYPTION_KEY")
//	cl, err := client.Dial(client.Options{DataConverter: codec.NewDataConverter(c)})
//
// and serves a codec endpoint for the Temporal Web UI or the temporal CLI
// with NewHandler.
//
// # Format
//
// An encrypted payload has the metadata
//
//	encoding:          binary/encrypted
//	encryption-key-id: the first 8 hex digits of SHA-256(key)
//
// and the data nonce (12 random bytes) || AES-256-GCM(key, nonce, proto(original payload))
// with no additional data; the original payload, metadata included, is
// marshalled as a temporal.api.common.v1.Payload protobuf message. Encode
// always uses the current key; Decode picks the key by its ID among the
// current and previous keys, so keys can rotate. Payloads without the
// binary/encrypted encoding pass through Decode unchanged: turning
// encryption on does not break histories written before.
//
// Imports: it imports no Vigil package: only the standard library, the
// Temporal SDK's converter and the Temporal API protos.
package codec
