package webhook

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// rotateTries bounds how often RotateSecret reads the endpoint again when
// a concurrent edit wins the race.
const rotateTries = 8

// RotateSecret gives an endpoint a new secret and returns it: this is the
// one time the new key is handed out, for the receiver. The new secret is
// of the kind of the endpoint's newest one (a "whsk_" signing key stays a
// signing key, whose [Secret.PublicKey] the receiver needs; otherwise a
// "whsec_" secret). The secrets that have not expired keep signing for
// grace more (an earlier expiry is kept), so receivers have that long to
// switch; expired secrets are dropped. An Unsigned endpoint becomes
// signed.
//
// The write is conditional on the version read
// ([PutEndpointParams.IfUpdatedAt]), so an edit made meanwhile, here or in
// another process, is kept: RotateSecret reads again and retries. A missing
// endpoint yields [ErrNotFound]; an endpoint that would hold more than 8
// secrets yields an error wrapping [ErrInvalidEndpoint].
//
// A service that declares its endpoints at every deploy with
// [Dispatcher.PutEndpoint] should copy the stored Secrets into its
// declaration (and set one only for a new endpoint), so that a deploy
// does not undo a rotation; see the example.
func (d *Dispatcher) RotateSecret(ctx context.Context, endpointID string, grace time.Duration) (Secret, error) {
	if d.isClosed() {
		return Secret{}, ErrClosed
	}
	if grace < 0 {
		return Secret{}, &ValidationError{Kind: ErrInvalidEndpoint, Field: "grace", Reason: "must not be negative"}
	}
	for range rotateTries {
		cur, err := d.store.GetEndpoint(ctx, &GetEndpointParams{ID: endpointID})
		if err != nil {
			return Secret{}, err
		}
		check := d.endpointCheck()
		next, fresh := rotated(cur, check.now.UTC(), grace)
		if err := next.validate(check); err != nil {
			return Secret{}, err
		}
		err = d.registry.save(ctx, next, cur.UpdatedAt)
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return Secret{}, err
		}
		return fresh, nil
	}
	return Secret{}, fmt.Errorf("webhook: rotating the secret of endpoint %q: %w: edited concurrently %d times", endpointID, ErrConflict, rotateTries)
}

// rotated returns a copy of ep with a new secret appended and the others
// expiring by now+grace, and the new secret.
func rotated(ep Endpoint, now time.Time, grace time.Duration) (Endpoint, Secret) {
	next := ep.Clone()
	next.Secrets = next.Secrets[:0]
	until := now.Add(grace)
	signingKey := false
	for _, s := range ep.Secrets {
		if !s.activeAt(now) {
			continue
		}
		signingKey = kindOfKey(s.Key) == keySigningKey
		if s.ExpiresAt.IsZero() || until.Before(s.ExpiresAt) {
			s.ExpiresAt = until
		}
		next.Secrets = append(next.Secrets, s)
	}
	fresh := NewSecret()
	if signingKey {
		fresh, _ = NewSigningKey()
	}
	next.Secrets = append(next.Secrets, fresh)
	next.Unsigned = false
	return next, fresh
}
