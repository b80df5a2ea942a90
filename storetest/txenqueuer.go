package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hooklet/webhook"
)

// txBeginner returns s as a TxEnqueuer and its TxBeginner.
func txBeginner(s webhook.Store) (webhook.TxEnqueuer, TxBeginner) {
	return s.(webhook.TxEnqueuer), s.(TxBeginner)
}

// beginTx begins a host transaction that is rolled back at cleanup unless
// the test ends it first.
func beginTx(t *testing.T, s webhook.Store) Tx {
	t.Helper()
	_, b := txBeginner(s)
	tx, err := b.BeginTx(t.Context())
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback(t.Context()) })
	return tx
}

// enqueueTx enqueues items at base inside tx.
func enqueueTx(t *testing.T, s webhook.Store, tx any, items ...webhook.EnqueueItem) error {
	t.Helper()
	e, _ := txBeginner(s)
	return e.EnqueueTx(t.Context(), tx, &webhook.EnqueueParams{Items: items, Now: base})
}

// txEnqueuerCases are the cases of stores that implement
// [webhook.TxEnqueuer]. Such a store must also be a [TxBeginner].
func txEnqueuerCases(probe webhook.Store) []testCase {
	if _, ok := probe.(TxBeginner); !ok {
		return []testCase{{"IsTxBeginner", func(t *testing.T, s webhook.Store) {
			t.Fatalf("%T implements webhook.TxEnqueuer but not storetest.TxBeginner: the suite cannot begin a transaction to test it", s)
		}}}
	}
	cases := []testCase{
		{"CommitStores", func(t *testing.T, s webhook.Store) {
			tx := beginTx(t, s)
			ev := newEvent(eventID(1))
			require.NoError(t, enqueueTx(t, s, tx, item(ev, newDelivery(deliveryID(1), eventID(1), "ep_a", base))))
			require.NoError(t, tx.Commit(t.Context()))
			require.Equal(t, normEvent(ev), normEvent(getEvent(t, s, eventID(1))))
			l := leaseOne(t, s, "owner", base, at(time.Minute), deliveryID(1))
			require.Equal(t, normEvent(ev), normEvent(l.Event))
		}},
		{"InvisibleUntilCommit", func(t *testing.T, s webhook.Store) {
			tx := beginTx(t, s)
			require.NoError(t, enqueueTx(t, s, tx, item(newEvent(eventID(1)), newDelivery(deliveryID(1), eventID(1), "ep_a", base))))
			requireNoEvent(t, s, eventID(1))
			requireNoDelivery(t, s, deliveryID(1))
			requireNothingDue(t, s, farFuture)
			require.Empty(t, lease(t, s, "owner", farFuture, farFuture.Add(time.Minute), 10))
			require.NoError(t, tx.Commit(t.Context()))
			getDelivery(t, s, deliveryID(1))
		}},
		{"RollbackStoresNothing", func(t *testing.T, s webhook.Store) {
			tx := beginTx(t, s)
			require.NoError(t, enqueueTx(t, s, tx, item(newEvent(eventID(1)), newDelivery(deliveryID(1), eventID(1), "ep_a", base))))
			require.NoError(t, tx.Rollback(t.Context()))
			requireNoEvent(t, s, eventID(1))
			requireNoDelivery(t, s, deliveryID(1))
			requireNothingDue(t, s, farFuture)
			// The IDs are free again.
			seedOne(t, s, 1, "ep_a", base)
			getDelivery(t, s, deliveryID(1))
		}},
		{"RejectsOtherTx", func(t *testing.T, s webhook.Store) {
			it := item(newEvent(eventID(1)), newDelivery(deliveryID(1), eventID(1), "ep_a", base))
			for _, tx := range []any{nil, "not a transaction", 42} {
				require.ErrorIs(t, enqueueTx(t, s, tx, it), webhook.ErrInvalidTx, "tx %#v", tx)
			}
			requireNoEvent(t, s, eventID(1))
		}},
		{"IdempotentOnEventID", func(t *testing.T, s webhook.Store) {
			seedOne(t, s, 1, "ep_a", base)
			tx := beginTx(t, s)
			again := newEvent(eventID(1))
			again.Type = "other"
			require.NoError(t, enqueueTx(t, s, tx,
				item(again, newDelivery(deliveryID(2), eventID(1), "ep_b", base)),
				item(newEvent(eventID(3)), newDelivery(deliveryID(3), eventID(3), "ep_a", base)),
			))
			require.NoError(t, tx.Commit(t.Context()))
			require.Equal(t, normEvent(newEvent(eventID(1))), normEvent(getEvent(t, s, eventID(1))))
			requireNoDelivery(t, s, deliveryID(2))
			getDelivery(t, s, deliveryID(3))
		}},
		{"DuplicateDeliveryIDFails", func(t *testing.T, s webhook.Store) {
			seedOne(t, s, 1, "ep_a", base)
			tx := beginTx(t, s)
			err := enqueueTx(t, s, tx, item(newEvent(eventID(2)), newDelivery(deliveryID(1), eventID(2), "ep_b", base)))
			require.ErrorIs(t, err, webhook.ErrDuplicateDelivery)
			_ = tx.Rollback(t.Context())
			requireNoEvent(t, s, eventID(2))
			require.Equal(t, eventID(1), getDelivery(t, s, deliveryID(1)).EventID)
		}},
	}
	if _, ok := probe.(closer); ok {
		cases = append(cases, testCase{"ClosedReturnsErrClosed", func(t *testing.T, s webhook.Store) {
			tx := beginTx(t, s)
			require.NoError(t, s.(closer).Close())
			err := enqueueTx(t, s, tx, item(newEvent(eventID(1)), newDelivery(deliveryID(1), eventID(1), "ep_a", base)))
			require.ErrorIs(t, err, webhook.ErrClosed)
		}})
	}
	return cases
}
