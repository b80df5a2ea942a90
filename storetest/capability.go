package storetest

import (
	"context"
	"testing"

	"github.com/hooklet/webhook"
)

// TxBeginner is implemented by a store under test that is a
// [webhook.TxEnqueuer]: BeginTx begins a host transaction of the store's
// kind, which the suite hands to EnqueueTx and then commits or rolls back.
// A store's own test adds it by wrapping the store (for pgstore, a struct
// embedding *pgstore.Store with a BeginTx over its pool). Run fails when a
// store is a TxEnqueuer but not a TxBeginner: the suite proves every
// capability a store claims.
type TxBeginner interface {
	BeginTx(ctx context.Context) (Tx, error)
}

// Tx is a host transaction begun by a [TxBeginner]; pgx.Tx satisfies it.
// The suite passes the Tx itself as EnqueueTx's tx.
type Tx interface {
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// PeerOpener is implemented by a store under test whose storage other
// processes can share: OpenPeer returns another store on the same storage,
// as a second process would open it, and registers its cleanup with
// t.Cleanup. When the store is also a [webhook.Notifier], the suite checks
// that it hears of the peer's changes.
type PeerOpener interface {
	OpenPeer(t *testing.T) webhook.Store
}

// ReadyNotifier is implemented by a [webhook.Notifier] under test whose
// notifications start some time after the first Notifications call:
// Listening returns a channel closed once they flow. The suite waits for
// it before it makes a change it expects to hear of, since a notification
// sent earlier may be lost.
type ReadyNotifier interface {
	Listening() <-chan struct{}
}

// closer is a store that can be closed.
type closer interface{ Close() error }

// capabilityGroups returns the groups a store gets beyond [webhook.Store],
// decided by what probe, one store of the factory, implements.
func capabilityGroups(probe webhook.Store) []group {
	var gs []group
	if _, ok := probe.(closer); ok {
		gs = append(gs, group{"Close", closeCases()})
	}
	if _, ok := probe.(webhook.TxEnqueuer); ok {
		gs = append(gs, group{"TxEnqueuer", txEnqueuerCases(probe)})
	}
	if _, ok := probe.(PeerOpener); ok {
		gs = append(gs, group{"Peer", append(peerCases(), orderedPeerCases()...)})
	}
	if _, ok := probe.(webhook.QueueStatser); ok {
		gs = append(gs, group{"QueueStats", queueStatsCases()})
	}
	if _, ok := probe.(webhook.Locker); ok {
		gs = append(gs, group{"Locker", lockerCases(probe)})
	}
	if _, ok := probe.(webhook.Reporter); ok {
		cases := reporterCases()
		if _, ok := probe.(PeerOpener); ok {
			cases = append(cases, reporterPeerCases()...)
		}
		gs = append(gs, group{"Reporter", cases})
	}
	if _, ok := probe.(webhook.Batcher); ok {
		cases := batcherCases()
		if _, ok := probe.(webhook.Reporter); ok {
			cases = append(cases, batchReporterCases()...)
		}
		gs = append(gs, group{"Batcher", cases})
	}
	if _, ok := probe.(webhook.Notifier); ok {
		gs = append(gs, group{"Notifier", notifierCases(probe)})
	}
	return gs
}
