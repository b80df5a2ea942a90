package webhook

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/metric/noop"
)

// fullPruneStore is a Store whose every Prune deletes a whole batch.
type fullPruneStore struct {
	Store
	calls int
}

func (s *fullPruneStore) Prune(_ context.Context, p *PruneParams) (int, error) {
	s.calls++
	return p.Limit, nil
}

// A round stops before its next batch once a renewal of the retention
// lock fails, since another Dispatcher may prune by then.
func TestPruneAllStopsWhenRenewalFails(t *testing.T) {
	t.Parallel()
	m, err := newMetrics(noop.NewMeterProvider(), false)
	require.NoError(t, err)
	st := &fullPruneStore{}
	renewals := 0
	n, err := pruneAll(t.Context(), st, &PruneParams{Limit: 10}, m, func() error {
		if renewals++; renewals == 3 {
			return errRetentionLockLost
		}
		return nil
	})
	require.ErrorIs(t, err, errRetentionLockLost)
	require.Equal(t, 30, n)
	require.Equal(t, 3, st.calls)
}
