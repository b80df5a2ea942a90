package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	webhook "github.com/hooklet/webhook"
)

// sqliteStore is the skeleton of a Store of your own: one method per
// operation of the contract, each taking its params struct. Fill in each
// method against your database, then prove the whole with the conformance
// suite from a test of your package:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) webhook.Store {
//			st := openSQLiteStore(t.TempDir())
//			t.Cleanup(func() { st.Close() })
//			return st
//		})
//	}
//
// storetest.Run runs every case of the contract in parallel subtests:
// atomic and idempotent Enqueue, exclusive leases with tokens, stale
// outcomes refused, pagination, pruning, conditional endpoint writes. A
// store that can enqueue in the host's transaction also implements
// webhook.TxEnqueuer, and one shared by processes webhook.Notifier; Run
// tests those too when the store has them.
type sqliteStore struct{}

// The compiler checks the skeleton against the contract.
var _ webhook.Store = (*sqliteStore)(nil)

var errTODO = errors.New("sqliteStore: not written yet")

func (s *sqliteStore) PutEndpoint(ctx context.Context, p *webhook.PutEndpointParams) error {
	// Honour p.IfUpdatedAt: a conditional write returns webhook.ErrConflict
	// when the stored endpoint changed since it was read.
	return errTODO
}

func (s *sqliteStore) GetEndpoint(ctx context.Context, p *webhook.GetEndpointParams) (webhook.Endpoint, error) {
	// Map "no rows" to webhook.ErrNotFound.
	return webhook.Endpoint{}, errTODO
}

func (s *sqliteStore) DeleteEndpoint(ctx context.Context, p *webhook.DeleteEndpointParams) error {
	return errTODO
}

func (s *sqliteStore) ListEndpoints(ctx context.Context, p *webhook.ListEndpointsParams) (webhook.Page[webhook.Endpoint], error) {
	// Page sizes follow webhook.PageLimit(p.Limit).
	return webhook.Page[webhook.Endpoint]{}, errTODO
}

func (s *sqliteStore) Enqueue(ctx context.Context, p *webhook.EnqueueParams) error {
	// One durable transaction for every item; an event ID already stored
	// skips its item.
	return errTODO
}

func (s *sqliteStore) Lease(ctx context.Context, p *webhook.LeaseParams) ([]webhook.Lease, error) {
	// Never hand one delivery to two live owners; each lease gets a fresh
	// token.
	return nil, errTODO
}

func (s *sqliteStore) ExtendLeases(ctx context.Context, p *webhook.ExtendLeasesParams) (webhook.BatchResult, error) {
	return webhook.BatchResult{}, errTODO
}

func (s *sqliteStore) Complete(ctx context.Context, p *webhook.CompleteParams) (webhook.BatchResult, error) {
	// Refuse the outcomes whose token is stale; record the others.
	return webhook.BatchResult{}, errTODO
}

func (s *sqliteStore) Release(ctx context.Context, p *webhook.ReleaseParams) error {
	return errTODO
}

func (s *sqliteStore) NextDue(ctx context.Context, p *webhook.NextDueParams) (time.Time, bool, error) {
	return time.Time{}, false, errTODO
}

func (s *sqliteStore) GetEvent(ctx context.Context, p *webhook.GetEventParams) (webhook.Event, error) {
	return webhook.Event{}, errTODO
}

func (s *sqliteStore) GetDelivery(ctx context.Context, p *webhook.GetDeliveryParams) (webhook.Delivery, error) {
	return webhook.Delivery{}, errTODO
}

func (s *sqliteStore) ListDeliveries(ctx context.Context, p *webhook.ListDeliveriesParams) (webhook.Page[webhook.Delivery], error) {
	return webhook.Page[webhook.Delivery]{}, errTODO
}

func (s *sqliteStore) ListAttempts(ctx context.Context, p *webhook.ListAttemptsParams) (webhook.Page[webhook.Attempt], error) {
	return webhook.Page[webhook.Attempt]{}, errTODO
}

func (s *sqliteStore) Redeliver(ctx context.Context, p *webhook.RedeliverParams) error {
	return errTODO
}

func (s *sqliteStore) Prune(ctx context.Context, p *webhook.PruneParams) (int, error) {
	return 0, errTODO
}

func (s *sqliteStore) ListEvents(ctx context.Context, p *webhook.ListEventsParams) (webhook.Page[webhook.Event], error) {
	// Order by (stored time, ID); an index on both makes it cheap.
	return webhook.Page[webhook.Event]{}, errTODO
}

func (s *sqliteStore) AddDeliveries(ctx context.Context, p *webhook.AddDeliveriesParams) (int, error) {
	// Skip a delivery whose event is gone or already goes to its endpoint.
	return 0, errTODO
}

// A Store of your own plugs into Config.Store like the stores Hooklet
// ships; this skeleton shows every method it needs.
func ExampleStore() {
	d, err := webhook.New(webhook.Config{Store: &sqliteStore{}})
	if err != nil {
		panic(err)
	}
	defer d.Close(context.Background())
	_, err = d.Endpoint(context.Background(), "ep_1")
	fmt.Println(err)
	// Output:
	// sqliteStore: not written yet
}
