package pgstore

import (
	"context"
	"time"

	webhook "github.com/hooklet/webhook"
)

// pollState is what one poll reads: what a change to the queue or the
// endpoints moves.
type pollState struct {
	version int64      // endpoints version
	due     *time.Time // earliest due_at of a pending delivery; nil when none
}

// sameDue reports whether two polls saw the same earliest due delivery.
func (p pollState) sameDue(q pollState) bool {
	if p.due == nil || q.due == nil {
		return p.due == nil && q.due == nil
	}
	return p.due.Equal(*q.due)
}

// poll feeds the listener's channel by polling through the pool, for pools
// where LISTEN does not work (see [Options.PollInterval]). It reports
// EndpointsChanged when the endpoints version moved and DeliveriesDue when
// the earliest due delivery moved (new work, released work, or leases
// taken and finished: the engine then looks for due work) and at least
// once per check interval; after a failed poll, it reports both, as the
// listener does when it reconnects.
func (l *listener) poll(ctx context.Context) {
	defer l.wg.Done()
	var (
		last   pollState
		have   bool // last holds a poll
		failed bool // a poll failed since
		quiet  int  // polls since DeliveriesDue was last reported
		wait   = l.s.pollInterval
	)
	checkEvery := max(1, int(l.s.checkInterval/l.s.pollInterval))
	for {
		cur, err := l.read(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			failed = true
			wait = min(max(2*wait, listenBackoffMin), listenBackoffMax)
		default:
			wait = l.s.pollInterval
			l.readyOnce.Do(func() { close(l.ready) })
			quiet++
			var n webhook.Notification
			switch {
			case failed:
				n = webhook.Notification{EndpointsChanged: true, DeliveriesDue: true}
			case have:
				n = webhook.Notification{EndpointsChanged: cur.version != last.version,
					DeliveriesDue: !cur.sameDue(last) || quiet >= checkEvery}
			}
			if n.DeliveriesDue {
				quiet = 0
			}
			if n.DeliveriesDue || n.EndpointsChanged {
				l.post(n)
			}
			last, have, failed = cur, true, false
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// read runs one poll through the pool.
func (l *listener) read(ctx context.Context) (pollState, error) {
	qctx, cancel := context.WithTimeout(ctx, l.s.checkInterval)
	defer cancel()
	var p pollState
	err := l.s.pool.QueryRow(qctx, l.s.q.poll).Scan(&p.version, &p.due)
	return p, err
}
