package memstore

import (
	"context"
	"crypto/subtle"
	"fmt"
	"strconv"

	"github.com/hooklet/webhook"
)

var _ webhook.Reporter = (*Store)(nil)

// failLast marks the delivery's last attempt, the one that awaited a
// report, failed as w says.
func (r *deliveryRec) failLast(w *webhook.AttemptFailure) {
	if n := len(r.attempts); n > 0 {
		r.attempts[n-1].ErrorClass, r.attempts[n-1].Error = w.Class, w.Error
	}
	r.d.LastError = w.Error
}

// Report records a receiver's report on a delivery that awaits one with
// the token hash given, and applies it; see [webhook.Reporter].
func (s *Store) Report(ctx context.Context, p *webhook.ReportParams) (webhook.Delivery, error) {
	if err := s.lock(ctx); err != nil {
		return webhook.Delivery{}, err
	}
	defer s.mu.Unlock()
	r, ok := s.deliveries[p.DeliveryID]
	if !ok {
		return webhook.Delivery{}, notFound("delivery", p.DeliveryID)
	}
	if !r.awaits(p) {
		return webhook.Delivery{}, fmt.Errorf("memstore: report on delivery %q: %w", p.DeliveryID, webhook.ErrReportRefused)
	}
	if p.Batch && r.d.BatchID != "" {
		for _, m := range s.deliveries {
			if m != r && m.d.BatchID == r.d.BatchID && m.awaits(p) {
				m.report(p)
			}
		}
	}
	r.report(p)
	return r.d, nil
}

// awaits reports whether r takes the report p: it awaits one under p's
// token hash, is not leased, and its wait has not ended.
func (r *deliveryRec) awaits(p *webhook.ReportParams) bool {
	return r.d.State == webhook.StatePending && r.d.AwaitingReport && r.token == "" &&
		p.Now.Before(r.d.NextAttemptAt) && subtle.ConstantTimeCompare(r.ackHash, p.TokenHash) == 1
}

// report records p on r and applies it.
func (r *deliveryRec) report(p *webhook.ReportParams) {
	rep := p.Report
	rep.DeliveryID, rep.Number, rep.Attempt, rep.ReceivedAt = r.d.ID, len(r.reports)+1, r.d.Attempts, p.Now
	r.reports = append(r.reports, rep)
	r.d.UpdatedAt = p.Now
	if rep.Status == webhook.ReportRunning {
		r.d.NextAttemptAt = p.NextAttemptAt
		return
	}
	if p.Failure != nil {
		r.failLast(p.Failure)
	}
	r.ackHash, r.d.AwaitingReport = nil, false
	r.d.State = p.State
	if p.State == webhook.StatePending {
		r.d.NextAttemptAt = p.NextAttemptAt
	}
}

// ListReports returns a delivery's reports in the order they were
// recorded, a page at a time. The cursor is the count already listed.
func (s *Store) ListReports(ctx context.Context, p *webhook.ListReportsParams) (webhook.Page[webhook.Report], error) {
	if err := s.lock(ctx); err != nil {
		return webhook.Page[webhook.Report]{}, err
	}
	defer s.mu.Unlock()
	r, ok := s.deliveries[p.DeliveryID]
	if !ok {
		return webhook.Page[webhook.Report]{}, notFound("delivery", p.DeliveryID)
	}
	start := 0
	if p.Cursor != "" {
		n, err := strconv.Atoi(p.Cursor)
		if err != nil || n < 0 {
			return webhook.Page[webhook.Report]{}, fmt.Errorf("memstore: invalid cursor %q", p.Cursor)
		}
		start = min(n, len(r.reports))
	}
	end := min(start+webhook.PageLimit(p.Limit), len(r.reports))
	pg := webhook.Page[webhook.Report]{Items: append([]webhook.Report{}, r.reports[start:end]...)}
	if end < len(r.reports) {
		pg.Next = strconv.Itoa(end)
	}
	return pg, nil
}
