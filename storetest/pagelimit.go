package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hooklet/webhook"
)

// pageLimitTotal is how many records the page-limit cases list: more than
// one page of the largest size.
const pageLimitTotal = webhook.PageLimitMax + 1

// listPage reads one page of a listing: its item count and Next cursor.
type listPage func(t *testing.T, s webhook.Store, cursor string, limit int) (int, string)

// pageLimitCase returns the subtest that pins [webhook.PageLimit] for one
// listing: seed stores pageLimitTotal records the listing returns.
func pageLimitCase(seed func(t *testing.T, s webhook.Store), list listPage) testCase {
	return testCase{"PageLimits", func(t *testing.T, s webhook.Store) {
		seed(t, s)
		for _, c := range []struct {
			limit, want int
		}{
			{0, webhook.PageLimitDefault},
			{-1, webhook.PageLimitDefault},
			{-webhook.PageLimitMax * 10, webhook.PageLimitDefault},
			{1, 1},
			{webhook.PageLimitMax, webhook.PageLimitMax},
			{webhook.PageLimitMax + 1, webhook.PageLimitMax},
			{1 << 30, webhook.PageLimitMax},
		} {
			require.Equal(t, c.want, webhook.PageLimit(c.limit), "PageLimit(%d)", c.limit)
			n, next := list(t, s, "", c.limit)
			require.Equal(t, c.want, n, "first page with Limit %d", c.limit)
			require.NotEmpty(t, next, "first page with Limit %d has no Next", c.limit)
		}
		// A clamped page is a page like the others: its cursor leads on.
		n, next := list(t, s, "", webhook.PageLimitMax+1)
		n2, next2 := list(t, s, next, webhook.PageLimitMax+1)
		require.Equal(t, pageLimitTotal, n+n2)
		require.Empty(t, next2, "Next must be empty on the last page")
	}}
}

func listEndpointsPageLimitCase() testCase {
	return pageLimitCase(func(t *testing.T, s webhook.Store) {
		for i := range pageLimitTotal {
			putEndpoint(t, s, minimalEndpoint(endpointID(i), ""))
		}
	}, func(t *testing.T, s webhook.Store, cursor string, limit int) (int, string) {
		p, err := s.ListEndpoints(t.Context(), &webhook.ListEndpointsParams{Cursor: cursor, Limit: limit})
		require.NoError(t, err)
		return len(p.Items), p.Next
	})
}

func listDeliveriesPageLimitCase() testCase {
	return pageLimitCase(func(t *testing.T, s webhook.Store) {
		seedMany(t, s, pageLimitTotal, base)
	}, func(t *testing.T, s webhook.Store, cursor string, limit int) (int, string) {
		p, err := s.ListDeliveries(t.Context(), &webhook.ListDeliveriesParams{Cursor: cursor, Limit: limit})
		require.NoError(t, err)
		return len(p.Items), p.Next
	})
}

func listAttemptsPageLimitCase() testCase {
	id := deliveryID(1)
	return pageLimitCase(func(t *testing.T, s webhook.Store) {
		seedOne(t, s, 1, endpointID(0), base)
		l := leaseOne(t, s, "owner", base, at(time.Minute), id)
		atts := make([]webhook.Attempt, pageLimitTotal)
		for i := range atts {
			atts[i] = attempt(id, i+1, base.Add(time.Duration(i)*time.Millisecond), 500)
			atts[i].Error = fmt.Sprintf("status 500 (%d)", i+1)
		}
		complete(t, s, at(time.Second), webhook.Outcome{Lease: ref(l), Attempts: atts, State: webhook.StateFailed})
	}, func(t *testing.T, s webhook.Store, cursor string, limit int) (int, string) {
		p, err := s.ListAttempts(t.Context(), &webhook.ListAttemptsParams{DeliveryID: id, Cursor: cursor, Limit: limit})
		require.NoError(t, err)
		return len(p.Items), p.Next
	})
}
