package pgstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	webhook "github.com/hooklet/webhook"
)

// Enqueue stores the events and their deliveries in one statement (one
// round trip, one commit, however many items). An item whose event ID is
// already stored, or repeats an earlier item, is skipped whole; a delivery
// ID already stored, or repeated, fails the call with an error wrapping
// [webhook.ErrDuplicateDelivery] and nothing is written. When a
// pending delivery was stored, the other processes are notified; this
// Store's own [Store.Notifications] is not, since its caller knows.
func (s *Store) Enqueue(ctx context.Context, p *webhook.EnqueueParams) error {
	if err := s.check(); err != nil {
		return err
	}
	defer s.due.clear() // a write may change the next due time
	// The Dispatcher that called wakes its own engine: the listener of
	// this store skips the notification (see Store.origin).
	return s.enqueue(ctx, pgxExecutor{s.pool}, p, notifyDeliveries+":"+s.origin)
}

// EnqueueTx does what [Store.Enqueue] does inside the host's transaction
// tx on the store's database, without committing it: the events exist if
// and only if tx commits, and the NOTIFY that wakes the processes sharing
// the database (this Store's own [Store.Notifications] too) is sent inside
// tx, so it is delivered at commit and never for a rollback.
//
// tx is a pgx.Tx, a *sql.Tx of a *sql.DB opened with pgx's database/sql
// driver (github.com/jackc/pgx/v5/stdlib), or any other value with pgx.Tx's
// Exec method or database/sql's ExecContext method, such as the
// transactions of sqlc, sqlx, ent (with its sql/execquery feature) or
// the Statement.ConnPool of a GORM transaction, as long as the statement
// reaches PostgreSQL through pgx, which encodes the store's array
// parameters. A pool (*pgxpool.Pool, *sql.DB), nil, or any other value gets
// an error wrapping [webhook.ErrInvalidTx].
func (s *Store) EnqueueTx(ctx context.Context, tx any, p *webhook.EnqueueParams) error {
	if err := s.check(); err != nil {
		return err
	}
	defer s.due.clear() // a write may change the next due time
	x, err := txExecutor(tx)
	if err != nil {
		return fmt.Errorf("pgstore: enqueue: %w", err)
	}
	// Nobody knows when tx commits: every listener, this store's too, is
	// told then.
	return s.enqueue(ctx, x, p, notifyDeliveries)
}

func (s *Store) enqueue(ctx context.Context, db executor, p *webhook.EnqueueParams, note string) error {
	n := len(p.Items)
	if n == 0 {
		return nil
	}
	var (
		seen     = make(map[string]bool, n)
		evID     = make([]string, 0, n)
		evType   = make([]string, 0, n)
		evTenant = make([]string, 0, n)
		evTime   = make([]time.Time, 0, n)
		evData   = make([][]byte, 0, n)
		evAttrs  = make([]*string, 0, n)
		evParent = make([]string, 0, n)
		evState  = make([]string, 0, n)
		evKey    = make([]string, 0, n)

		dID, dEvent, dEndpoint, dState, dError, dKey []string
		dAttempts, dStatus                           []int32
		dNext, dCreated, dUpdated                    []time.Time
		dOrdered                                     []bool
	)
	for i := range p.Items {
		it := &p.Items[i]
		ev := &it.Event
		if seen[ev.ID] {
			continue
		}
		seen[ev.ID] = true
		evID = append(evID, ev.ID)
		evType = append(evType, ev.Type)
		evTenant = append(evTenant, ev.Tenant)
		evKey = append(evKey, ev.OrderingKey)
		evTime = append(evTime, ev.Time)
		payload := []byte(ev.Payload)
		if payload == nil {
			payload = []byte{}
		}
		evData = append(evData, payload)
		var attrs *string
		if ev.Attributes != nil {
			if !validMap(ev.Attributes) {
				return fmt.Errorf("pgstore: enqueue: %w: event %q: an attribute is not valid UTF-8", webhook.ErrInvalidEvent, ev.ID)
			}
			b, err := json.Marshal(ev.Attributes)
			if err != nil {
				return fmt.Errorf("pgstore: enqueue: attributes: %w", err)
			}
			a := string(b)
			attrs = &a
		}
		evAttrs = append(evAttrs, attrs)
		evParent = append(evParent, ev.TraceParent)
		evState = append(evState, ev.TraceState)
		for j := range it.Deliveries {
			d := &it.Deliveries[j]
			dID = append(dID, d.ID)
			dEvent = append(dEvent, ev.ID)
			dEndpoint = append(dEndpoint, d.EndpointID)
			dState = append(dState, string(cmp.Or(d.State, webhook.StatePending)))
			dAttempts = append(dAttempts, int32(d.Attempts))
			next := d.NextAttemptAt
			if next.IsZero() {
				next = p.Now
			}
			dNext = append(dNext, next)
			dStatus = append(dStatus, int32(d.LastStatusCode))
			dError = append(dError, d.LastError)
			created := d.CreatedAt
			if created.IsZero() {
				created = p.Now
			}
			dCreated = append(dCreated, created)
			dUpdated = append(dUpdated, cmp.Or(d.UpdatedAt, created))
			dKey = append(dKey, d.OrderingKey)
			dOrdered = append(dOrdered, d.Ordered)
		}
	}
	err := db.exec(ctx, s.q.enqueue,
		evID, evType, evTenant, evTime, evData, evAttrs, p.Now,
		dID, dEvent, dEndpoint, dState, dAttempts, dNext, dStatus, dError, dCreated, dUpdated,
		s.channel, note, evParent, evState, evKey, dKey, dOrdered)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == uniqueViolation && strings.HasPrefix(pgErr.TableName, "deliveries") {
		return fmt.Errorf("pgstore: enqueue: %w: %s", webhook.ErrDuplicateDelivery, pgErr.Detail)
	}
	return wrapInput("enqueue", err, webhook.ErrInvalidEvent)
}

// uniqueViolation is the SQLSTATE of a duplicate key.
const uniqueViolation = "23505"

// Lease hands up to Limit due deliveries to Owner until Until, earliest due
// first, each with a fresh token. Rows another process is leasing at the
// same moment are skipped, never waited for, and never handed out twice.
func (s *Store) Lease(ctx context.Context, p *webhook.LeaseParams) ([]webhook.Lease, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if p.Limit <= 0 {
		return nil, nil
	}
	exclude := p.ExcludeEndpoints
	if exclude == nil {
		exclude = []string{}
	}
	// The next due time is read in the same round trip, after the lease,
	// for the NextDue call that follows a round that left slots free.
	var (
		got []webhook.Lease
		due *time.Time
	)
	gen := s.due.begin()
	err := retryMoved(func() error {
		// A fresh batch each try: a queued query keeps the statement it
		// was prepared as on the connection of an earlier try.
		b := &pgx.Batch{}
		b.Queue(s.q.lease, p.Now, p.Owner, p.Until, p.Limit, exclude).Query(func(rows pgx.Rows) error {
			var err error
			got, err = pgx.CollectRows(rows, scanLeased(p.Until))
			return err
		})
		b.Queue(s.q.nextDue, exclude).QueryRow(func(row pgx.Row) error { return row.Scan(&due) })
		return s.pool.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return nil, wrap("lease", err)
	}
	s.due.put(gen, p.Now, exclude, due)
	sortLeases(got)
	return got, nil
}

// sortLeases puts the lease statement's rows, which come in no order,
// earliest next attempt first (an expired lease keeps the NextAttemptAt
// it was due at), a batch's members together at the earliest of theirs,
// then by ID.
func sortLeases(ls []webhook.Lease) {
	first := map[string]time.Time{} // batch ID: its members' earliest next attempt
	for i := range ls {
		d := &ls[i].Delivery
		if t, ok := first[d.BatchID]; d.BatchID != "" && (!ok || d.NextAttemptAt.Before(t)) {
			first[d.BatchID] = d.NextAttemptAt
		}
	}
	key := func(d *webhook.Delivery) time.Time {
		if d.BatchID != "" {
			return first[d.BatchID]
		}
		return d.NextAttemptAt
	}
	slices.SortFunc(ls, func(a, b webhook.Lease) int {
		return cmp.Or(key(&a.Delivery).Compare(key(&b.Delivery)), cmp.Compare(a.Delivery.ID, b.Delivery.ID))
	})
}

// scanLeased scans a row of the lease statement into a lease until until.
func scanLeased(until time.Time) pgx.RowToFunc[webhook.Lease] {
	return func(row pgx.CollectableRow) (webhook.Lease, error) {
		var (
			l     webhook.Lease
			d     = &l.Delivery
			ev    = &l.Event
			state string
			attrs []byte
		)
		err := row.Scan(&d.ID, &d.EventID, &d.EndpointID, &state, &d.Attempts, &d.NextAttemptAt,
			&d.LastStatusCode, &d.LastError, &d.CreatedAt, &d.UpdatedAt, &d.OrderingKey, &d.Ordered,
			&ev.ID, &ev.Type, &ev.Tenant, &ev.Time, &ev.Payload, &attrs,
			&ev.TraceParent, &ev.TraceState, &ev.OrderingKey,
			&l.Token, &d.ScheduleStart, &d.AwaitingReport, &d.BatchID)
		if err != nil {
			return l, err
		}
		d.State = webhook.DeliveryState(state)
		fixDelivery(d)
		if err := fixEvent(ev, attrs); err != nil {
			return l, err
		}
		l.Until = until
		return l, nil
	}
}

// ExtendLeases moves the deadline of the leases still held with the given
// tokens to Until; the others are listed as stale and left unchanged.
func (s *Store) ExtendLeases(ctx context.Context, p *webhook.ExtendLeasesParams) (webhook.BatchResult, error) {
	if err := s.check(); err != nil {
		return webhook.BatchResult{}, err
	}
	defer s.due.clear() // a write may change the next due time
	if len(p.Leases) == 0 {
		return webhook.BatchResult{}, nil
	}
	ids, tokens := splitRefs(p.Leases)
	var held []webhook.LeaseRef
	err := retryMoved(func() error {
		rows, _ := s.pool.Query(ctx, s.q.extend, ids, tokens, p.Until)
		var err error
		held, err = collectRefs(rows)
		return err
	})
	if err != nil {
		return webhook.BatchResult{}, wrap("extend leases", err)
	}
	return webhook.BatchResult{Stale: staleRefs(p.Leases, held)}, nil
}

// Complete records the outcomes in one statement: each outcome whose token
// still holds its lease appends its attempts (numbered after the
// delivery's earlier ones) and moves the delivery to its next state; the
// others are refused, listed as stale, and nothing of them is written.
// When an outcome ends a delivery, a second statement in the same
// transaction and round trip makes the next delivery of each ordered
// sequence whose head ended due.
func (s *Store) Complete(ctx context.Context, p *webhook.CompleteParams) (webhook.BatchResult, error) {
	if err := s.check(); err != nil {
		return webhook.BatchResult{}, err
	}
	defer s.due.clear() // a write may change the next due time
	n := len(p.Outcomes)
	if n == 0 {
		return webhook.BatchResult{}, nil
	}
	args, ended := completeArgs(p)
	refs := func() []webhook.LeaseRef {
		refs := make([]webhook.LeaseRef, n)
		for i := range p.Outcomes {
			refs[i] = p.Outcomes[i].Lease
		}
		return refs
	}
	var held []webhook.LeaseRef
	if !ended {
		err := retryMoved(func() error {
			rows, _ := s.pool.Query(ctx, s.q.complete, args...)
			var err error
			held, err = collectRefs(rows)
			return err
		})
		if err != nil {
			return webhook.BatchResult{}, wrap("complete", err)
		}
		return webhook.BatchResult{Stale: staleRefs(refs(), held)}, nil
	}
	// An outcome may end the head of an ordered sequence: advance runs
	// after complete, in the same implicit transaction of one pipelined
	// round trip, with a snapshot taken once complete holds the
	// sequences' rows (see the queries).
	err := retryMoved(func() error {
		b := &pgx.Batch{} // fresh each try, as in Lease
		b.Queue(s.q.complete, args...).Query(func(rows pgx.Rows) error {
			var err error
			held, err = collectRefs(rows)
			return err
		})
		b.Queue(s.q.advance, s.channel)
		return s.pool.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return webhook.BatchResult{}, wrap("complete", err)
	}
	return webhook.BatchResult{Stale: staleRefs(refs(), held)}, nil
}

// completeArgs returns the arguments of the complete statement for p's
// outcomes, and whether some outcome ends its delivery.
func completeArgs(p *webhook.CompleteParams) (args []any, ended bool) {
	n := len(p.Outcomes)
	var (
		oID, oToken, oState, oError = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		oNext                       = make([]time.Time, n)
		oN, oStatus                 = make([]int32, n), make([]int32, n)
		oHash, oClass               = make([][]byte, n), make([]string, n)

		aDelivery, aClass, aError []string
		aIdx, aStatus             []int32
		aStarted                  []time.Time
		aDuration                 []int64
		aBody                     [][]byte
		aTruncated                []bool
	)
	for i := range p.Outcomes {
		o := &p.Outcomes[i]
		oID[i], oToken[i], oState[i] = o.Lease.DeliveryID, o.Lease.Token, string(o.State)
		ended = ended || o.State.Finished()
		next := o.NextAttemptAt
		if next.IsZero() {
			next = p.Now
		}
		oNext[i] = next
		oN[i] = int32(len(o.Attempts))
		if k := len(o.Attempts); k > 0 {
			last := &o.Attempts[k-1]
			oStatus[i], oError[i] = int32(last.StatusCode), last.Error
		} else if w := o.WaitEnded; w != nil {
			oClass[i], oError[i] = string(w.Class), w.Error
		}
		if len(o.AwaitTokenHash) > 0 {
			oHash[i] = o.AwaitTokenHash
		}
		for j := range o.Attempts {
			a := &o.Attempts[j]
			aDelivery = append(aDelivery, o.Lease.DeliveryID)
			aIdx = append(aIdx, int32(j+1))
			aStarted = append(aStarted, a.StartedAt)
			aDuration = append(aDuration, int64(a.Duration))
			aStatus = append(aStatus, int32(a.StatusCode))
			aClass = append(aClass, string(a.ErrorClass))
			aError = append(aError, a.Error)
			aBody = append(aBody, a.ResponseBody)
			aTruncated = append(aTruncated, a.ResponseTruncated)
		}
	}
	args = []any{oID, oToken, oState, oNext, oN, oStatus, oError,
		aDelivery, aIdx, aStarted, aDuration, aStatus, aClass, aError, aBody, aTruncated,
		p.Now, oHash, oClass}
	return args, ended
}

// Release gives leased deliveries back without an attempt, due at Now, and
// notifies the other processes. Stale tokens are ignored.
func (s *Store) Release(ctx context.Context, p *webhook.ReleaseParams) error {
	if err := s.check(); err != nil {
		return err
	}
	defer s.due.clear() // a write may change the next due time
	if len(p.Leases) == 0 {
		return nil
	}
	ids, tokens := splitRefs(p.Leases)
	err := retryMoved(func() error {
		_, err := s.pool.Exec(ctx, s.q.release, ids, tokens, p.Now, s.channel)
		return err
	})
	return wrap("release", err)
}

// NextDue returns the earliest instant at which a pending delivery of an
// endpoint not in ExcludeEndpoints becomes due (its next attempt, or the end
// of its lease), and false when none is pending.
func (s *Store) NextDue(ctx context.Context, p *webhook.NextDueParams) (time.Time, bool, error) {
	if err := s.check(); err != nil {
		return time.Time{}, false, err
	}
	exclude := p.ExcludeEndpoints
	if exclude == nil {
		exclude = []string{}
	}
	due, ok := s.due.take(p.Now, exclude)
	if !ok {
		if err := s.pool.QueryRow(ctx, s.q.nextDue, exclude).Scan(&due); err != nil {
			return time.Time{}, false, wrap("next due", err)
		}
	}
	if due == nil {
		return time.Time{}, false, nil
	}
	return due.UTC(), true, nil
}

// GetEvent returns one event or an error wrapping webhook.ErrNotFound.
func (s *Store) GetEvent(ctx context.Context, p *webhook.GetEventParams) (webhook.Event, error) {
	if err := s.check(); err != nil {
		return webhook.Event{}, err
	}
	var (
		ev    webhook.Event
		attrs []byte
	)
	err := s.pool.QueryRow(ctx, "SELECT "+eventColumns+" FROM "+s.q.schema+".events WHERE id = $1", p.ID).
		Scan(&ev.ID, &ev.Type, &ev.Tenant, &ev.Time, &ev.Payload, &attrs, &ev.TraceParent, &ev.TraceState, &ev.OrderingKey)
	if err == nil {
		err = fixEvent(&ev, attrs)
	}
	return ev, wrap("get event", err)
}

// GetDelivery returns one delivery or an error wrapping webhook.ErrNotFound.
func (s *Store) GetDelivery(ctx context.Context, p *webhook.GetDeliveryParams) (webhook.Delivery, error) {
	if err := s.check(); err != nil {
		return webhook.Delivery{}, err
	}
	rows, _ := s.pool.Query(ctx, "SELECT "+deliveryColumns+" FROM "+s.q.schema+".deliveries WHERE id = $1", p.ID)
	d, err := pgx.CollectExactlyOneRow(rows, scanDelivery)
	return d, wrap("get delivery", err)
}

// ListDeliveries returns deliveries in ID order, filtered, a page at a time.
// The cursor is the last ID of the previous page.
func (s *Store) ListDeliveries(ctx context.Context, p *webhook.ListDeliveriesParams) (webhook.Page[webhook.Delivery], error) {
	if err := s.check(); err != nil {
		return webhook.Page[webhook.Delivery]{}, err
	}
	if p.State != "" && !p.State.Valid() {
		return webhook.Page[webhook.Delivery]{}, fmt.Errorf("pgstore: list deliveries: %w: unknown state %q", webhook.ErrInvalidParams, p.State)
	}
	limit := webhook.PageLimit(p.Limit)
	// Only the filters in use go into the statement, so each shape gets a
	// plan that uses its index.
	sql := "SELECT " + deliveryColumns + " FROM " + s.q.schema + ".deliveries WHERE id > $1"
	args := []any{p.Cursor}
	add := func(col, v string) {
		if v != "" {
			args = append(args, v)
			sql += " AND " + col + " = $" + strconv.Itoa(len(args))
		}
	}
	add("event_id", p.EventID)
	add("endpoint_id", p.EndpointID)
	add("state", string(p.State))
	if p.EventType != "" {
		args = append(args, p.EventType)
		sql += " AND event_id IN (SELECT id FROM " + s.q.schema + ".events WHERE type = $" + strconv.Itoa(len(args)) + ")"
	}
	args = append(args, limit+1)
	sql += " ORDER BY id LIMIT $" + strconv.Itoa(len(args))
	rows, _ := s.pool.Query(ctx, sql, args...)
	ds, err := pgx.CollectRows(rows, scanDelivery)
	if err != nil {
		return webhook.Page[webhook.Delivery]{}, wrap("list deliveries", err)
	}
	return page(ds, limit, func(d webhook.Delivery) string { return d.ID }), nil
}

// ListAttempts returns one delivery's attempts in the order they were made,
// a page at a time. The cursor is the number of the previous page's last
// attempt.
func (s *Store) ListAttempts(ctx context.Context, p *webhook.ListAttemptsParams) (webhook.Page[webhook.Attempt], error) {
	if err := s.check(); err != nil {
		return webhook.Page[webhook.Attempt]{}, err
	}
	after := 0
	if p.Cursor != "" {
		n, err := strconv.Atoi(p.Cursor)
		if err != nil || n < 0 {
			return webhook.Page[webhook.Attempt]{}, fmt.Errorf("pgstore: list attempts: malformed cursor %q", p.Cursor)
		}
		after = n
	}
	limit := webhook.PageLimit(p.Limit)
	rows, _ := s.pool.Query(ctx, `SELECT delivery_id, number, started_at, duration_ns, status_code, error_class,
		error, response_body, response_truncated FROM `+s.q.schema+`.attempts
		WHERE delivery_id = $1 AND number > $2 ORDER BY number LIMIT $3`, p.DeliveryID, after, limit+1)
	as, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (webhook.Attempt, error) {
		var (
			a     webhook.Attempt
			dur   int64
			class string
		)
		err := row.Scan(&a.DeliveryID, &a.Number, &a.StartedAt, &dur, &a.StatusCode, &class, &a.Error,
			&a.ResponseBody, &a.ResponseTruncated)
		a.Duration = time.Duration(dur)
		a.ErrorClass = webhook.ErrorClass(class)
		a.StartedAt = a.StartedAt.UTC()
		return a, err
	})
	if err != nil {
		return webhook.Page[webhook.Attempt]{}, wrap("list attempts", err)
	}
	if len(as) == 0 {
		// Tell an empty page from a missing delivery.
		var exists bool
		err := s.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+s.q.schema+".deliveries WHERE id = $1)", p.DeliveryID).Scan(&exists)
		if err != nil {
			return webhook.Page[webhook.Attempt]{}, wrap("list attempts", err)
		}
		if !exists {
			return webhook.Page[webhook.Attempt]{}, fmt.Errorf("pgstore: list attempts of %q: %w", p.DeliveryID, webhook.ErrNotFound)
		}
	}
	return page(as, limit, func(a webhook.Attempt) string { return strconv.Itoa(a.Number) }), nil
}

// Redeliver makes a finished delivery pending again, due at Now, keeping its
// attempts, and notifies the other processes. A pending delivery is left as
// it is; a missing one gets an error wrapping webhook.ErrNotFound.
func (s *Store) Redeliver(ctx context.Context, p *webhook.RedeliverParams) error {
	if err := s.check(); err != nil {
		return err
	}
	defer s.due.clear() // a write may change the next due time
	var exists, changed int64
	err := retryMoved(func() error {
		return s.pool.QueryRow(ctx, s.q.redeliver, p.DeliveryID, p.Now, s.channel, p.FreshSchedule).Scan(&exists, &changed)
	})
	if err != nil {
		return wrap("redeliver", err)
	}
	if exists == 0 {
		return fmt.Errorf("pgstore: redeliver %q: %w", p.DeliveryID, webhook.ErrNotFound)
	}
	return nil
}

// Prune deletes the finished deliveries last updated before Before (failed
// ones before FailedBefore, when set), with their attempts and the events
// left without deliveries. History partitions (one a day and state class)
// that lie wholly before their cut-off are dropped whole, each in a short
// transaction, with the events they leave behind; then up to Limit
// deliveries of the partitions that straddle the cut-off are deleted row
// by row in one short statement that skips rows other pruners hold. It
// returns how many deliveries it deleted; callers repeat while the count
// is at least Limit. It also creates the partitions of the days ahead.
func (s *Store) Prune(ctx context.Context, p *webhook.PruneParams) (int, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	defer s.due.clear() // a write may change the next due time
	limit := p.Limit
	if limit <= 0 {
		limit = PruneLimitDefault
	}
	failedBefore := p.Before
	if !p.FailedBefore.IsZero() {
		failedBefore = p.FailedBefore
	}
	if err := s.ensurePartitions(ctx); err != nil {
		return 0, wrap("prune", err)
	}
	dropped, err := s.dropPartitions(ctx, p.Before, failedBefore)
	if err != nil {
		return dropped, wrap("prune", err)
	}
	var n int
	err = s.pool.QueryRow(ctx, s.q.prune, p.Before, limit, failedBefore).Scan(&n)
	return dropped + n, wrap("prune", err)
}

// PruneLimitDefault is the batch size of [Store.Prune] when Limit is 0.
const PruneLimitDefault = 1000

func scanDelivery(row pgx.CollectableRow) (webhook.Delivery, error) {
	var (
		d     webhook.Delivery
		state string
	)
	err := row.Scan(&d.ID, &d.EventID, &d.EndpointID, &state, &d.Attempts, &d.NextAttemptAt,
		&d.LastStatusCode, &d.LastError, &d.CreatedAt, &d.UpdatedAt, &d.OrderingKey, &d.Ordered, &d.ScheduleStart,
		&d.AwaitingReport, &d.BatchID)
	d.State = webhook.DeliveryState(state)
	fixDelivery(&d)
	return d, err
}

// fixDelivery puts a scanned delivery's times in UTC.
func fixDelivery(d *webhook.Delivery) {
	d.NextAttemptAt = d.NextAttemptAt.UTC()
	d.CreatedAt = d.CreatedAt.UTC()
	d.UpdatedAt = d.UpdatedAt.UTC()
}

// fixEvent completes a scanned event.
func fixEvent(ev *webhook.Event, attrs []byte) error {
	ev.Time = ev.Time.UTC()
	if attrs != nil {
		if err := json.Unmarshal(attrs, &ev.Attributes); err != nil {
			return fmt.Errorf("attributes: %w", err)
		}
	}
	return nil
}

func splitRefs(refs []webhook.LeaseRef) (ids, tokens []string) {
	ids, tokens = make([]string, len(refs)), make([]string, len(refs))
	for i, r := range refs {
		ids[i], tokens[i] = r.DeliveryID, r.Token
	}
	return ids, tokens
}

// staleRefs returns the refs, in their order, that are not among held (the
// refs a batch statement found holding their deliveries), or nil.
func staleRefs(refs, held []webhook.LeaseRef) []webhook.LeaseRef {
	if len(held) == len(refs) {
		return nil // every ref held (a repeated ref is held at most once)
	}
	ok := make(map[webhook.LeaseRef]bool, len(held))
	for _, r := range held {
		ok[r] = true
	}
	var stale []webhook.LeaseRef
	for _, r := range refs {
		if !ok[r] {
			stale = append(stale, r)
		}
	}
	return stale
}

func collectRefs(rows pgx.Rows) ([]webhook.LeaseRef, error) {
	refs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (webhook.LeaseRef, error) {
		var r webhook.LeaseRef
		err := row.Scan(&r.DeliveryID, &r.Token)
		return r, err
	})
	if len(refs) == 0 {
		refs = nil
	}
	return refs, err
}
