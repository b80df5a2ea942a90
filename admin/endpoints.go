package admin

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	webhook "github.com/hooklet/webhook"
)

// saveResult is what saving an endpoint did.
type saveResult struct {
	Endpoint webhook.Endpoint
	// Created reports a new endpoint.
	Created bool
	// NewSecret is the secret Hooklet generated for a new endpoint saved
	// without one; it is shown once.
	NewSecret *webhook.Secret
}

// saveEndpoint creates or replaces an endpoint in scope. When
// secretsGiven is false the stored secrets are kept, or, for a new
// endpoint, a fresh secret is generated, unless the endpoint is Unsigned. A header whose value is
// [webhook.Redacted] keeps its stored value. In portal mode the endpoint
// belongs to the portal's tenant, and an ID another tenant holds answers
// 404.
func (s *scope) saveEndpoint(ctx context.Context, ep webhook.Endpoint, secretsGiven bool) (saveResult, error) {
	if s.portal {
		switch ep.Tenant {
		case "":
			ep.Tenant = s.tenant
		case s.tenant:
		default:
			return saveResult{}, badRequest("tenant must be empty or "+fmt.Sprintf("%q", s.tenant), webhook.ErrInvalidEndpoint)
		}
	}
	if ep.ID == "" {
		return saveResult{}, badRequest("id is required", webhook.ErrInvalidEndpoint)
	}
	old, err := s.d.Endpoint(ctx, ep.ID)
	exists := err == nil
	if err != nil && !errors.Is(err, webhook.ErrNotFound) {
		return saveResult{}, err
	}
	if exists && s.portal && old.Tenant != s.tenant {
		return saveResult{}, errNotFound
	}
	res := saveResult{Created: !exists}
	for k, v := range ep.Headers {
		if v != webhook.Redacted {
			continue
		}
		kept, ok := old.Headers[k]
		if !exists || !ok {
			return saveResult{}, badRequest(fmt.Sprintf("header %q: a redacted value can only keep a stored one", k), webhook.ErrRedacted)
		}
		ep.Headers = maps.Clone(ep.Headers)
		ep.Headers[k] = kept
	}
	if !secretsGiven && !ep.Unsigned { // an Unsigned endpoint holds no secret
		if exists {
			ep.Secrets = old.Secrets
		} else {
			sec := webhook.NewSecret()
			ep.Secrets = []webhook.Secret{sec}
			res.NewSecret = &sec
		}
	}
	if err := s.d.PutEndpoint(ctx, ep); err != nil {
		return saveResult{}, err
	}
	res.Endpoint, err = s.d.Endpoint(ctx, ep.ID)
	return res, err
}

// deleteEndpoint removes an endpoint in scope.
func (s *scope) deleteEndpoint(ctx context.Context, id string) error {
	if _, err := s.endpoint(ctx, id); err != nil {
		return err
	}
	return notFound(s.d.DeleteEndpoint(ctx, id))
}

// setDisabled disables or enables an endpoint in scope. Enabling clears
// the reason Hooklet disabled it for.
func (s *scope) setDisabled(ctx context.Context, id string, disabled bool) (webhook.Endpoint, error) {
	ep, err := s.endpoint(ctx, id)
	if err != nil {
		return webhook.Endpoint{}, err
	}
	ep.Disabled = disabled
	if !disabled {
		ep.DisabledReason = ""
	}
	if err := s.d.PutEndpoint(ctx, ep); err != nil {
		return webhook.Endpoint{}, err
	}
	return s.d.Endpoint(ctx, id)
}

// rotation is the answer to a secret rotation: the new secret, shown once.
type rotation struct {
	// Secret is the new secret's key.
	Secret string `json:"secret"`
	// PublicKey is the "whpk_" key receivers verify with, for an ed25519
	// signing key.
	PublicKey string `json:"public_key,omitempty"`
	// OldSecretsExpireAt is when the secrets the endpoint had stop
	// signing.
	OldSecretsExpireAt time.Time `json:"old_secrets_expire_at"`
	// Endpoint is the endpoint as stored, secrets redacted.
	Endpoint webhook.Endpoint `json:"endpoint"`
}

// rotateSecret adds a fresh secret to an endpoint in scope, of the same
// kind as its newest one, and makes the others expire after grace: both
// sign until then. It is [webhook.Dispatcher.RotateSecret], whose write is
// conditional, so an edit made meanwhile is kept.
func (s *scope) rotateSecret(ctx context.Context, id string, grace time.Duration) (rotation, error) {
	if _, err := s.endpoint(ctx, id); err != nil {
		return rotation{}, err
	}
	fresh, err := s.d.RotateSecret(ctx, id, grace)
	if err != nil {
		return rotation{}, notFound(err)
	}
	rot := rotation{Secret: fresh.Key}
	if strings.HasPrefix(fresh.Key, webhook.SigningKeyPrefix) {
		if rot.PublicKey, err = fresh.PublicKey(); err != nil {
			return rotation{}, err
		}
	}
	if rot.Endpoint, err = s.d.Endpoint(ctx, id); err != nil {
		return rotation{}, notFound(err)
	}
	for _, sec := range rot.Endpoint.Secrets {
		if sec.Key != fresh.Key && sec.ExpiresAt.After(rot.OldSecretsExpireAt) {
			rot.OldSecretsExpireAt = sec.ExpiresAt
		}
	}
	return rot, nil
}

// testEvent is the answer to a test send.
type testEvent struct {
	// EventID identifies the emitted event; its deliveries can be listed
	// with event_id.
	EventID string `json:"event_id"`
	// Type is the test event's type.
	Type string `json:"type"`
}

// EndpointEmitter is implemented by a Dispatcher that can emit an event to
// one endpoint only. The test action uses it when the Dispatcher has it.
type EndpointEmitter interface {
	// EmitToEndpoint stores ev with one delivery, to the endpoint
	// endpointID, whatever the endpoint's event types and tenant.
	EmitToEndpoint(ctx context.Context, endpointID string, ev webhook.Event) error
}

// sendTest emits a test event for an endpoint in scope, of the test type
// and the endpoint's tenant, with the attribute "hooklet_test_endpoint"
// naming the endpoint. Without [EndpointEmitter], the event goes through
// the ordinary fan-out: the endpoint must accept the test type (it is
// refused with 400 otherwise), and other endpoints of the same tenant that
// subscribe to every type receive it too; receivers recognise it by its
// type.
func (s *scope) sendTest(ctx context.Context, id, typ string, now time.Time) (testEvent, error) {
	ep, err := s.endpoint(ctx, id)
	if err != nil {
		return testEvent{}, err
	}
	if ep.Disabled {
		return testEvent{}, badRequest("the endpoint is disabled", webhook.ErrInvalidEvent)
	}
	ev := webhook.Event{
		Type:       typ,
		Tenant:     ep.Tenant,
		Time:       now,
		Attributes: map[string]string{"hooklet_test_endpoint": ep.ID},
		Payload:    fmt.Appendf(nil, `{"test":true,"endpoint_id":%q,"message":"a test event sent from the Hooklet console"}`, ep.ID),
	}
	if em, ok := any(s.d).(EndpointEmitter); ok {
		ev.ID = newTestEventID(now)
		return testEvent{EventID: ev.ID, Type: typ}, em.EmitToEndpoint(ctx, ep.ID, ev)
	}
	if !acceptsType(ep.EventTypes, typ) {
		return testEvent{}, badRequest(fmt.Sprintf("the endpoint does not subscribe to %q: add it to its event types to send test events", typ), webhook.ErrInvalidEvent)
	}
	ev.ID = newTestEventID(now)
	return testEvent{EventID: ev.ID, Type: typ}, s.d.Emit(ctx, ev)
}

// acceptsType reports whether event type patterns match typ, as the
// Dispatcher matches them.
func acceptsType(patterns []string, typ string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if p == "*" || p == typ {
			return true
		}
		if prefix, ok := strings.CutSuffix(p, "*"); ok && len(typ) > len(prefix) && strings.HasPrefix(typ, prefix) {
			return true
		}
	}
	return false
}

// newTestEventID returns a unique ID for a test event.
func newTestEventID(now time.Time) string {
	return fmt.Sprintf("evt_test_%d_%s", now.UnixMilli(), strings.ToLower(rand.Text()[:10]))
}
