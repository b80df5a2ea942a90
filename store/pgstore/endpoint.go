package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	webhook "github.com/hooklet/webhook"
)

const endpointColumns = `id, tenant, url, description, event_types, template, content_type, settings,
	headers, secret_keys, secret_expires, disabled, disabled_reason, max_concurrency, retry,
	created_at, updated_at, signature_kind, signature_header, signature_prefix, unsigned, ordered, filter,
	rate_limit, rate_burst, failing_since, ack_timeout_ns, batch_max_events, batch_max_bytes, batch_max_wait`

// PutEndpoint creates or replaces an endpoint and notifies the other
// processes sharing the database. With IfUpdatedAt set, it replaces the
// stored endpoint only if its UpdatedAt is that instant to the microsecond
// (the precision the store keeps, so the UpdatedAt GetEndpoint returns
// always matches), and otherwise returns an error wrapping
// [webhook.ErrConflict], or [webhook.ErrNotFound] when there is none.
func (s *Store) PutEndpoint(ctx context.Context, p *webhook.PutEndpointParams) error {
	if err := s.check(); err != nil {
		return err
	}
	ep := &p.Endpoint
	// Secrets are stored column by column, never through a JSON form of
	// webhook.Secret.
	keys := make([]string, len(ep.Secrets))
	expires := make([]pgtype.Timestamptz, len(ep.Secrets))
	for i, sec := range ep.Secrets {
		keys[i] = sec.Key
		if !sec.ExpiresAt.IsZero() {
			expires[i] = pgtype.Timestamptz{Time: sec.ExpiresAt, Valid: true}
		}
	}
	var headers, retry []byte
	var err error
	if ep.Headers != nil {
		// encoding/json would store invalid UTF-8 rewritten.
		if !validMap(ep.Headers) {
			return fmt.Errorf("pgstore: put endpoint: %w: a header is not valid UTF-8", webhook.ErrInvalidEndpoint)
		}
		if headers, err = json.Marshal(ep.Headers); err != nil {
			return fmt.Errorf("pgstore: put endpoint: headers: %w", err)
		}
	}
	if ep.Retry != nil {
		q := ep.Retry.Quick
		if retry, err = json.Marshal(retryRecord{
			Schedule: ep.Retry.Schedule, Jitter: ep.Retry.Jitter,
			MaxRetryAfter: ep.Retry.MaxRetryAfter, StopOnClientError: ep.Retry.StopOnClientError,
			QuickTries: q.Tries, QuickInitial: q.Initial, QuickMax: q.Max, QuickJitter: q.Jitter,
			QuickGiveUpAfter: q.GiveUpAfter,
		}); err != nil {
			return fmt.Errorf("pgstore: put endpoint: retry: %w", err)
		}
	}
	eventTypes := ep.EventTypes
	if eventTypes == nil {
		eventTypes = []string{}
	}
	var settings, filter []byte
	if ep.Settings != nil {
		settings = []byte(ep.Settings)
	}
	if ep.Filter != nil {
		filter = []byte(ep.Filter)
	}
	args := []any{
		ep.ID, ep.Tenant, ep.URL, ep.Description, eventTypes, ep.Template, ep.ContentType, settings,
		nullJSON(headers), keys, expires, ep.Disabled, ep.DisabledReason, ep.MaxConcurrency, nullJSON(retry),
		ep.CreatedAt, ep.UpdatedAt, string(ep.Signature.Kind), ep.Signature.Header, ep.Signature.Prefix,
		ep.Unsigned, s.channel,
	}
	lane := []any{ep.RateLimit, ep.RateBurst, pgtype.Timestamptz{Time: ep.FailingSince, Valid: !ep.FailingSince.IsZero()}}
	// Appended after the columns of earlier migrations, in their order.
	later := []any{int64(ep.AckTimeout), ep.Batch.MaxEvents, ep.Batch.MaxBytes, int64(ep.Batch.MaxWait)}
	if p.IfUpdatedAt.IsZero() {
		_, err = s.pool.Exec(ctx, s.q.putEndpoint, append(append(append(args, ep.Ordered, filter), lane...), later...)...)
		return wrapInput("put endpoint", err, webhook.ErrInvalidEndpoint)
	}
	var written, found bool
	err = s.pool.QueryRow(ctx, s.q.putEndpointIf, append(append(append(args, p.IfUpdatedAt, ep.Ordered, filter), lane...), later...)...).Scan(&written, &found, nil)
	switch {
	case err != nil:
		return wrapInput("put endpoint", err, webhook.ErrInvalidEndpoint)
	case written:
		return nil
	case !found:
		return fmt.Errorf("pgstore: put endpoint %q: %w", ep.ID, webhook.ErrNotFound)
	}
	return fmt.Errorf("pgstore: put endpoint %q: %w: changed since it was read", ep.ID, webhook.ErrConflict)
}

// GetEndpoint returns one endpoint or an error wrapping webhook.ErrNotFound.
func (s *Store) GetEndpoint(ctx context.Context, p *webhook.GetEndpointParams) (webhook.Endpoint, error) {
	if err := s.check(); err != nil {
		return webhook.Endpoint{}, err
	}
	rows, _ := s.pool.Query(ctx, "SELECT "+endpointColumns+" FROM "+s.q.schema+".endpoints WHERE id = $1", p.ID)
	ep, err := pgx.CollectExactlyOneRow(rows, scanEndpoint)
	return ep, wrap("get endpoint", err)
}

// DeleteEndpoint removes an endpoint, or returns an error wrapping
// webhook.ErrNotFound, and notifies the other processes. Its deliveries stay.
func (s *Store) DeleteEndpoint(ctx context.Context, p *webhook.DeleteEndpointParams) error {
	if err := s.check(); err != nil {
		return err
	}
	var id string
	err := s.pool.QueryRow(ctx, s.q.deleteEndpoint, p.ID, s.channel).Scan(&id, nil)
	return wrap("delete endpoint", err)
}

// ListEndpoints returns endpoints in ID order, a page at a time. The cursor
// is the last ID of the previous page. A tenant's page is read through the
// (tenant, id) index.
func (s *Store) ListEndpoints(ctx context.Context, p *webhook.ListEndpointsParams) (webhook.Page[webhook.Endpoint], error) {
	if err := s.check(); err != nil {
		return webhook.Page[webhook.Endpoint]{}, err
	}
	limit := webhook.PageLimit(p.Limit)
	// Two statements rather than one with "$2 = '' OR tenant = $2", whose
	// generic plan could not use the (tenant, id) index.
	var rows pgx.Rows
	if p.Tenant == "" {
		rows, _ = s.pool.Query(ctx, "SELECT "+endpointColumns+" FROM "+s.q.schema+`.endpoints
			WHERE id > $1 ORDER BY id LIMIT $2`, p.Cursor, limit+1)
	} else {
		rows, _ = s.pool.Query(ctx, "SELECT "+endpointColumns+" FROM "+s.q.schema+`.endpoints
			WHERE tenant = $1 AND id > $2 ORDER BY tenant, id LIMIT $3`, p.Tenant, p.Cursor, limit+1)
	}
	eps, err := pgx.CollectRows(rows, scanEndpoint)
	if err != nil {
		return webhook.Page[webhook.Endpoint]{}, wrap("list endpoints", err)
	}
	return page(eps, limit, func(ep webhook.Endpoint) string { return ep.ID }), nil
}

// retryRecord is the stored form of a webhook.RetryPolicy.
type retryRecord struct {
	Schedule          []time.Duration `json:"schedule"`
	Jitter            float64         `json:"jitter"`
	MaxRetryAfter     time.Duration   `json:"max_retry_after"`
	StopOnClientError bool            `json:"stop_on_client_error"`
	QuickTries        int             `json:"quick_tries,omitempty"`
	QuickInitial      time.Duration   `json:"quick_initial,omitempty"`
	QuickMax          time.Duration   `json:"quick_max,omitempty"`
	QuickJitter       float64         `json:"quick_jitter,omitempty"`
	QuickGiveUpAfter  time.Duration   `json:"quick_give_up_after,omitempty"`
}

func scanEndpoint(row pgx.CollectableRow) (webhook.Endpoint, error) {
	var (
		ep       webhook.Endpoint
		settings []byte
		headers  []byte
		keys     []string
		expires  []pgtype.Timestamptz
		retry    []byte
		sigKind  string
		filter   []byte
		failing  pgtype.Timestamptz
		ackNS    int64
	)
	err := row.Scan(&ep.ID, &ep.Tenant, &ep.URL, &ep.Description, &ep.EventTypes, &ep.Template, &ep.ContentType,
		&settings, &headers, &keys, &expires, &ep.Disabled, &ep.DisabledReason, &ep.MaxConcurrency, &retry,
		&ep.CreatedAt, &ep.UpdatedAt, &sigKind, &ep.Signature.Header, &ep.Signature.Prefix, &ep.Unsigned, &ep.Ordered, &filter,
		&ep.RateLimit, &ep.RateBurst, &failing, &ackNS, &ep.Batch.MaxEvents, &ep.Batch.MaxBytes, &ep.Batch.MaxWait)
	if err != nil {
		return ep, err
	}
	ep.Signature.Kind = webhook.SignatureKind(sigKind)
	if len(ep.EventTypes) == 0 {
		ep.EventTypes = nil
	}
	if settings != nil {
		ep.Settings = json.RawMessage(settings)
	}
	if filter != nil {
		ep.Filter = json.RawMessage(filter)
	}
	if headers != nil {
		if err := json.Unmarshal(headers, &ep.Headers); err != nil {
			return ep, fmt.Errorf("headers: %w", err)
		}
	}
	if len(keys) > 0 {
		ep.Secrets = make([]webhook.Secret, len(keys))
		for i, k := range keys {
			ep.Secrets[i].Key = k
			if i < len(expires) && expires[i].Valid {
				ep.Secrets[i].ExpiresAt = expires[i].Time.UTC()
			}
		}
	}
	if retry != nil {
		var r retryRecord
		if err := json.Unmarshal(retry, &r); err != nil {
			return ep, fmt.Errorf("retry: %w", err)
		}
		ep.Retry = &webhook.RetryPolicy{Schedule: r.Schedule, Jitter: r.Jitter,
			MaxRetryAfter: r.MaxRetryAfter, StopOnClientError: r.StopOnClientError,
			Quick: webhook.QuickRetry{Tries: r.QuickTries, Initial: r.QuickInitial, Max: r.QuickMax,
				Jitter: r.QuickJitter, GiveUpAfter: r.QuickGiveUpAfter}}
	}
	if failing.Valid {
		ep.FailingSince = failing.Time.UTC()
	}
	ep.AckTimeout = time.Duration(ackNS)
	ep.CreatedAt = ep.CreatedAt.UTC()
	ep.UpdatedAt = ep.UpdatedAt.UTC()
	return ep, nil
}

// validMap reports whether every key and value of m is valid UTF-8, which
// a JSON document keeps as is.
func validMap(m map[string]string) bool {
	for k, v := range m {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return false
		}
	}
	return true
}

// nullJSON turns an absent JSON document into SQL NULL.
func nullJSON(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

// page cuts items (fetched with one extra row) to limit and sets the cursor
// of the next page.
func page[T any](items []T, limit int, key func(T) string) webhook.Page[T] {
	if len(items) <= limit {
		return webhook.Page[T]{Items: items}
	}
	items = items[:limit]
	return webhook.Page[T]{Items: items, Next: key(items[limit-1])}
}
