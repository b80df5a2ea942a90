// Package signature signs and verifies webhooks per the Standard Webhooks
// specification: the webhook-id, webhook-timestamp and webhook-signature
// headers, "v1" HMAC-SHA256 signatures with "whsec_" secrets and "v1a"
// ed25519 signatures with "whsk_" signing keys and "whpk_" public keys.
//
// It imports only the standard library, so a service that receives
// webhooks can verify them without linking the sender
// (github.com/hooklet/webhook), its template engine or its stores:
//
//	err := signature.Verify(secret, r.Header, body, 5*time.Minute)
//
// A [Verifier] holds several keys, as a receiver needs during a rotation.
// Every error wraps one exported sentinel, matchable with [errors.Is], and
// never contains a key or a signature.
package signature
