package admin

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	webhook "github.com/hooklet/webhook"
)

// previewRequest asks to render a template against a sample event.
type previewRequest struct {
	// Template is the template source; empty previews the default
	// Standard Webhooks envelope.
	Template string `json:"template"`
	// Event is the sample event; defaults to [sampleEvent].
	Event *webhook.Event `json:"event,omitempty"`
	// EndpointID names a stored endpoint whose settings and fields the
	// template sees; optional.
	EndpointID string `json:"endpoint_id,omitempty"`
	// Settings are the settings the template sees when no endpoint is
	// named.
	Settings json.RawMessage `json:"settings,omitempty"`
}

// previewResult is a rendered preview.
type previewResult struct {
	// Body is the rendered body as text.
	Body string `json:"body"`
	// ContentType is the body's media type.
	ContentType string `json:"content_type,omitempty"`
	// Skip reports that the template chose not to send the event.
	Skip bool `json:"skip"`
}

// sampleEvent is the event a preview renders when the request gives none.
func sampleEvent(now time.Time) webhook.Event {
	return webhook.Event{
		ID: "evt_sample", Type: "invoice.paid", Time: now.UTC().Truncate(time.Second),
		Payload:    json.RawMessage(`{"id":"in_1","amount":1200,"currency":"eur","customer":{"email":"ada@example.com"}}`),
		Attributes: map[string]string{"correlation_id": "c_1"},
	}
}

// preview compiles and renders a template. A compile or render error is a
// *[webhook.TemplateError] with its line and column.
func (s *scope) preview(ctx context.Context, tr webhook.Transformer, req previewRequest, now time.Time) (previewResult, error) {
	ev := sampleEvent(now)
	if req.Event != nil {
		ev = *req.Event
		if ev.Time.IsZero() {
			ev.Time = now.UTC()
		}
		if len(ev.Payload) == 0 || !json.Valid(ev.Payload) {
			return previewResult{}, badRequest("the sample event needs a JSON payload", webhook.ErrInvalidEvent)
		}
	}
	ep := webhook.Endpoint{ID: "ep_preview", URL: "https://example.com/preview", Settings: req.Settings}
	if req.EndpointID != "" {
		stored, err := s.endpoint(ctx, req.EndpointID)
		if err != nil {
			return previewResult{}, err
		}
		ep = stored
	}
	if s.portal {
		ep.Tenant = s.tenant
	}
	if req.Template == "" {
		body, err := json.Marshal(struct {
			Type      string          `json:"type"`
			Timestamp string          `json:"timestamp"`
			Data      json.RawMessage `json:"data"`
		}{ev.Type, ev.Time.UTC().Format(time.RFC3339), ev.Payload})
		return previewResult{Body: string(body), ContentType: "application/json"}, err
	}
	tpl, err := tr.Compile(req.Template)
	if err != nil {
		return previewResult{}, err
	}
	out, err := tpl.Render(ctx, &webhook.RenderInput{Event: &ev, Endpoint: &ep})
	if err != nil {
		return previewResult{}, err
	}
	// A body that is not UTF-8 is shown with replacement characters.
	return previewResult{Body: strings.ToValidUTF8(string(out.Body), "\uFFFD"), ContentType: out.ContentType, Skip: out.Skip}, nil
}
