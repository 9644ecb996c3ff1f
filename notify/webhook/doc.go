// Package webhook posts every Vigil event as signed JSON to any URL.
//
// The body is the notify.Event's JSON plus "version" (the body's schema
// version, now "1") and "sent_at". With a secret, the header
//
//	X-Vigil-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed by the secret>
//
// authenticates it, and X-Vigil-Timestamp repeats sent_at as Unix seconds.
// Because sent_at is inside the signed body, a receiver that checks it
// against its clock rejects replays; Verify does both.
//
// Imports: it may import notify and the standard library.
package webhook
