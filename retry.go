package webhook

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// RetryPolicy decides whether and when a failed attempt is tried again.
// The zero value is the default policy: attempts at 0, 5 s, 5 min, 30 min,
// 2 h, 5 h, 10 h and 10 h after the previous one, each delay jittered by
// ±10 %, then the delivery fails for good.
//
// Network errors, timeouts, 408, 429 and 5xx are retried. 410 Gone fails the
// delivery and disables the endpoint. Other answers outside 2xx (3xx and
// 4xx; redirects are not followed) are retried unless StopOnClientError is
// set.
type RetryPolicy struct {
	// Schedule lists the delays before the second, third, ... attempt; its
	// length plus one is the number of attempts. Defaults to
	// [RetryScheduleDefault]. The policy reads it and never changes it.
	Schedule []time.Duration
	// Jitter spreads each delay uniformly by ± this fraction, so retries
	// of many deliveries do not arrive together. Defaults to 0.1; a negative
	// value turns jitter off. At most 1.
	Jitter float64
	// MaxRetryAfter caps how long a Retry-After answer may postpone the
	// next attempt. A Retry-After shorter than the scheduled delay does not
	// shorten it. Defaults to [MaxRetryAfterDefault].
	MaxRetryAfter time.Duration
	// StopOnClientError fails the delivery at once on a 3xx or 4xx answer
	// other than 408, 410 and 429.
	StopOnClientError bool
}

// RetryScheduleDefault returns the delay before each retry of the default
// [RetryPolicy]: 8 attempts over about 28 hours. Each call returns a new
// slice the caller owns.
func RetryScheduleDefault() []time.Duration { return slices.Clone(retryScheduleDefault) }

// retryScheduleDefault is shared by every default policy and never
// changed.
var retryScheduleDefault = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute,
	2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
}

// Defaults of [RetryPolicy].
const (
	JitterDefault        = 0.1
	MaxRetryAfterDefault = time.Hour
	maxScheduleLen       = 100
)

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.Schedule == nil {
		p.Schedule = retryScheduleDefault
	}
	if p.Jitter == 0 {
		p.Jitter = JitterDefault
	}
	if p.MaxRetryAfter == 0 {
		p.MaxRetryAfter = MaxRetryAfterDefault
	}
	return p
}

func (p RetryPolicy) validate() error {
	if len(p.Schedule) > maxScheduleLen {
		return fmt.Errorf("schedule longer than %d", maxScheduleLen)
	}
	for i, d := range p.Schedule {
		if d < 0 {
			return fmt.Errorf("schedule[%d] is negative", i)
		}
	}
	if p.Jitter > 1 {
		return fmt.Errorf("jitter %v exceeds 1", p.Jitter)
	}
	if p.MaxRetryAfter < 0 {
		return fmt.Errorf("max retry-after is negative")
	}
	return nil
}

// MaxAttempts returns the number of attempts the policy allows.
func (p RetryPolicy) MaxAttempts() int { return len(p.withDefaults().Schedule) + 1 }

// verdict is what one attempt means for its delivery.
type verdict int

const (
	verdictSuccess verdict = iota
	verdictRetry
	verdictFail           // fail the delivery now
	verdictFailAndDisable // fail and disable the endpoint (410 Gone)
)

// classify judges an attempt by its status code (0 when no answer came).
func (p RetryPolicy) classify(status int) verdict {
	switch {
	case status == 0:
		return verdictRetry
	case status >= 200 && status < 300:
		return verdictSuccess
	case status == http.StatusGone:
		return verdictFailAndDisable
	case status == http.StatusRequestTimeout, status == http.StatusTooManyRequests, status >= 500:
		return verdictRetry
	case p.StopOnClientError:
		return verdictFail
	default:
		return verdictRetry
	}
}

// Delay returns the jittered delay before attempt number attempts+1, given
// that attempts have been made, and false when the policy allows no more
// attempts. rnd is a number in [0, 1) that picks the jitter.
func (p RetryPolicy) Delay(attempts int, retryAfter time.Duration, rnd float64) (time.Duration, bool) {
	p = p.withDefaults()
	if attempts < 1 || attempts > len(p.Schedule) {
		return 0, false
	}
	d := p.Schedule[attempts-1]
	if p.Jitter > 0 {
		d += time.Duration(float64(d) * p.Jitter * (2*rnd - 1))
	}
	if retryAfter > 0 {
		retryAfter = min(retryAfter, p.MaxRetryAfter)
		d = max(d, retryAfter)
	}
	return d, true
}

// next decides the delivery's state after an attempt with the given status
// (0 for no answer), the attempt being number attempts.
func (p RetryPolicy) next(attempts, status int, retryAfter time.Duration, now time.Time) (DeliveryState, time.Time, verdict) {
	v := p.classify(status)
	switch v {
	case verdictSuccess:
		return StateSucceeded, time.Time{}, v
	case verdictFail, verdictFailAndDisable:
		return StateFailed, time.Time{}, v
	}
	d, ok := p.Delay(attempts, retryAfter, rand.Float64())
	if !ok {
		return StateFailed, time.Time{}, verdictFail
	}
	return StatePending, now.Add(d), v
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(365*24*time.Hour/time.Second) {
			secs = int64(365 * 24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
