package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hooklet/webhook"
)

// putIf writes ep only if the stored endpoint's UpdatedAt is ifUpdatedAt.
func putIf(ctx context.Context, s webhook.Store, ep webhook.Endpoint, ifUpdatedAt time.Time) error {
	return s.PutEndpoint(ctx, &webhook.PutEndpointParams{Endpoint: ep, IfUpdatedAt: ifUpdatedAt})
}

// conditionalPutCases pin [webhook.PutEndpointParams.IfUpdatedAt]. They
// run in the PutEndpoint group.
func conditionalPutCases() []testCase {
	return []testCase{
		{"IfUpdatedAtMatchWrites", func(t *testing.T, s webhook.Store) {
			putEndpoint(t, s, fullEndpoint("ep_1"))
			read := getEndpoint(t, s, "ep_1")
			next := minimalEndpoint("ep_1", "other")
			next.UpdatedAt = at(time.Hour)
			// The UpdatedAt a Get returns is the one a conditional write
			// compares with, whatever precision the store keeps.
			require.NoError(t, putIf(t.Context(), s, next, read.UpdatedAt))
			requireSameEndpoint(t, next, getEndpoint(t, s, "ep_1"))
		}},
		{"IfUpdatedAtComparesInstants", func(t *testing.T, s webhook.Store) {
			// The same instant in another location matches.
			putEndpoint(t, s, minimalEndpoint("ep_1", ""))
			next := minimalEndpoint("ep_1", "")
			next.UpdatedAt = at(time.Minute)
			require.NoError(t, putIf(t.Context(), s, next, base.In(time.FixedZone("Y", -7*60*60))))
			requireSameInstant(t, next.UpdatedAt, getEndpoint(t, s, "ep_1").UpdatedAt)
		}},
		{"IfUpdatedAtRepeatsWithReturnedTime", func(t *testing.T, s webhook.Store) {
			// Read, write, read again: each write is conditional on what
			// the previous read returned.
			putEndpoint(t, s, minimalEndpoint("ep_1", ""))
			for i := 1; i <= 3; i++ {
				read := getEndpoint(t, s, "ep_1")
				next := minimalEndpoint("ep_1", "")
				next.UpdatedAt = at(time.Duration(i)*time.Second + time.Duration(i)*time.Microsecond)
				next.MaxConcurrency = i
				require.NoError(t, putIf(t.Context(), s, next, read.UpdatedAt), "write %d", i)
			}
			require.Equal(t, 3, getEndpoint(t, s, "ep_1").MaxConcurrency)
		}},
		{"IfUpdatedAtMismatchConflicts", func(t *testing.T, s webhook.Store) {
			want := fullEndpoint("ep_1")
			putEndpoint(t, s, want)
			next := minimalEndpoint("ep_1", "other")
			next.UpdatedAt = at(time.Hour)
			for _, stale := range []time.Time{at(-time.Hour), at(-time.Minute + time.Microsecond), at(time.Hour)} {
				err := putIf(t.Context(), s, next, stale)
				require.ErrorIs(t, err, webhook.ErrConflict, "IfUpdatedAt %s", stale)
				require.NotErrorIs(t, err, webhook.ErrNotFound)
			}
			requireSameEndpoint(t, want, getEndpoint(t, s, "ep_1"))
		}},
		{"IfUpdatedAtMissingNotFound", func(t *testing.T, s webhook.Store) {
			err := putIf(t.Context(), s, minimalEndpoint("ep_1", ""), base)
			require.ErrorIs(t, err, webhook.ErrNotFound)
			require.NotErrorIs(t, err, webhook.ErrConflict)
			_, err = s.GetEndpoint(t.Context(), &webhook.GetEndpointParams{ID: "ep_1"})
			require.ErrorIs(t, err, webhook.ErrNotFound, "a failed conditional write created the endpoint")
			require.Empty(t, allEndpoints(t, s, "", 0))
		}},
		{"IfUpdatedAtAfterDeleteNotFound", func(t *testing.T, s webhook.Store) {
			putEndpoint(t, s, minimalEndpoint("ep_1", ""))
			read := getEndpoint(t, s, "ep_1")
			require.NoError(t, s.DeleteEndpoint(t.Context(), &webhook.DeleteEndpointParams{ID: "ep_1"}))
			require.ErrorIs(t, putIf(t.Context(), s, minimalEndpoint("ep_1", ""), read.UpdatedAt), webhook.ErrNotFound)
			require.Empty(t, allEndpoints(t, s, "", 0))
		}},
		{"IfUpdatedAtOneConcurrentWinner", func(t *testing.T, s webhook.Store) {
			// Writers that read the same version race; exactly one wins,
			// the others get ErrConflict, and the stored endpoint is the
			// winner's.
			const writers = 8
			putEndpoint(t, s, minimalEndpoint("ep_1", ""))
			read := getEndpoint(t, s, "ep_1")
			var wins atomic.Int32
			winner := atomic.Int32{}
			run(t, writers, func(ctx context.Context, g int) error {
				next := minimalEndpoint("ep_1", fmt.Sprintf("writer-%d", g))
				next.UpdatedAt = at(time.Duration(g+1) * time.Second)
				err := putIf(ctx, s, next, read.UpdatedAt)
				switch {
				case err == nil:
					wins.Add(1)
					winner.Store(int32(g))
					return nil
				case errors.Is(err, webhook.ErrConflict):
					return nil
				}
				return err
			})
			require.Equal(t, int32(1), wins.Load(), "conditional writers that won")
			got := getEndpoint(t, s, "ep_1")
			g := int(winner.Load())
			require.Equal(t, fmt.Sprintf("writer-%d", g), got.Tenant)
			requireSameInstant(t, at(time.Duration(g+1)*time.Second), got.UpdatedAt)
		}},
		{"IfUpdatedAtZeroIsUnconditional", func(t *testing.T, s webhook.Store) {
			putEndpoint(t, s, minimalEndpoint("ep_1", ""))
			next := minimalEndpoint("ep_1", "other")
			next.UpdatedAt = at(time.Hour)
			require.NoError(t, putIf(t.Context(), s, next, time.Time{}))
			requireSameEndpoint(t, next, getEndpoint(t, s, "ep_1"))
		}},
	}
}
