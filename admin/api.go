package admin

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"

	webhook "github.com/hooklet/webhook"
)

// maxBodyBytes caps a request body of the API and of console forms.
const maxBodyBytes = 1 << 20

// route is one route of the API or the console.
type route struct {
	Method, Path string
	Handle       func(h *handler, w http.ResponseWriter, r *http.Request, s *scope) error
}

// apiRoutes are the routes of the JSON API; openapi.json documents each
// of them, and a test holds the two together.
var apiRoutes = []route{
	{"GET", "/api/v1/endpoints", (*handler).apiListEndpoints},
	{"GET", "/api/v1/endpoints/{id}", (*handler).apiGetEndpoint},
	{"PUT", "/api/v1/endpoints/{id}", (*handler).apiPutEndpoint},
	{"DELETE", "/api/v1/endpoints/{id}", (*handler).apiDeleteEndpoint},
	{"POST", "/api/v1/endpoints/{id}/enable", (*handler).apiEnable},
	{"POST", "/api/v1/endpoints/{id}/disable", (*handler).apiDisable},
	{"POST", "/api/v1/endpoints/{id}/rotate-secret", (*handler).apiRotateSecret},
	{"POST", "/api/v1/endpoints/{id}/test", (*handler).apiTest},
	{"POST", "/api/v1/endpoints/{id}/redeliver-failed", (*handler).apiRedeliverFailed},
	{"GET", "/api/v1/endpoints/{id}/health", (*handler).apiHealth},
	{"GET", "/api/v1/deliveries", (*handler).apiListDeliveries},
	{"GET", "/api/v1/deliveries/{id}", (*handler).apiGetDelivery},
	{"GET", "/api/v1/deliveries/{id}/attempts", (*handler).apiListAttempts},
	{"GET", "/api/v1/deliveries/{id}/reports", (*handler).apiListReports},
	{"POST", "/api/v1/deliveries/{id}/redeliver", (*handler).apiRedeliver},
	{"GET", "/api/v1/events/{id}", (*handler).apiGetEvent},
	{"POST", "/api/v1/templates/preview", (*handler).apiPreview},
}

// listing is the JSON form of a page of a listing.
type listing[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next"`
}

func listingOf[T any](p webhook.Page[T]) listing[T] {
	if p.Items == nil {
		p.Items = []T{}
	}
	return listing[T]{Items: p.Items, Next: p.Next}
}

// api adapts an API route: it resolves the scope and answers errors as
// problem details.
func (h *handler) api(fn func(*handler, http.ResponseWriter, *http.Request, *scope) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := h.scopeFor(r)
		if err == nil {
			r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
			err = fn(h, w, r, s)
		}
		if err != nil {
			h.logError(r, err)
			writeProblem(w, err)
		}
	}
}

// queryLimit reads the limit query parameter.
func queryLimit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, badRequest("limit must be a positive integer", nil)
	}
	return n, nil
}

// queryState reads the state query parameter.
func queryState(v string) (webhook.DeliveryState, error) {
	switch st := webhook.DeliveryState(v); st {
	case "", webhook.StatePending, webhook.StateSucceeded, webhook.StateFailed, webhook.StateSkipped:
		return st, nil
	}
	return "", badRequest("state must be pending, succeeded, failed or skipped", nil)
}

func (h *handler) apiListEndpoints(w http.ResponseWriter, r *http.Request, s *scope) error {
	limit, err := queryLimit(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	page, err := s.endpoints(r.Context(), q.Get("tenant"), q.Get("cursor"), limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listingOf(page))
	return nil
}

func (h *handler) apiGetEndpoint(w http.ResponseWriter, r *http.Request, s *scope) error {
	ep, err := s.endpoint(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ep)
	return nil
}

// createdEndpoint is the answer to a PUT that created an endpoint: the
// endpoint's JSON form plus, once, the secret Hooklet generated for it.
func createdEndpoint(ep webhook.Endpoint, secret *webhook.Secret) (json.RawMessage, error) {
	b, err := json.Marshal(ep)
	if err != nil || secret == nil {
		return b, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	m["secret"], _ = json.Marshal(secret.Key)
	return json.Marshal(m)
}

// decodeEndpoint reads an endpoint from a request body. Headers are read
// apart, so that a [webhook.Redacted] value can keep a stored one; it
// reports whether the body has a "secrets" field.
func decodeEndpoint(body io.Reader) (webhook.Endpoint, bool, error) {
	var raw map[string]json.RawMessage
	if err := json.NewDecoder(body).Decode(&raw); err != nil {
		return webhook.Endpoint{}, false, badRequest("the body is not a JSON object", err)
	}
	var headers map[string]string
	if hb, ok := raw["headers"]; ok {
		if err := json.Unmarshal(hb, &headers); err != nil {
			return webhook.Endpoint{}, false, badRequest("headers must be an object of strings", err)
		}
		delete(raw, "headers")
	}
	_, secretsGiven := raw["secrets"]
	b, _ := json.Marshal(raw)
	var ep webhook.Endpoint
	if err := json.Unmarshal(b, &ep); err != nil {
		// Wraps webhook.ErrRedacted for a redacted secret key.
		return webhook.Endpoint{}, false, badRequest("invalid endpoint", err)
	}
	ep.Headers = headers
	return ep, secretsGiven, nil
}

func (h *handler) apiPutEndpoint(w http.ResponseWriter, r *http.Request, s *scope) error {
	ep, secretsGiven, err := decodeEndpoint(r.Body)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if ep.ID != "" && ep.ID != id {
		return badRequest("the body's id differs from the path's", webhook.ErrInvalidEndpoint)
	}
	ep.ID = id
	res, err := s.saveEndpoint(r.Context(), ep, secretsGiven)
	if err != nil {
		return err
	}
	b, err := createdEndpoint(res.Endpoint, res.NewSecret)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
	}
	writeJSON(w, status, b)
	return nil
}

func (h *handler) apiDeleteEndpoint(w http.ResponseWriter, r *http.Request, s *scope) error {
	if err := s.deleteEndpoint(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *handler) apiEnable(w http.ResponseWriter, r *http.Request, s *scope) error {
	ep, err := s.setDisabled(r.Context(), r.PathValue("id"), false)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ep)
	return nil
}

func (h *handler) apiDisable(w http.ResponseWriter, r *http.Request, s *scope) error {
	ep, err := s.setDisabled(r.Context(), r.PathValue("id"), true)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ep)
	return nil
}

func (h *handler) apiRotateSecret(w http.ResponseWriter, r *http.Request, s *scope) error {
	rot, err := s.rotateSecret(r.Context(), r.PathValue("id"), h.opts.RotationGrace)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rot)
	return nil
}

func (h *handler) apiTest(w http.ResponseWriter, r *http.Request, s *scope) error {
	te, err := s.sendTest(r.Context(), r.PathValue("id"), h.opts.TestEventType, h.now())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, te)
	return nil
}

// parseSince reads an RFC 3339 instant; empty means the zero time.
func parseSince(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, badRequest("since must be an RFC 3339 time", err)
	}
	return t, nil
}

// queryBool reads a boolean parameter; empty means false.
func queryBool(v string) (bool, error) {
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badRequest("want true or false", err)
	}
	return b, nil
}

func (h *handler) apiRedeliverFailed(w http.ResponseWriter, r *http.Request, s *scope) error {
	since, err := parseSince(r.URL.Query().Get("since"))
	if err != nil {
		return err
	}
	fresh, err := queryBool(r.URL.Query().Get("fresh_schedule"))
	if err != nil {
		return err
	}
	res, err := s.redeliverFailed(r.Context(), r.PathValue("id"), since, fresh)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (h *handler) apiHealth(w http.ResponseWriter, r *http.Request, s *scope) error {
	hl, err := s.health(r.Context(), r.PathValue("id"), h.now())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, hl)
	return nil
}

func (h *handler) apiListDeliveries(w http.ResponseWriter, r *http.Request, s *scope) error {
	q := r.URL.Query()
	limit, err := queryLimit(r)
	if err != nil {
		return err
	}
	st, err := queryState(q.Get("state"))
	if err != nil {
		return err
	}
	page, err := s.deliveries(r.Context(), deliveryFilter{
		State: st, EndpointID: q.Get("endpoint_id"), EventType: q.Get("event_type"),
		Cursor: q.Get("cursor"), Limit: limit,
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listingOf(page))
	return nil
}

func (h *handler) apiGetDelivery(w http.ResponseWriter, r *http.Request, s *scope) error {
	dl, err := s.delivery(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, dl)
	return nil
}

func (h *handler) apiListAttempts(w http.ResponseWriter, r *http.Request, s *scope) error {
	return writeDeliveryListing(w, r, s, func(ctx context.Context, id, cursor string, limit int) (webhook.Page[webhook.Attempt], error) {
		return s.d.Attempts(ctx, &webhook.ListAttemptsParams{DeliveryID: id, Cursor: cursor, Limit: limit})
	})
}

func (h *handler) apiListReports(w http.ResponseWriter, r *http.Request, s *scope) error {
	return writeDeliveryListing(w, r, s, func(ctx context.Context, id, cursor string, limit int) (webhook.Page[webhook.Report], error) {
		return s.d.Reports(ctx, &webhook.ListReportsParams{DeliveryID: id, Cursor: cursor, Limit: limit})
	})
}

// writeDeliveryListing answers with one page of the records of the delivery
// named in the path, listed by list after the delivery is found in s: the
// cursor is the query's, the limit the query's clamped.
func writeDeliveryListing[T any](w http.ResponseWriter, r *http.Request, s *scope, list func(ctx context.Context, id, cursor string, limit int) (webhook.Page[T], error)) error {
	limit, err := queryLimit(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if _, err := s.delivery(r.Context(), id); err != nil {
		return err
	}
	page, err := list(r.Context(), id, r.URL.Query().Get("cursor"), clampLimit(limit))
	if err != nil {
		return notFound(err)
	}
	writeJSON(w, http.StatusOK, listingOf(page))
	return nil
}

func (h *handler) apiRedeliver(w http.ResponseWriter, r *http.Request, s *scope) error {
	id := r.PathValue("id")
	if _, err := s.delivery(r.Context(), id); err != nil {
		return err
	}
	if err := s.d.Redeliver(r.Context(), id); err != nil {
		return notFound(err)
	}
	dl, err := s.d.Delivery(r.Context(), id)
	if err != nil {
		return notFound(err)
	}
	writeJSON(w, http.StatusAccepted, dl)
	return nil
}

func (h *handler) apiGetEvent(w http.ResponseWriter, r *http.Request, s *scope) error {
	ev, err := s.event(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ev)
	return nil
}

func (h *handler) apiPreview(w http.ResponseWriter, r *http.Request, s *scope) error {
	var req previewRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return badRequest("the body is not a preview request", err)
	}
	res, err := s.preview(r.Context(), h.opts.Transformer, req, h.now())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}
