package pgstore

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"

	webhook "github.com/hooklet/webhook"
)

// Reconnect backoff of the notification listener.
const (
	listenBackoffMin = 100 * time.Millisecond
	listenBackoffMax = 5 * time.Second
)

// Notifications returns a channel that receives a value after a process
// sharing the database enqueued or released deliveries or changed
// endpoints. This Store's own writes are reported too, except Enqueue,
// whose caller knows; EnqueueTx is reported when its transaction commits.
//
// The first call starts a listener on a dedicated connection (outside the
// pool, made with the pool's configuration or [Options.ListenerConnString]),
// which reconnects with backoff when lost and then reports both kinds of
// change, since notifications sent while it was away are gone. After
// [Options.CheckInterval] without a notification it checks its connection
// and the endpoints version in one query and reports DeliveriesDue (and
// EndpointsChanged when the version moved), so a lost notification delays
// work or endpoint changes by at most that interval.
//
// With [Options.PollInterval] set, the first call starts a poller instead:
// every interval it reads the endpoints version and the earliest due
// delivery through the pool and reports EndpointsChanged or DeliveriesDue
// when they moved (this Store's own Enqueue included), DeliveriesDue at
// least once per check interval, and both after a failed poll.
//
// Values are coalesced while the receiver is busy. The channel is closed by
// [Store.Close]; after Close it is returned closed.
func (s *Store) Notifications() <-chan webhook.Notification {
	s.listenMu.Lock()
	defer s.listenMu.Unlock()
	if s.listener == nil {
		s.listener = newListener(s)
		if s.closed.Load() {
			s.listener.stop()
		}
	}
	return s.listener.out
}

// listener receives NOTIFY on its own connection and hands merged
// notifications to the channel.
type listener struct {
	s      *Store
	self   string // payload of this store's own Enqueue notifications
	out    chan webhook.Notification
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once

	mu      sync.Mutex
	pending webhook.Notification
	kick    chan struct{} // cap 1: pending has something

	ready     chan struct{} // closed once the first LISTEN is in place
	readyOnce sync.Once
}

func newListener(s *Store) *listener {
	ctx, cancel := context.WithCancel(context.Background())
	l := &listener{s: s, self: notifyDeliveries + ":" + s.origin, out: make(chan webhook.Notification), cancel: cancel, kick: make(chan struct{}, 1),
		ready: make(chan struct{})}
	l.wg.Add(2)
	if s.pollInterval > 0 {
		go l.poll(ctx)
	} else {
		go l.listen(ctx)
	}
	go l.forward(ctx)
	return l
}

// stop ends both goroutines and closes out. It is safe to call more than
// once.
func (l *listener) stop() {
	l.once.Do(func() {
		l.cancel()
		l.wg.Wait()
		close(l.out)
	})
}

// post merges n into the pending notification.
func (l *listener) post(n webhook.Notification) {
	l.mu.Lock()
	l.pending.EndpointsChanged = l.pending.EndpointsChanged || n.EndpointsChanged
	l.pending.DeliveriesDue = l.pending.DeliveriesDue || n.DeliveriesDue
	l.mu.Unlock()
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// forward sends the pending notification whenever there is one.
func (l *listener) forward(ctx context.Context) {
	defer l.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.kick:
		}
		l.mu.Lock()
		n := l.pending
		l.pending = webhook.Notification{}
		l.mu.Unlock()
		if !n.EndpointsChanged && !n.DeliveriesDue {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case l.out <- n:
		}
	}
}

// listen keeps a LISTEN session open until ctx ends.
func (l *listener) listen(ctx context.Context) {
	defer l.wg.Done()
	backoff := listenBackoffMin
	for first := true; ; first = false {
		connected := l.session(ctx, !first)
		if ctx.Err() != nil {
			return
		}
		if connected {
			backoff = listenBackoffMin
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, listenBackoffMax)
	}
}

// versionCheckTimeoutMin is the least time the listener's periodic version
// check may take before the connection is given up as broken.
const versionCheckTimeoutMin = 5 * time.Second

// session connects, listens and posts notifications until the connection
// fails or ctx ends. Every check interval without a notification, it reads
// the endpoints version (which also checks the connection) and posts
// DeliveriesDue, and EndpointsChanged when the version moved, so that
// changes whose notification was lost are still found. It reports whether it got as far as
// listening.
func (l *listener) session(ctx context.Context, reconnect bool) bool {
	cfg := l.s.listenConfig.Copy()
	// A timed-out wait must leave the connection usable: a deadline, never
	// a cancel request that could hit the next query.
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: c.Conn()}
	}
	// Operators can tell the listener apart in pg_stat_activity.
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["application_name"] = "hooklet listener " + l.s.channel
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{l.s.channel}.Sanitize()); err != nil {
		return false
	}
	// The endpoints version, read after LISTEN: a change after this point
	// is either notified or seen by the next check.
	var version int64
	if err := conn.QueryRow(ctx, l.s.q.version).Scan(&version); err != nil {
		return false
	}
	l.readyOnce.Do(func() { close(l.ready) })
	if reconnect {
		// Whatever was sent while the listener was away is lost.
		l.post(webhook.Notification{EndpointsChanged: true, DeliveriesDue: true})
	}
	for {
		wctx, cancel := context.WithTimeout(ctx, l.s.checkInterval)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil && n.Payload == notifyEndpoints:
			l.post(webhook.Notification{EndpointsChanged: true})
		case err == nil && n.Payload == l.self:
			// This store's own Enqueue: its caller woke its engine.
		case err == nil:
			l.post(webhook.Notification{DeliveriesDue: true})
		case ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded):
			return true
		default:
			// Quiet for a whole interval: check the connection and the
			// endpoints version in one cheap query.
			var v int64
			// Bounded, but never so tightly that a busy database turns
			// the check into a reconnect.
			qctx, cancel := context.WithTimeout(ctx, max(l.s.checkInterval, versionCheckTimeoutMin))
			err := conn.QueryRow(qctx, l.s.q.version).Scan(&v)
			cancel()
			if err != nil {
				return true
			}
			l.post(webhook.Notification{DeliveriesDue: true, EndpointsChanged: v != version})
			version = v
		}
	}
}
