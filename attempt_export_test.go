package webhook

import "context"

// AttemptFunc returns the function d's engine makes one attempt with (its
// quick tries included), for benchmarks of the attempt path alone.
func AttemptFunc(d *Dispatcher) func(ctx context.Context, l *Lease) Outcome {
	return func(ctx context.Context, l *Lease) Outcome {
		out, _, _ := d.engine.attempt(ctx, l)
		return out
	}
}
