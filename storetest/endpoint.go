package storetest

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hooklet/webhook"
)

// fullEndpoint returns an endpoint with every field set.
func fullEndpoint(id string) webhook.Endpoint {
	return webhook.Endpoint{
		ID:          id,
		Tenant:      "acme",
		URL:         "https://hooks.example.com/in?x=1",
		Description: "billing — production ✓",
		EventTypes:  []string{"invoice.*", "customer.created"},
		Filter:      json.RawMessage(`{"data.amount": {"$gte": 100},  "$or": [{"attributes.kind": "x"}]}`),
		Template:    "local event = import \"lytemplates.libsonnet\";\n{ email: event.get(\"email\", \"\") }\n",
		ContentType: "application/x-ndjson",
		Settings:    json.RawMessage(`{"region":"eu",  "batch": [1, 2]}`),
		Headers:     map[string]string{"Authorization": "Bearer abc", "X-Tenant": "acme"},
		Secrets: []webhook.Secret{
			{Key: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", ExpiresAt: at(24 * time.Hour)},
			{Key: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"},
		},
		Disabled:       true,
		DisabledReason: "410 Gone",
		MaxConcurrency: 7,
		Ordered:        true,
		RateLimit:      12.5,
		RateBurst:      3,
		FailingSince:   at(-30 * time.Minute),
		AckTimeout:     15 * time.Minute,
		Signature:      webhook.SignatureScheme{Kind: webhook.SignatureHMACHex, Header: "X-Signature", Prefix: "sha256="},
		Retry: &webhook.RetryPolicy{
			Schedule:          []time.Duration{time.Second, 90 * time.Second, 2 * time.Hour},
			Jitter:            -1,
			MaxRetryAfter:     30 * time.Minute,
			StopOnClientError: true,
			Quick: webhook.QuickRetry{Tries: 3, Initial: 100 * time.Millisecond, Max: time.Second,
				Jitter: 0.5, GiveUpAfter: 4 * time.Second},
		},
		CreatedAt: at(-time.Hour),
		UpdatedAt: at(-time.Minute),
	}
}

// minimalEndpoint returns an endpoint with only the required fields.
func minimalEndpoint(id, tenant string) webhook.Endpoint {
	return webhook.Endpoint{ID: id, Tenant: tenant, URL: "https://example.com/" + id, CreatedAt: base, UpdatedAt: base}
}

func putEndpoint(t *testing.T, s webhook.Store, ep webhook.Endpoint) {
	t.Helper()
	require.NoError(t, s.PutEndpoint(t.Context(), &webhook.PutEndpointParams{Endpoint: ep}))
}

func getEndpoint(t *testing.T, s webhook.Store, id string) webhook.Endpoint {
	t.Helper()
	ep, err := s.GetEndpoint(t.Context(), &webhook.GetEndpointParams{ID: id})
	require.NoError(t, err)
	return ep
}

func requireSameEndpoint(t *testing.T, want, got webhook.Endpoint) {
	t.Helper()
	require.Equal(t, normEndpoint(want), normEndpoint(got))
}

func allEndpoints(t *testing.T, s webhook.Store, tenant string, limit int) []webhook.Endpoint {
	t.Helper()
	return collect(t, func(cursor string) (webhook.Page[webhook.Endpoint], error) {
		return s.ListEndpoints(t.Context(), &webhook.ListEndpointsParams{Tenant: tenant, Cursor: cursor, Limit: limit})
	}, limit)
}

func endpointIDs(eps []webhook.Endpoint) []string {
	ids := make([]string, len(eps))
	for i, ep := range eps {
		ids[i] = ep.ID
	}
	return ids
}

func putEndpointCases() []testCase {
	return []testCase{
		{"RoundTripsEveryField", func(t *testing.T, s webhook.Store) {
			want := fullEndpoint("ep_full")
			putEndpoint(t, s, want)
			got := getEndpoint(t, s, "ep_full")
			requireSameEndpoint(t, want, got)
			// Secret keys are stored in full even though Secret redacts
			// itself when printed.
			require.Equal(t, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", got.Secrets[0].Key)
			// Settings are kept byte for byte, not re-encoded.
			require.Equal(t, `{"region":"eu",  "batch": [1, 2]}`, string(got.Settings))
		}},
		{"RoundTripsMinimal", func(t *testing.T, s webhook.Store) {
			want := minimalEndpoint("ep_min", "")
			putEndpoint(t, s, want)
			got := getEndpoint(t, s, "ep_min")
			requireSameEndpoint(t, want, got)
			require.Nil(t, got.Retry, "a nil Retry must come back nil (the dispatcher's policy applies)")
		}},
		{"RoundTripsUnsigned", func(t *testing.T, s webhook.Store) {
			want := minimalEndpoint("ep_unsigned", "")
			want.Unsigned = true
			putEndpoint(t, s, want)
			got := getEndpoint(t, s, "ep_unsigned")
			requireSameEndpoint(t, want, got)
			require.True(t, got.Unsigned)

			// Replacing it with a signed version clears the flag.
			want = fullEndpoint("ep_unsigned")
			putEndpoint(t, s, want)
			require.False(t, getEndpoint(t, s, "ep_unsigned").Unsigned)
		}},
		{"KeepsEmptyRetrySchedule", func(t *testing.T, s webhook.Store) {
			// A nil Schedule means the default schedule; an empty one
			// means a single attempt. The store must keep them apart.
			ep := minimalEndpoint("ep_once", "")
			ep.Retry = &webhook.RetryPolicy{Schedule: []time.Duration{}}
			putEndpoint(t, s, ep)
			got := getEndpoint(t, s, "ep_once")
			require.NotNil(t, got.Retry)
			require.NotNil(t, got.Retry.Schedule, "empty schedule came back nil")
			require.Empty(t, got.Retry.Schedule)

			ep2 := minimalEndpoint("ep_default", "")
			ep2.Retry = &webhook.RetryPolicy{Jitter: 0.25}
			putEndpoint(t, s, ep2)
			got2 := getEndpoint(t, s, "ep_default")
			require.NotNil(t, got2.Retry)
			require.Nil(t, got2.Retry.Schedule, "nil schedule came back non-nil")
			require.InDelta(t, 0.25, got2.Retry.Jitter, 0)
		}},
		{"ReplacesWhole", func(t *testing.T, s webhook.Store) {
			// The store keeps records as given: a replacement overwrites
			// every field, CreatedAt included. Keeping the original
			// CreatedAt is the dispatcher's job.
			putEndpoint(t, s, fullEndpoint("ep_1"))
			repl := minimalEndpoint("ep_1", "other")
			repl.CreatedAt, repl.UpdatedAt = at(time.Hour), at(2*time.Hour)
			putEndpoint(t, s, repl)
			got := getEndpoint(t, s, "ep_1")
			requireSameEndpoint(t, repl, got)
			require.Nil(t, got.Retry)
			eps := allEndpoints(t, s, "", 0)
			require.Len(t, eps, 1, "replacing created a second endpoint")
		}},
		{"CopiesInput", func(t *testing.T, s webhook.Store) {
			ep := fullEndpoint("ep_1")
			want := normEndpoint(fullEndpoint("ep_1"))
			putEndpoint(t, s, ep)
			// The caller owns its record again once the call returns.
			ep.EventTypes[0] = "changed"
			ep.Settings[2] = 'X'
			ep.Headers["Authorization"] = "changed"
			ep.Headers["X-New"] = "1"
			ep.Secrets[0].Key = "changed"
			ep.Retry.Schedule[0] = time.Hour
			ep.Retry.Jitter = 0.5
			requireSameEndpoint(t, want, getEndpoint(t, s, "ep_1"))
		}},
	}
}

func getEndpointCases() []testCase {
	return []testCase{
		{"NotFound", func(t *testing.T, s webhook.Store) {
			_, err := s.GetEndpoint(t.Context(), &webhook.GetEndpointParams{ID: "ep_missing"})
			require.ErrorIs(t, err, webhook.ErrNotFound)
		}},
		{"ReturnsCopy", func(t *testing.T, s webhook.Store) {
			putEndpoint(t, s, fullEndpoint("ep_1"))
			got := getEndpoint(t, s, "ep_1")
			got.EventTypes[0] = "changed"
			got.Settings[2] = 'X'
			got.Headers["Authorization"] = "changed"
			got.Secrets[0].Key = "changed"
			got.Retry.Schedule[0] = time.Hour
			got.Retry.StopOnClientError = false
			requireSameEndpoint(t, fullEndpoint("ep_1"), getEndpoint(t, s, "ep_1"))

			page, err := s.ListEndpoints(t.Context(), &webhook.ListEndpointsParams{})
			require.NoError(t, err)
			require.Len(t, page.Items, 1)
			page.Items[0].Headers["Authorization"] = "changed"
			page.Items[0].Secrets[0].Key = "changed"
			requireSameEndpoint(t, fullEndpoint("ep_1"), getEndpoint(t, s, "ep_1"))
		}},
	}
}

func deleteEndpointCases() []testCase {
	return []testCase{
		{"Removes", func(t *testing.T, s webhook.Store) {
			putEndpoint(t, s, minimalEndpoint("ep_1", ""))
			putEndpoint(t, s, minimalEndpoint("ep_2", ""))
			require.NoError(t, s.DeleteEndpoint(t.Context(), &webhook.DeleteEndpointParams{ID: "ep_1"}))
			_, err := s.GetEndpoint(t.Context(), &webhook.GetEndpointParams{ID: "ep_1"})
			require.ErrorIs(t, err, webhook.ErrNotFound)
			require.Equal(t, []string{"ep_2"}, endpointIDs(allEndpoints(t, s, "", 0)))
			// Deleting again finds nothing.
			err = s.DeleteEndpoint(t.Context(), &webhook.DeleteEndpointParams{ID: "ep_1"})
			require.ErrorIs(t, err, webhook.ErrNotFound)
		}},
		{"NotFound", func(t *testing.T, s webhook.Store) {
			err := s.DeleteEndpoint(t.Context(), &webhook.DeleteEndpointParams{ID: "ep_missing"})
			require.ErrorIs(t, err, webhook.ErrNotFound)
		}},
		{"KeepsDeliveries", func(t *testing.T, s webhook.Store) {
			// Deliveries stay when their endpoint goes, so a store must
			// not tie deliveries to endpoints (no cascading delete, no
			// foreign key that blocks the delete).
			putEndpoint(t, s, minimalEndpoint(endpointID(0), ""))
			id := seedOne(t, s, 1, endpointID(0), base)
			require.NoError(t, s.DeleteEndpoint(t.Context(), &webhook.DeleteEndpointParams{ID: endpointID(0)}))
			d := getDelivery(t, s, id)
			require.Equal(t, webhook.StatePending, d.State)
			leaseOne(t, s, "owner", base, at(time.Minute), id)
		}},
	}
}

func listEndpointsCases() []testCase {
	return []testCase{
		{"Empty", func(t *testing.T, s webhook.Store) {
			page, err := s.ListEndpoints(t.Context(), &webhook.ListEndpointsParams{Limit: 10})
			require.NoError(t, err)
			require.Empty(t, page.Items)
			require.Empty(t, page.Next)
		}},
		{"PaginatesInIDOrder", func(t *testing.T, s webhook.Store) {
			const n = 53
			var want []string
			// Put in a scrambled order; listing is by ID.
			for i := range n {
				j := (i * 17) % n
				putEndpoint(t, s, minimalEndpoint(endpointID(j), ""))
			}
			for i := range n {
				want = append(want, endpointID(i))
			}
			for _, limit := range []int{1, 7, 53, 100} {
				got := endpointIDs(allEndpoints(t, s, "", limit))
				requireStrictlyAscending(t, got)
				require.Equal(t, want, got, "limit %d", limit)
			}
		}},
		{"ExactMultipleOfLimit", func(t *testing.T, s webhook.Store) {
			for i := range 10 {
				putEndpoint(t, s, minimalEndpoint(endpointID(i), ""))
			}
			page, err := s.ListEndpoints(t.Context(), &webhook.ListEndpointsParams{Limit: 5})
			require.NoError(t, err)
			require.Len(t, page.Items, 5)
			require.NotEmpty(t, page.Next)
			page, err = s.ListEndpoints(t.Context(), &webhook.ListEndpointsParams{Limit: 5, Cursor: page.Next})
			require.NoError(t, err)
			require.Len(t, page.Items, 5)
			require.Empty(t, page.Next, "Next must be empty on the last page")
		}},
		{"DefaultLimit", func(t *testing.T, s webhook.Store) {
			for i := range 3 {
				putEndpoint(t, s, minimalEndpoint(endpointID(i), ""))
			}
			page, err := s.ListEndpoints(t.Context(), &webhook.ListEndpointsParams{})
			require.NoError(t, err)
			require.Equal(t, []string{endpointID(0), endpointID(1), endpointID(2)}, endpointIDs(page.Items))
			require.Empty(t, page.Next)
		}},
		{"FiltersByTenant", func(t *testing.T, s webhook.Store) {
			var acme, all []string
			for i := range 40 {
				tenant := "globex"
				switch i % 3 {
				case 0:
					tenant = "acme"
					acme = append(acme, endpointID(i))
				case 1:
					tenant = ""
				}
				putEndpoint(t, s, minimalEndpoint(endpointID(i), tenant))
				all = append(all, endpointID(i))
			}
			got := allEndpoints(t, s, "acme", 4)
			require.Equal(t, acme, endpointIDs(got))
			for _, ep := range got {
				require.Equal(t, "acme", ep.Tenant)
			}
			require.Equal(t, all, endpointIDs(allEndpoints(t, s, "", 6)))
			require.Empty(t, allEndpoints(t, s, "nobody", 5))
		}},
		{"TenantFollowsMovesAndDeletes", func(t *testing.T, s webhook.Store) {
			// The tenant listing must follow an endpoint that changes
			// tenant, is deleted, or comes back, whatever index serves it.
			for i := range 12 {
				putEndpoint(t, s, minimalEndpoint(endpointID(i), []string{"acme", "globex", ""}[i%3]))
			}
			moved := minimalEndpoint(endpointID(0), "globex")
			putEndpoint(t, s, moved)
			putEndpoint(t, s, minimalEndpoint(endpointID(4), "")) // globex to none
			putEndpoint(t, s, minimalEndpoint(endpointID(5), "acme"))
			require.NoError(t, s.DeleteEndpoint(t.Context(), &webhook.DeleteEndpointParams{ID: endpointID(3)}))
			require.NoError(t, s.DeleteEndpoint(t.Context(), &webhook.DeleteEndpointParams{ID: endpointID(7)}))
			putEndpoint(t, s, minimalEndpoint(endpointID(7), "acme")) // back, in another tenant
			putEndpoint(t, s, minimalEndpoint(endpointID(9), "acme")) // same tenant again
			require.Equal(t, []string{endpointID(5), endpointID(6), endpointID(7), endpointID(9)},
				endpointIDs(allEndpoints(t, s, "acme", 2)))
			require.Equal(t, []string{endpointID(0), endpointID(1), endpointID(10)}, endpointIDs(allEndpoints(t, s, "globex", 1)))
			require.Len(t, allEndpoints(t, s, "", 5), 11)
			for _, ep := range allEndpoints(t, s, "globex", 3) {
				require.Equal(t, "globex", ep.Tenant)
			}
		}},
		{"CursorSurvivesChanges", func(t *testing.T, s webhook.Store) {
			// Cursors are positions in ID order, not offsets: deleting an
			// endpoint already listed, or adding one before the cursor,
			// neither repeats nor skips the rest.
			for i := 0; i < 30; i += 2 {
				putEndpoint(t, s, minimalEndpoint(endpointID(i), ""))
			}
			page, err := s.ListEndpoints(t.Context(), &webhook.ListEndpointsParams{Limit: 5})
			require.NoError(t, err)
			require.Equal(t, []string{endpointID(0), endpointID(2), endpointID(4), endpointID(6), endpointID(8)}, endpointIDs(page.Items))
			require.NoError(t, s.DeleteEndpoint(t.Context(), &webhook.DeleteEndpointParams{ID: endpointID(8)}))
			require.NoError(t, s.DeleteEndpoint(t.Context(), &webhook.DeleteEndpointParams{ID: endpointID(2)}))
			putEndpoint(t, s, minimalEndpoint(endpointID(1), ""))
			putEndpoint(t, s, minimalEndpoint(endpointID(9), ""))
			rest := collect(t, func(cursor string) (webhook.Page[webhook.Endpoint], error) {
				if cursor == "" {
					cursor = page.Next
				}
				return s.ListEndpoints(t.Context(), &webhook.ListEndpointsParams{Cursor: cursor, Limit: 5})
			}, 5)
			var want []string
			want = append(want, endpointID(9))
			for i := 10; i < 30; i += 2 {
				want = append(want, endpointID(i))
			}
			require.Equal(t, want, endpointIDs(rest))
		}},
		{"RoundTripsEveryField", func(t *testing.T, s webhook.Store) {
			want := fullEndpoint("ep_full")
			putEndpoint(t, s, want)
			got := allEndpoints(t, s, "acme", 10)
			require.Len(t, got, 1)
			requireSameEndpoint(t, want, got[0])
			require.True(t, slices.Equal(want.Settings, got[0].Settings))
		}},
	}
}
