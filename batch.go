package webhook

import "time"

// batcher collects the items of one store write from a channel, for the
// group commit of Emit and the batched recording of outcomes. It takes
// whatever is queued; while it holds fewer items than the last write served
// (plus those that queued during that write), it lingers for more, at most
// half as long as that write took. One write per group of callers costs
// less than one per half group, and the linger is bounded by the write it
// saves.
//
// The linger reads the system clock, not the Dispatcher's: it is an I/O
// batching detail that never decides what is sent or when a retry is due,
// so a manual test clock does not hold a first write back. (Retries of a
// failed write do wait on the Dispatcher's clock.)
type batcher[T any] struct {
	in     <-chan T
	limit  int           // most weight in one write
	weight func(T) int   // weight of one item; nil means 1
	want   int           // items the next write is likely to serve
	last   time.Duration // how long the last write took
	queued int           // items queued when the last write started
}

// collect returns first and whatever else it gathers, appended to buf[:0].
func (b *batcher[T]) collect(first T, buf []T) []T {
	batch := append(buf[:0], first)
	w := b.weigh(first)
	var linger *time.Timer
	for w < b.limit {
		var next T
		var ok bool
		select {
		case next, ok = <-b.in:
		default:
			if len(batch) >= b.want || b.last <= 0 {
				return b.started(batch)
			}
			if linger == nil {
				linger = time.NewTimer(b.last / 2)
				defer linger.Stop()
			}
			select {
			case next, ok = <-b.in:
			case <-linger.C:
				return b.started(batch)
			}
		}
		if !ok {
			break
		}
		batch = append(batch, next)
		w += b.weigh(next)
	}
	return b.started(batch)
}

func (b *batcher[T]) weigh(v T) int {
	if b.weight == nil {
		return 1
	}
	return b.weight(v)
}

func (b *batcher[T]) started(batch []T) []T {
	b.queued = len(b.in)
	return batch
}

// wrote records a finished write of n items that took d.
func (b *batcher[T]) wrote(n int, d time.Duration) {
	b.last = d
	b.want = n + max(len(b.in)-b.queued, 0)
}
