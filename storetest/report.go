package storetest

import (
	"crypto/sha256"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hooklet/webhook"
)

// tokenHash is the hash of a callback token named by s.
func tokenHash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// ackDeadline is the end of the wait of the deliveries awaitOne makes.
var ackDeadline = at(15 * time.Minute)

// awaitOne seeds delivery i, leases it, and completes it with one attempt
// answered 202 that awaits a report carrying hash until ackDeadline.
func awaitOne(t *testing.T, s webhook.Store, i int, hash []byte) string {
	t.Helper()
	id := seedOne(t, s, i, "ep_a", base)
	l := leaseOne(t, s, "a", base, at(time.Minute), id)
	complete(t, s, at(time.Second), webhook.Outcome{Lease: ref(l), State: webhook.StatePending,
		Attempts: []webhook.Attempt{attempt(id, 1, base, 202)}, NextAttemptAt: ackDeadline, AwaitTokenHash: hash})
	return id
}

func reporter(t *testing.T, s webhook.Store) webhook.Reporter {
	t.Helper()
	r, ok := s.(webhook.Reporter)
	require.True(t, ok, "the store is not a webhook.Reporter")
	return r
}

// report posts a report of status st on id with hash at now; running
// reports wait until next, failed ones move to state at next.
func report(t *testing.T, s webhook.Store, id string, hash []byte, now time.Time, st webhook.ReportStatus,
	state webhook.DeliveryState, next time.Time, failure *webhook.AttemptFailure) (webhook.Delivery, error) {
	t.Helper()
	return reporter(t, s).Report(t.Context(), &webhook.ReportParams{
		DeliveryID: id, TokenHash: hash, Now: now,
		Report: webhook.Report{Status: st, Message: "m-" + string(st), Progress: 0.25},
		State:  state, NextAttemptAt: next, Failure: failure,
	})
}

func allReports(t *testing.T, s webhook.Store, id string, limit int) []webhook.Report {
	t.Helper()
	return collect(t, func(cursor string) (webhook.Page[webhook.Report], error) {
		return reporter(t, s).ListReports(t.Context(), &webhook.ListReportsParams{DeliveryID: id, Cursor: cursor, Limit: limit})
	}, limit)
}

// requireRefused checks that err refuses a report and that the delivery
// and its reports are as they were.
func requireRefused(t *testing.T, s webhook.Store, err error, id string, before webhook.Delivery, reports int) {
	t.Helper()
	require.ErrorIs(t, err, webhook.ErrReportRefused)
	require.Equal(t, normDelivery(before), normDelivery(getDelivery(t, s, id)), "a refused report changed the delivery")
	require.Len(t, allReports(t, s, id, 0), reports, "a refused report was recorded")
}

// requireWaitEndedPending checks that delivery id, whose one attempt was
// answered 202 and awaited a report, has that attempt completed with class
// and msg without a new one (why says so), and is pending again, due at
// next, no longer awaiting; it returns the delivery.
func requireWaitEndedPending(t *testing.T, s webhook.Store, id string, class webhook.ErrorClass, msg string, next time.Time, why string) webhook.Delivery {
	t.Helper()
	d := getDelivery(t, s, id)
	require.Equal(t, webhook.StatePending, d.State)
	require.False(t, d.AwaitingReport)
	require.Equal(t, 1, d.Attempts, why)
	require.Equal(t, 202, d.LastStatusCode)
	require.Equal(t, msg, d.LastError)
	requireSameInstant(t, next, d.NextAttemptAt, "NextAttemptAt")
	atts := allAttempts(t, s, id, 0)
	require.Len(t, atts, 1)
	require.Equal(t, 202, atts[0].StatusCode)
	require.Equal(t, class, atts[0].ErrorClass)
	require.Equal(t, msg, atts[0].Error)
	return d
}

func reporterCases() []testCase {
	return []testCase{
		{"AwaitingNotLeasedBeforeDeadline", func(t *testing.T, s webhook.Store) {
			id := awaitOne(t, s, 1, tokenHash("t1"))
			d := getDelivery(t, s, id)
			require.True(t, d.AwaitingReport)
			require.Equal(t, webhook.StatePending, d.State)
			require.Equal(t, 1, d.Attempts)
			require.Equal(t, 202, d.LastStatusCode)
			requireSameInstant(t, ackDeadline, d.NextAttemptAt, "NextAttemptAt")
			require.Empty(t, lease(t, s, "b", ackDeadline.Add(-time.Microsecond), farFuture, 10))
			next, ok, err := s.NextDue(t.Context(), &webhook.NextDueParams{Now: at(2 * time.Second)})
			require.NoError(t, err)
			require.True(t, ok)
			requireSameInstant(t, ackDeadline, next, "NextDue")
			l := leaseOne(t, s, "b", ackDeadline, farFuture, id)
			require.True(t, l.Delivery.AwaitingReport, "the lease that ends the wait must say so")
		}},
		{"RunningThenSucceeded", func(t *testing.T, s webhook.Store) {
			h := tokenHash("t1")
			id := awaitOne(t, s, 1, h)
			d, err := report(t, s, id, h, at(time.Minute), webhook.ReportRunning, webhook.StatePending, at(20*time.Minute), nil)
			require.NoError(t, err)
			require.True(t, d.AwaitingReport)
			requireSameInstant(t, at(20*time.Minute), d.NextAttemptAt, "running moves the end of the wait")
			got := getDelivery(t, s, id)
			require.True(t, got.AwaitingReport)
			require.Equal(t, webhook.StatePending, got.State)
			requireSameInstant(t, at(20*time.Minute), got.NextAttemptAt, "NextAttemptAt")
			requireSameInstant(t, at(time.Minute), got.UpdatedAt, "UpdatedAt")
			// The old deadline has passed; the running report made the wait longer.
			require.Empty(t, lease(t, s, "b", at(16*time.Minute), farFuture, 10))

			d, err = report(t, s, id, h, at(17*time.Minute), webhook.ReportSucceeded, webhook.StateSucceeded, time.Time{}, nil)
			require.NoError(t, err)
			require.Equal(t, webhook.StateSucceeded, d.State)
			got = getDelivery(t, s, id)
			require.Equal(t, webhook.StateSucceeded, got.State)
			require.False(t, got.AwaitingReport)
			require.Equal(t, 1, got.Attempts)
			require.Equal(t, 202, got.LastStatusCode)
			requireSameInstant(t, at(17*time.Minute), got.UpdatedAt, "UpdatedAt")
			atts := allAttempts(t, s, id, 0)
			require.Len(t, atts, 1)
			require.Equal(t, webhook.ClassNone, atts[0].ErrorClass)

			reps := allReports(t, s, id, 0)
			require.Len(t, reps, 2)
			for i, st := range []webhook.ReportStatus{webhook.ReportRunning, webhook.ReportSucceeded} {
				require.Equal(t, id, reps[i].DeliveryID)
				require.Equal(t, i+1, reps[i].Number)
				require.Equal(t, 1, reps[i].Attempt)
				require.Equal(t, st, reps[i].Status)
				require.Equal(t, "m-"+string(st), reps[i].Message)
				require.InDelta(t, 0.25, reps[i].Progress, 1e-9)
			}
			requireSameInstant(t, at(time.Minute), reps[0].ReceivedAt, "ReceivedAt")
			requireSameInstant(t, at(17*time.Minute), reps[1].ReceivedAt, "ReceivedAt")

			// The token is dead once the wait ended: a replay changes nothing.
			_, err = report(t, s, id, h, at(18*time.Minute), webhook.ReportFailed, webhook.StateFailed, time.Time{},
				&webhook.AttemptFailure{Class: webhook.ClassAckFailed, Error: "late"})
			requireRefused(t, s, err, id, got, 2)
		}},
		{"FailedFollowsTheRetryPolicy", func(t *testing.T, s webhook.Store) {
			h := tokenHash("t1")
			id := awaitOne(t, s, 1, h)
			_, err := report(t, s, id, h, at(time.Minute), webhook.ReportFailed, webhook.StatePending, at(6*time.Minute),
				&webhook.AttemptFailure{Class: webhook.ClassAckFailed, Error: "disk full"})
			require.NoError(t, err)
			d := requireWaitEndedPending(t, s, id, webhook.ClassAckFailed, "disk full", at(6*time.Minute),
				"a failed report completes the attempt that awaited; it adds none")

			_, err = report(t, s, id, h, at(2*time.Minute), webhook.ReportSucceeded, webhook.StateSucceeded, time.Time{}, nil)
			requireRefused(t, s, err, id, d, 1)

			l := leaseOne(t, s, "b", at(6*time.Minute), farFuture, id)
			require.False(t, l.Delivery.AwaitingReport)
			require.Equal(t, 1, l.Delivery.Attempts)
		}},
		{"FailedForGood", func(t *testing.T, s webhook.Store) {
			h := tokenHash("t1")
			id := awaitOne(t, s, 1, h)
			d, err := report(t, s, id, h, at(time.Minute), webhook.ReportFailed, webhook.StateFailed, time.Time{},
				&webhook.AttemptFailure{Class: webhook.ClassAckFailed, Error: "bad rows"})
			require.NoError(t, err)
			require.Equal(t, webhook.StateFailed, d.State)
			got := getDelivery(t, s, id)
			require.Equal(t, webhook.StateFailed, got.State)
			require.False(t, got.AwaitingReport)
			require.Equal(t, "bad rows", got.LastError)
			atts := allAttempts(t, s, id, 0)
			require.Len(t, atts, 1)
			require.Equal(t, webhook.ClassAckFailed, atts[0].ErrorClass)
			require.Empty(t, lease(t, s, "b", farFuture, farFuture.Add(time.Hour), 10))
		}},
		{"ForgedTokenRefused", func(t *testing.T, s webhook.Store) {
			id := awaitOne(t, s, 1, tokenHash("t1"))
			before := getDelivery(t, s, id)
			for _, h := range [][]byte{tokenHash("t2"), nil, {}, tokenHash("t1")[:16]} {
				_, err := report(t, s, id, h, at(time.Minute), webhook.ReportSucceeded, webhook.StateSucceeded, time.Time{}, nil)
				requireRefused(t, s, err, id, before, 0)
			}
		}},
		{"TokenOfAnotherDeliveryRefused", func(t *testing.T, s webhook.Store) {
			h1, h2 := tokenHash("t1"), tokenHash("t2")
			id1 := awaitOne(t, s, 1, h1)
			id2 := awaitOne(t, s, 2, h2)
			b1, b2 := getDelivery(t, s, id1), getDelivery(t, s, id2)
			_, err := report(t, s, id1, h2, at(time.Minute), webhook.ReportSucceeded, webhook.StateSucceeded, time.Time{}, nil)
			requireRefused(t, s, err, id1, b1, 0)
			require.Equal(t, normDelivery(b2), normDelivery(getDelivery(t, s, id2)))
			require.Empty(t, allReports(t, s, id2, 0))
		}},
		{"ExpiredTokenRefused", func(t *testing.T, s webhook.Store) {
			h := tokenHash("t1")
			id := awaitOne(t, s, 1, h)
			before := getDelivery(t, s, id)
			for _, now := range []time.Time{ackDeadline, ackDeadline.Add(time.Hour)} {
				_, err := report(t, s, id, h, now, webhook.ReportSucceeded, webhook.StateSucceeded, time.Time{}, nil)
				requireRefused(t, s, err, id, before, 0)
			}
		}},
		{"NotAwaitingRefused", func(t *testing.T, s webhook.Store) {
			id := seedOne(t, s, 1, "ep_a", base)
			before := getDelivery(t, s, id)
			for _, h := range [][]byte{nil, tokenHash("t1")} {
				_, err := report(t, s, id, h, at(time.Minute), webhook.ReportSucceeded, webhook.StateSucceeded, time.Time{}, nil)
				requireRefused(t, s, err, id, before, 0)
			}
		}},
		{"MissingDelivery", func(t *testing.T, s webhook.Store) {
			_, err := report(t, s, "dlv_missing", tokenHash("t1"), at(time.Minute), webhook.ReportSucceeded, webhook.StateSucceeded, time.Time{}, nil)
			require.ErrorIs(t, err, webhook.ErrNotFound)
			_, err = reporter(t, s).ListReports(t.Context(), &webhook.ListReportsParams{DeliveryID: "dlv_missing"})
			require.ErrorIs(t, err, webhook.ErrNotFound)
		}},
		{"TimeoutCompletesTheAwaitingAttempt", func(t *testing.T, s webhook.Store) {
			h := tokenHash("t1")
			id := awaitOne(t, s, 1, h)
			l := leaseOne(t, s, "b", ackDeadline, farFuture, id)
			// Leased to end the wait: a report, even one stamped before
			// the deadline by a replica whose clock is behind, is refused.
			before := getDelivery(t, s, id)
			_, err := report(t, s, id, h, ackDeadline.Add(-time.Second), webhook.ReportSucceeded, webhook.StateSucceeded, time.Time{}, nil)
			requireRefused(t, s, err, id, before, 0)

			complete(t, s, at(16*time.Minute), webhook.Outcome{Lease: ref(l), State: webhook.StatePending,
				NextAttemptAt: at(46 * time.Minute),
				WaitEnded:     &webhook.AttemptFailure{Class: webhook.ClassAckTimeout, Error: "no report within 15m0s"}})
			d := requireWaitEndedPending(t, s, id, webhook.ClassAckTimeout, "no report within 15m0s", at(46*time.Minute),
				"the timeout completes the attempt that awaited; it adds none")

			_, err = report(t, s, id, h, at(17*time.Minute), webhook.ReportSucceeded, webhook.StateSucceeded, time.Time{}, nil)
			requireRefused(t, s, err, id, d, 0)
		}},
		{"TimeoutForGood", func(t *testing.T, s webhook.Store) {
			id := awaitOne(t, s, 1, tokenHash("t1"))
			l := leaseOne(t, s, "b", ackDeadline, farFuture, id)
			complete(t, s, at(16*time.Minute), webhook.Outcome{Lease: ref(l), State: webhook.StateFailed,
				WaitEnded: &webhook.AttemptFailure{Class: webhook.ClassAckTimeout, Error: "no report"}})
			d := getDelivery(t, s, id)
			require.Equal(t, webhook.StateFailed, d.State)
			require.False(t, d.AwaitingReport)
			require.Equal(t, 1, d.Attempts)
			require.Equal(t, webhook.ClassAckTimeout, allAttempts(t, s, id, 0)[0].ErrorClass)
		}},
		{"ReleaseKeepsWaitEnded", func(t *testing.T, s webhook.Store) {
			h := tokenHash("t1")
			id := awaitOne(t, s, 1, h)
			l := leaseOne(t, s, "b", ackDeadline, farFuture, id)
			require.NoError(t, s.Release(t.Context(), &webhook.ReleaseParams{Leases: []webhook.LeaseRef{ref(l)}, Now: at(16 * time.Minute)}))
			d := getDelivery(t, s, id)
			require.True(t, d.AwaitingReport, "a released delivery still awaits; the next lease ends the wait")
			_, err := report(t, s, id, h, at(16*time.Minute), webhook.ReportSucceeded, webhook.StateSucceeded, time.Time{}, nil)
			requireRefused(t, s, err, id, d, 0)
			l2 := leaseOne(t, s, "c", at(16*time.Minute), farFuture, id)
			require.True(t, l2.Delivery.AwaitingReport)
		}},
		{"NewAttemptNewToken", func(t *testing.T, s webhook.Store) {
			h1, h2 := tokenHash("t1"), tokenHash("t2")
			id := awaitOne(t, s, 1, h1)
			l := leaseOne(t, s, "b", ackDeadline, farFuture, id)
			complete(t, s, at(16*time.Minute), webhook.Outcome{Lease: ref(l), State: webhook.StatePending,
				NextAttemptAt: at(20 * time.Minute),
				WaitEnded:     &webhook.AttemptFailure{Class: webhook.ClassAckTimeout, Error: "no report"}})
			l = leaseOne(t, s, "b", at(20*time.Minute), farFuture, id)
			require.False(t, l.Delivery.AwaitingReport)
			complete(t, s, at(21*time.Minute), webhook.Outcome{Lease: ref(l), State: webhook.StatePending,
				Attempts:      []webhook.Attempt{attempt(id, 2, at(20*time.Minute), 202)},
				NextAttemptAt: at(36 * time.Minute), AwaitTokenHash: h2})
			d := getDelivery(t, s, id)
			require.True(t, d.AwaitingReport)
			_, err := report(t, s, id, h1, at(22*time.Minute), webhook.ReportSucceeded, webhook.StateSucceeded, time.Time{}, nil)
			requireRefused(t, s, err, id, d, 0)
			_, err = report(t, s, id, h2, at(22*time.Minute), webhook.ReportSucceeded, webhook.StateSucceeded, time.Time{}, nil)
			require.NoError(t, err)
			reps := allReports(t, s, id, 0)
			require.Len(t, reps, 1)
			require.Equal(t, 2, reps[0].Attempt)
			atts := allAttempts(t, s, id, 0)
			require.Len(t, atts, 2)
			require.Equal(t, webhook.ClassAckTimeout, atts[0].ErrorClass)
			require.Equal(t, webhook.ClassNone, atts[1].ErrorClass)
		}},
		{"OutcomeWithoutHashEndsTheWait", func(t *testing.T, s webhook.Store) {
			h := tokenHash("t1")
			id := awaitOne(t, s, 1, h)
			l := leaseOne(t, s, "b", ackDeadline, farFuture, id)
			complete(t, s, at(16*time.Minute), webhook.Outcome{Lease: ref(l), State: webhook.StatePending,
				Attempts: []webhook.Attempt{attempt(id, 2, at(16*time.Minute), 503)}, NextAttemptAt: at(40 * time.Minute)})
			d := getDelivery(t, s, id)
			require.False(t, d.AwaitingReport)
			require.Equal(t, 2, d.Attempts)
			_, err := report(t, s, id, h, at(17*time.Minute), webhook.ReportSucceeded, webhook.StateSucceeded, time.Time{}, nil)
			requireRefused(t, s, err, id, d, 0)
		}},
		{"ConcurrentReportsOneWins", func(t *testing.T, s webhook.Store) {
			h := tokenHash("t1")
			id := awaitOne(t, s, 1, h)
			const n = 8
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					st, state := webhook.ReportSucceeded, webhook.StateSucceeded
					var f *webhook.AttemptFailure
					if i%2 == 1 {
						st, state, f = webhook.ReportFailed, webhook.StateFailed, &webhook.AttemptFailure{Class: webhook.ClassAckFailed, Error: "x"}
					}
					_, errs[i] = report(t, s, id, h, at(time.Minute), st, state, time.Time{}, f)
				}()
			}
			wg.Wait()
			won := 0
			for _, err := range errs {
				if err == nil {
					won++
				} else {
					require.ErrorIs(t, err, webhook.ErrReportRefused)
				}
			}
			require.Equal(t, 1, won, "exactly one of the concurrent reports ends the wait")
			reps := allReports(t, s, id, 0)
			require.Len(t, reps, 1)
			d := getDelivery(t, s, id)
			want := webhook.StateSucceeded
			if reps[0].Status == webhook.ReportFailed {
				want = webhook.StateFailed
			}
			require.Equal(t, want, d.State, "the delivery follows the report that won")
		}},
		{"ReportRacesTheTimeoutLease", func(t *testing.T, s webhook.Store) {
			const n = 6
			hashes := make([][]byte, n)
			ids := make([]string, n)
			for i := range n {
				hashes[i] = tokenHash("t" + deliveryID(i))
				ids[i] = awaitOne(t, s, i, hashes[i])
			}
			var (
				wg       sync.WaitGroup
				leased   []webhook.Lease
				leaseErr error
				errs     = make([]error, n)
			)
			wg.Add(n + 1)
			go func() {
				defer wg.Done()
				leased, leaseErr = s.Lease(t.Context(), &webhook.LeaseParams{Owner: "b", Now: ackDeadline, Until: farFuture, Limit: n})
			}()
			for i := range n {
				go func() {
					defer wg.Done()
					// Stamped before the deadline, as by a replica whose clock is behind.
					_, errs[i] = report(t, s, ids[i], hashes[i], ackDeadline.Add(-time.Millisecond),
						webhook.ReportSucceeded, webhook.StateSucceeded, time.Time{}, nil)
				}()
			}
			wg.Wait()
			require.NoError(t, leaseErr)
			byID := map[string]bool{}
			for _, l := range leased {
				byID[l.Delivery.ID] = true
				require.True(t, l.Delivery.AwaitingReport)
			}
			for i, id := range ids {
				d := getDelivery(t, s, id)
				if byID[id] {
					require.ErrorIs(t, errs[i], webhook.ErrReportRefused, "%s: leased and reported", id)
					require.Equal(t, webhook.StatePending, d.State)
					require.Empty(t, allReports(t, s, id, 0))
				} else {
					require.NoError(t, errs[i], "%s: neither leased nor reported", id)
					require.Equal(t, webhook.StateSucceeded, d.State)
				}
			}
		}},
		{"ListReportsPages", func(t *testing.T, s webhook.Store) {
			h := tokenHash("t1")
			id := awaitOne(t, s, 1, h)
			for i := range 5 {
				_, err := report(t, s, id, h, at(time.Duration(i+1)*time.Minute), webhook.ReportRunning, webhook.StatePending, at(30*time.Minute), nil)
				require.NoError(t, err)
			}
			reps := allReports(t, s, id, 2)
			require.Len(t, reps, 5)
			for i, r := range reps {
				require.Equal(t, i+1, r.Number)
				requireSameInstant(t, at(time.Duration(i+1)*time.Minute), r.ReceivedAt, "ReceivedAt")
			}
		}},
		{"PruneDeletesReports", func(t *testing.T, s webhook.Store) {
			h := tokenHash("t1")
			id := awaitOne(t, s, 1, h)
			_, err := report(t, s, id, h, at(time.Minute), webhook.ReportSucceeded, webhook.StateSucceeded, time.Time{}, nil)
			require.NoError(t, err)
			n, err := s.Prune(t.Context(), &webhook.PruneParams{Before: at(time.Hour), Limit: 10})
			require.NoError(t, err)
			require.Equal(t, 1, n)
			_, err = reporter(t, s).ListReports(t.Context(), &webhook.ListReportsParams{DeliveryID: id})
			require.ErrorIs(t, err, webhook.ErrNotFound)
		}},
		{"OrderedHeadWaitsThenItsReportFreesTheNext", func(t *testing.T, s webhook.Store) {
			h := tokenHash("t1")
			first := seedOrdered(t, s, 1, "ep_a", "k", base)
			second := seedOrdered(t, s, 2, "ep_a", "k", base)
			l := leaseOne(t, s, "a", base, at(time.Minute), first)
			complete(t, s, at(time.Second), webhook.Outcome{Lease: ref(l), State: webhook.StatePending,
				Attempts: []webhook.Attempt{attempt(first, 1, base, 202)}, NextAttemptAt: ackDeadline, AwaitTokenHash: h})
			// The head awaits its report: the sequence waits with it.
			require.Empty(t, lease(t, s, "b", at(2*time.Second), farFuture, 10))
			_, err := report(t, s, first, h, at(time.Minute), webhook.ReportSucceeded, webhook.StateSucceeded, time.Time{}, nil)
			require.NoError(t, err)
			leaseOne(t, s, "b", at(time.Minute), farFuture, second)
		}},
		{"EnqueueStoresNoWait", func(t *testing.T, s webhook.Store) {
			d := newDelivery(deliveryID(1), eventID(1), "ep_a", base)
			d.AwaitingReport = true
			enqueue(t, s, item(newEvent(eventID(1)), d))
			got := getDelivery(t, s, d.ID)
			require.False(t, got.AwaitingReport)
			l := leaseOne(t, s, "a", base, farFuture, d.ID)
			require.False(t, l.Delivery.AwaitingReport)
		}},
	}
}

// reporterPeerCases prove that a report may reach any process sharing the
// store.
func reporterPeerCases() []testCase {
	return []testCase{
		{"ReportThroughPeer", func(t *testing.T, s webhook.Store) {
			h := tokenHash("t1")
			id := awaitOne(t, s, 1, h)
			peer := s.(PeerOpener).OpenPeer(t)
			_, err := report(t, peer, id, h, at(time.Minute), webhook.ReportSucceeded, webhook.StateSucceeded, time.Time{}, nil)
			require.NoError(t, err)
			require.Equal(t, webhook.StateSucceeded, getDelivery(t, s, id).State)
			require.Len(t, allReports(t, s, id, 0), 1)
			_, err = report(t, s, id, h, at(2*time.Minute), webhook.ReportSucceeded, webhook.StateSucceeded, time.Time{}, nil)
			require.ErrorIs(t, err, webhook.ErrReportRefused)
		}},
	}
}
