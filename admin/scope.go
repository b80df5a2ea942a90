package admin

import (
	"context"
	"errors"

	webhook "github.com/hooklet/webhook"
)

// scope is what one request may see: every record in operator mode, one
// tenant's in portal mode. Records outside it are reported as
// [errNotFound], exactly like missing ones.
type scope struct {
	d      *webhook.Dispatcher
	portal bool
	tenant string // the portal's tenant; empty in operator mode
}

// maxEventOwnerScan bounds the deliveries read to decide whether a tenant
// may see an event that carries no tenant.
const maxEventOwnerScan = 1000

// endpoint returns the endpoint id when it is in scope.
func (s *scope) endpoint(ctx context.Context, id string) (webhook.Endpoint, error) {
	ep, err := s.d.Endpoint(ctx, id)
	if err != nil {
		return webhook.Endpoint{}, notFound(err)
	}
	if s.portal && ep.Tenant != s.tenant {
		return webhook.Endpoint{}, errNotFound
	}
	return ep, nil
}

// delivery returns the delivery id when it is in scope.
func (s *scope) delivery(ctx context.Context, id string) (webhook.Delivery, error) {
	dl, err := s.d.Delivery(ctx, id)
	if err != nil {
		return webhook.Delivery{}, notFound(err)
	}
	ok, err := s.ownsDelivery(ctx, &dl, nil)
	if err != nil {
		return webhook.Delivery{}, err
	}
	if !ok {
		return webhook.Delivery{}, errNotFound
	}
	return dl, nil
}

// ownsDelivery reports whether dl is in scope: its endpoint belongs to the
// tenant or, once the endpoint is deleted, its event does. tenants caches
// endpoint tenants across calls; it may be nil.
func (s *scope) ownsDelivery(ctx context.Context, dl *webhook.Delivery, tenants map[string]*string) (bool, error) {
	if !s.portal {
		return true, nil
	}
	t, err := s.endpointTenant(ctx, dl.EndpointID, tenants)
	if err != nil {
		return false, err
	}
	if t != nil {
		return *t == s.tenant, nil
	}
	ev, err := s.d.Event(ctx, dl.EventID)
	if errors.Is(err, webhook.ErrNotFound) {
		return false, nil
	}
	return err == nil && ev.Tenant == s.tenant, err
}

// endpointTenant returns the tenant of an endpoint, nil when the endpoint
// no longer exists.
func (s *scope) endpointTenant(ctx context.Context, id string, cache map[string]*string) (*string, error) {
	if t, ok := cache[id]; ok {
		return t, nil
	}
	var t *string
	ep, err := s.d.Endpoint(ctx, id)
	switch {
	case err == nil:
		t = &ep.Tenant
	case !errors.Is(err, webhook.ErrNotFound):
		return nil, err
	}
	if cache != nil {
		cache[id] = t
	}
	return t, nil
}

// event returns the event id when it is in scope: in portal mode, an event
// of the tenant, or an event without a tenant that was fanned out to one of
// the tenant's endpoints.
func (s *scope) event(ctx context.Context, id string) (webhook.Event, error) {
	ev, err := s.d.Event(ctx, id)
	if err != nil {
		return webhook.Event{}, notFound(err)
	}
	if !s.portal || ev.Tenant == s.tenant {
		return ev, nil
	}
	if ev.Tenant != "" {
		return webhook.Event{}, errNotFound
	}
	tenants := map[string]*string{}
	p := &webhook.ListDeliveriesParams{EventID: id, Limit: 100}
	for scanned := 0; scanned < maxEventOwnerScan; {
		page, err := s.d.Deliveries(ctx, p)
		if err != nil {
			return webhook.Event{}, err
		}
		for i := range page.Items {
			t, err := s.endpointTenant(ctx, page.Items[i].EndpointID, tenants)
			if err != nil {
				return webhook.Event{}, err
			}
			if t != nil && *t == s.tenant {
				return ev, nil
			}
		}
		scanned += len(page.Items)
		if page.Next == "" {
			break
		}
		p.Cursor = page.Next
	}
	return webhook.Event{}, errNotFound
}

// notFound turns a store's ErrNotFound into [errNotFound] and passes other
// errors through.
func notFound(err error) error {
	if errors.Is(err, webhook.ErrNotFound) {
		return errNotFound
	}
	return err
}
