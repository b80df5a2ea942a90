package admin

import (
	"context"
	"errors"

	webhook "github.com/hooklet/webhook"
)

// Page sizes of the listings.
const (
	// LimitDefault is the page size of a listing that names none.
	LimitDefault = 50
	// LimitMax is the largest page size a listing serves.
	LimitMax = 500
	// scanMin and scanMax bound how many deliveries one filtered listing
	// reads: a filter the store cannot apply (the tenant) may return a
	// short page, with a cursor to continue.
	scanMin = 1000
	scanMax = 10000
)

// deliveryFilter selects deliveries for a listing.
type deliveryFilter struct {
	State      webhook.DeliveryState
	EndpointID string
	EventType  string
	Cursor     string
	Limit      int
}

// clampLimit returns n within [1, LimitMax], LimitDefault for 0.
func clampLimit(n int) int {
	switch {
	case n <= 0:
		return LimitDefault
	case n > LimitMax:
		return LimitMax
	}
	return n
}

// endpoints lists the endpoints in scope. In portal mode tenant is
// ignored: the portal's tenant is used.
func (s *scope) endpoints(ctx context.Context, tenant, cursor string, limit int) (webhook.Page[webhook.Endpoint], error) {
	if s.portal {
		tenant = s.tenant
	}
	return s.d.Endpoints(ctx, &webhook.ListEndpointsParams{Tenant: tenant, Cursor: cursor, Limit: clampLimit(limit)})
}

// deliveries lists the deliveries in scope that match f, in ID order. The
// store filters by state, endpoint and event type; in portal mode without
// an endpoint filter, the tenant is checked here, reading at most scanMax
// deliveries per call. The cursor of a delivery listing is the ID
// of the last delivery read, as every store of this module keeps it.
func (s *scope) deliveries(ctx context.Context, f deliveryFilter) (webhook.Page[webhook.Delivery], error) {
	f.Limit = clampLimit(f.Limit)
	p := &webhook.ListDeliveriesParams{State: f.State, EndpointID: f.EndpointID, EventType: f.EventType, Cursor: f.Cursor, Limit: f.Limit}
	checkTenant := s.portal
	if f.EndpointID != "" {
		if _, err := s.endpoint(ctx, f.EndpointID); err != nil {
			if errors.Is(err, webhook.ErrNotFound) {
				// A foreign or deleted endpoint lists nothing, the same way.
				return webhook.Page[webhook.Delivery]{Items: []webhook.Delivery{}}, nil
			}
			return webhook.Page[webhook.Delivery]{}, err
		}
		checkTenant = false
	}
	if !checkTenant {
		page, err := s.d.Deliveries(ctx, p)
		if page.Items == nil {
			page.Items = []webhook.Delivery{}
		}
		return page, err
	}
	budget := min(max(20*f.Limit, scanMin), scanMax)
	tenants := map[string]*string{}
	out := webhook.Page[webhook.Delivery]{Items: []webhook.Delivery{}}
	for scanned := 0; scanned < budget; {
		page, err := s.d.Deliveries(ctx, p)
		if err != nil {
			return webhook.Page[webhook.Delivery]{}, err
		}
		for i := range page.Items {
			dl := &page.Items[i]
			scanned++
			ok, err := s.ownsDelivery(ctx, dl, tenants)
			if err != nil {
				return webhook.Page[webhook.Delivery]{}, err
			}
			if ok {
				out.Items = append(out.Items, *dl)
			}
			last := i == len(page.Items)-1
			if len(out.Items) == f.Limit || scanned == budget {
				if !last || page.Next != "" {
					out.Next = dl.ID
				}
				return out, nil
			}
		}
		if page.Next == "" {
			return out, nil
		}
		p.Cursor = page.Next
	}
	return out, nil
}

// eventType returns the type of an event, "" when it is gone, caching it.
func (s *scope) eventType(ctx context.Context, id string, cache map[string]string) (string, error) {
	if t, ok := cache[id]; ok {
		return t, nil
	}
	ev, err := s.d.Event(ctx, id)
	if err != nil && !errors.Is(err, webhook.ErrNotFound) {
		return "", err
	}
	cache[id] = ev.Type
	return ev.Type, nil
}
