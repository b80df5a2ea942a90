package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hooklet/webhook"
)

// calls makes one call to every Store method and returns its error.
func calls(s webhook.Store) map[string]func(ctx context.Context) error {
	return map[string]func(ctx context.Context) error{
		"PutEndpoint": func(ctx context.Context) error {
			return s.PutEndpoint(ctx, &webhook.PutEndpointParams{Endpoint: minimalEndpoint("ep_new", "")})
		},
		"GetEndpoint": func(ctx context.Context) error {
			_, err := s.GetEndpoint(ctx, &webhook.GetEndpointParams{ID: endpointID(0)})
			return err
		},
		"DeleteEndpoint": func(ctx context.Context) error {
			return s.DeleteEndpoint(ctx, &webhook.DeleteEndpointParams{ID: endpointID(0)})
		},
		"ListEndpoints": func(ctx context.Context) error {
			_, err := s.ListEndpoints(ctx, &webhook.ListEndpointsParams{})
			return err
		},
		"Enqueue": func(ctx context.Context) error {
			return s.Enqueue(ctx, &webhook.EnqueueParams{Now: base, Items: []webhook.EnqueueItem{
				item(newEvent("evt_new"), newDelivery("dlv_new", "evt_new", "ep_a", base))}})
		},
		"Lease": func(ctx context.Context) error {
			_, err := s.Lease(ctx, &webhook.LeaseParams{Owner: "a", Now: base, Until: at(time.Minute), Limit: 10})
			return err
		},
		"ExtendLeases": func(ctx context.Context) error {
			_, err := s.ExtendLeases(ctx, &webhook.ExtendLeasesParams{Now: base, Until: at(time.Minute),
				Leases: []webhook.LeaseRef{{DeliveryID: deliveryID(0), Token: "t"}}})
			return err
		},
		"Complete": func(ctx context.Context) error {
			_, err := s.Complete(ctx, &webhook.CompleteParams{Now: base, Outcomes: []webhook.Outcome{
				{Lease: webhook.LeaseRef{DeliveryID: deliveryID(0), Token: "t"}, State: webhook.StateSucceeded}}})
			return err
		},
		"Release": func(ctx context.Context) error {
			return s.Release(ctx, &webhook.ReleaseParams{Now: base,
				Leases: []webhook.LeaseRef{{DeliveryID: deliveryID(0), Token: "t"}}})
		},
		"NextDue": func(ctx context.Context) error {
			_, _, err := s.NextDue(ctx, &webhook.NextDueParams{Now: base})
			return err
		},
		"GetEvent": func(ctx context.Context) error {
			_, err := s.GetEvent(ctx, &webhook.GetEventParams{ID: eventID(0)})
			return err
		},
		"GetDelivery": func(ctx context.Context) error {
			_, err := s.GetDelivery(ctx, &webhook.GetDeliveryParams{ID: deliveryID(0)})
			return err
		},
		"ListDeliveries": func(ctx context.Context) error {
			_, err := s.ListDeliveries(ctx, &webhook.ListDeliveriesParams{})
			return err
		},
		"ListAttempts": func(ctx context.Context) error {
			_, err := s.ListAttempts(ctx, &webhook.ListAttemptsParams{DeliveryID: deliveryID(0)})
			return err
		},
		"Redeliver": func(ctx context.Context) error {
			return s.Redeliver(ctx, &webhook.RedeliverParams{DeliveryID: deliveryID(0), Now: base})
		},
		"Prune": func(ctx context.Context) error {
			_, err := s.Prune(ctx, &webhook.PruneParams{Before: farFuture, Limit: 10})
			return err
		},
	}
}

func contextCases() []testCase {
	return []testCase{
		{"CancelledWritesNothing", func(t *testing.T, s webhook.Store) {
			// A call whose ctx is already done fails with the context's
			// error and changes nothing.
			putEndpoint(t, s, minimalEndpoint(endpointID(0), ""))
			seedOne(t, s, 0, "ep_a", base)
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			for name, call := range calls(s) {
				require.ErrorIs(t, call(ctx), context.Canceled, name)
			}
			_, err := s.GetEndpoint(t.Context(), &webhook.GetEndpointParams{ID: "ep_new"})
			require.ErrorIs(t, err, webhook.ErrNotFound)
			getEndpoint(t, s, endpointID(0))
			requireNoEvent(t, s, "evt_new")
			d := getDelivery(t, s, deliveryID(0))
			require.Equal(t, webhook.StatePending, d.State)
			leaseOne(t, s, "a", base, at(time.Minute), deliveryID(0))
		}},
	}
}

func closeCases() []testCase {
	return []testCase{
		{"MethodsReturnErrClosed", func(t *testing.T, s webhook.Store) {
			c := s.(closer)
			seedOne(t, s, 0, "ep_a", base)
			require.NoError(t, c.Close())
			for name, call := range calls(s) {
				require.ErrorIs(t, call(t.Context()), webhook.ErrClosed, name)
			}
		}},
		{"SecondCloseIsNil", func(t *testing.T, s webhook.Store) {
			c := s.(closer)
			require.NoError(t, c.Close())
			require.NoError(t, c.Close())
			_, err := s.GetEvent(t.Context(), &webhook.GetEventParams{ID: eventID(0)})
			require.ErrorIs(t, err, webhook.ErrClosed)
		}},
	}
}
