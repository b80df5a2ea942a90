package webhook

import (
	"context"
	"time"
)

// ReportStatus is what a receiver reports of the work a request handed it.
type ReportStatus string

// Report statuses, as a receiver posts them in the "status" field.
const (
	// ReportRunning: the work goes on. The wait starts anew: the receiver
	// has another [Endpoint.AckTimeout] to report again.
	ReportRunning ReportStatus = "running"
	// ReportSucceeded: the work is done; the delivery succeeds.
	ReportSucceeded ReportStatus = "succeeded"
	// ReportFailed: the work failed; the attempt counts as failed
	// ([ClassAckFailed]) and the retry policy decides what follows.
	ReportFailed ReportStatus = "failed"
)

// Valid reports whether s is one of the three report statuses.
func (s ReportStatus) Valid() bool {
	switch s {
	case ReportRunning, ReportSucceeded, ReportFailed:
		return true
	}
	return false
}

// Report is one report a receiver posted to the callback URL of an
// attempt (see [Endpoint.AckTimeout] and [Dispatcher.CallbackHandler]).
type Report struct {
	DeliveryID string
	// Number counts the delivery's reports from 1, in the order they were
	// recorded.
	Number int
	// Attempt is the number of the attempt whose request carried the
	// callback URL.
	Attempt int
	Status  ReportStatus
	// Message is the receiver's text: valid UTF-8, at most
	// [ReportMaxMessageBytes].
	Message string
	// Progress is the receiver's estimate of the work done, from 0 to 1; 0
	// when it gave none.
	Progress   float64
	ReceivedAt time.Time
}

// Reporter is implemented by stores that keep receivers' reports, which
// [Endpoint.AckTimeout] needs: memstore, boltstore and pgstore do. It
// shares the [Store] contract: safe for concurrent use, ctx honoured,
// [ErrClosed] once closed, times given in params.
type Reporter interface {
	// Report records a receiver's report and applies it to the delivery,
	// in one atomic and durable write. It writes only if the delivery is
	// pending, awaits a report ([Delivery.AwaitingReport]), is not
	// leased, Now is before its NextAttemptAt (the end of the wait), and
	// TokenHash equals the [Outcome.AwaitTokenHash] that began the wait;
	// otherwise it returns an error wrapping [ErrReportRefused]
	// ([ErrNotFound] when the delivery is missing) and changes nothing.
	// Of two reports racing each other, or a report racing the Lease that
	// ends a wait, exactly one wins.
	//
	// The report is appended (DeliveryID, Number, Attempt and ReceivedAt
	// set by the store: Attempt is the delivery's Attempts, ReceivedAt is
	// Now) and the delivery's UpdatedAt becomes Now. Then, by the report's
	// Status:
	//
	//   - running: the delivery keeps waiting, NextAttemptAt becomes
	//     p.NextAttemptAt, and the token stays good;
	//   - succeeded or failed: the wait ends (the token is dead) and the
	//     delivery moves to p.State (at p.NextAttemptAt when that is
	//     pending). With p.Failure, its last attempt (the one that
	//     awaited) takes the failure's Class and Error, and so does its
	//     LastError.
	//
	// It returns the delivery as written.
	Report(ctx context.Context, p *ReportParams) (Delivery, error)
	// ListReports returns one delivery's reports in the order they were
	// recorded, a page at a time (see [PageLimit]); a missing delivery
	// yields [ErrNotFound]. Prune deletes a delivery's reports with it.
	ListReports(ctx context.Context, p *ListReportsParams) (Page[Report], error)
}

// ReportParams are the parameters of [Reporter.Report].
type ReportParams struct {
	DeliveryID string
	// TokenHash is the SHA-256 of the token the report came with.
	TokenHash []byte
	// Report holds the Status, Message and Progress the receiver posted.
	Report Report
	// State and NextAttemptAt are the delivery's next state: for running,
	// pending with the new end of the wait; for succeeded, succeeded; for
	// failed, what the retry policy makes of a failed attempt.
	State         DeliveryState
	NextAttemptAt time.Time
	// Failure, for a failed report, marks the awaiting attempt failed.
	Failure *AttemptFailure
	Now     time.Time
	// Batch applies the report to the delivery's whole batch: when the
	// delivery has a BatchID (see [Batcher]), every other pending delivery
	// of that batch that awaits a report under the same TokenHash, is not
	// leased and whose wait has not ended gets the report too, in the same
	// write, as if reported on its own. The delivery DeliveryID decides:
	// when it is refused, nothing is written. Report returns the delivery
	// DeliveryID as written.
	Batch bool
}

// ListReportsParams are the parameters of [Reporter.ListReports].
type ListReportsParams struct {
	DeliveryID string
	Cursor     string
	// Limit caps the page size; see [PageLimit].
	Limit int
}

// Limits of a receiver's report.
const (
	// ReportMaxBytes caps the body of a report posted to the callback
	// handler: 64 KiB. A longer body is answered 413.
	ReportMaxBytes = 64 << 10
	// ReportMaxMessageBytes caps the message kept of a report: 1 KiB; a
	// longer one is cut.
	ReportMaxMessageBytes = 1 << 10
)
