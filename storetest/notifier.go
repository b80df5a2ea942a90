package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hooklet/webhook"
)

// noteTimeout bounds every wait for a notification.
const noteTimeout = 20 * time.Second

// notifications returns s's notification channel once notifications flow
// (see [ReadyNotifier]).
func notifications(t *testing.T, s webhook.Store) <-chan webhook.Notification {
	t.Helper()
	ch := s.(webhook.Notifier).Notifications()
	if r, ok := s.(ReadyNotifier); ok {
		select {
		case <-r.Listening():
		case <-time.After(noteTimeout):
			t.Fatalf("notifications did not start within %s", noteTimeout)
		}
	}
	return ch
}

// awaitNote receives from ch until a notification satisfies want. Others
// are allowed: a notifier may report more than happened.
func awaitNote(t *testing.T, ch <-chan webhook.Notification, what string, want func(webhook.Notification) bool) {
	t.Helper()
	timeout := time.After(noteTimeout)
	for {
		select {
		case n, ok := <-ch:
			require.True(t, ok, "notification channel closed while waiting for %s", what)
			if want(n) {
				return
			}
		case <-timeout:
			t.Fatalf("no notification of %s within %s", what, noteTimeout)
		}
	}
}

func isNotifier(s webhook.Store) bool {
	_, ok := s.(webhook.Notifier)
	return ok
}

func deliveriesDue(n webhook.Notification) bool    { return n.DeliveriesDue }
func endpointsChanged(n webhook.Notification) bool { return n.EndpointsChanged }

// notifierCases are the cases of stores that implement [webhook.Notifier].
// What they can check depends on what else the store under test offers:
// Close, [TxBeginner] and [PeerOpener].
func notifierCases(probe webhook.Store) []testCase {
	var cases []testCase
	if _, ok := probe.(closer); ok {
		cases = append(cases, testCase{"ClosedByClose", func(t *testing.T, s webhook.Store) {
			ch := s.(webhook.Notifier).Notifications()
			require.NoError(t, s.(closer).Close())
			timeout := time.After(noteTimeout)
			for {
				select {
				case _, ok := <-ch:
					if !ok {
						return
					}
				case <-timeout:
					t.Fatalf("notification channel still open %s after Close", noteTimeout)
				}
			}
		}})
	}
	_, txe := probe.(webhook.TxEnqueuer)
	if _, txb := probe.(TxBeginner); txe && txb {
		cases = append(cases, testCase{"ReportsCommittedTx", func(t *testing.T, s webhook.Store) {
			// Nobody but the store knows when a host transaction commits:
			// every notifier hears of it, the enqueuing store's own too.
			ch := notifications(t, s)
			var peerCh <-chan webhook.Notification
			if po, ok := s.(PeerOpener); ok {
				if peer := po.OpenPeer(t); isNotifier(peer) {
					peerCh = notifications(t, peer)
				}
			}
			tx := beginTx(t, s)
			require.NoError(t, enqueueTx(t, s, tx, item(newEvent(eventID(1)), newDelivery(deliveryID(1), eventID(1), "ep_a", base))))
			require.NoError(t, tx.Commit(t.Context()))
			awaitNote(t, ch, "a committed EnqueueTx", deliveriesDue)
			if peerCh != nil {
				awaitNote(t, peerCh, "a peer's committed EnqueueTx", deliveriesDue)
			}
		}})
	}
	if _, ok := probe.(PeerOpener); ok {
		cases = append(cases,
			testCase{"ReportsPeerEnqueue", func(t *testing.T, s webhook.Store) {
				peer := s.(PeerOpener).OpenPeer(t)
				ch := notifications(t, s)
				seedOne(t, peer, 1, "ep_a", base)
				awaitNote(t, ch, "a peer's Enqueue", deliveriesDue)
			}},
			testCase{"ReportsPeerRelease", func(t *testing.T, s webhook.Store) {
				peer := s.(PeerOpener).OpenPeer(t)
				seedOne(t, peer, 1, "ep_a", base)
				l := leaseOne(t, peer, "peer", base, at(time.Minute), deliveryID(1))
				ch := notifications(t, s)
				release(t, peer, base, ref(l))
				awaitNote(t, ch, "a peer's Release", deliveriesDue)
			}},
			testCase{"ReportsPeerEndpointChanges", func(t *testing.T, s webhook.Store) {
				peer := s.(PeerOpener).OpenPeer(t)
				ch := notifications(t, s)
				putEndpoint(t, peer, minimalEndpoint("ep_1", ""))
				awaitNote(t, ch, "a peer's PutEndpoint", endpointsChanged)
				require.NoError(t, peer.DeleteEndpoint(t.Context(), &webhook.DeleteEndpointParams{ID: "ep_1"}))
				awaitNote(t, ch, "a peer's DeleteEndpoint", endpointsChanged)
			}},
		)
	}
	return cases
}
