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
	// Quick is the quick stage of a two-level retry: tries made at once,
	// within the first attempt of the delivery's schedule, before the
	// Schedule takes over.
	// Off by default; see [QuickRetry].
	Quick QuickRetry
}

// QuickRetry configures quick in-attempt retries: when the first attempt
// at a delivery (or of its fresh schedule after a redelivery) gets no answer, a 429 without Retry-After or a 5xx, it is
// tried again after a short pause, up to Tries tries in all, before the
// delivery waits for the next attempt of the [RetryPolicy.Schedule]. Every
// try is recorded as an attempt; the Schedule then counts from the last
// one, so quick tries add to [RetryPolicy.MaxAttempts] and take none of
// the Schedule's. Pauses go by the Dispatcher's clock.
//
// The zero value is off. [QuickRetryDefault] returns the stage Amplitude
// uses: 3 tries, 100 ms doubling, 50 % jitter, giving up after 4 s. A
// quick try is not made while the endpoint's circuit is open or its rate
// limit allows no request at once: the delivery then goes on with its
// Schedule.
type QuickRetry struct {
	// Tries is how many tries the first attempt makes at most, the first
	// one included. 0 or 1 turns the quick stage off.
	Tries int
	// Initial is the pause before the second try, doubling for each
	// further one. Defaults to [QuickInitialDefault] (100 ms).
	Initial time.Duration
	// Max caps the pause between tries. Defaults to [QuickMaxDefault]
	// (1 s).
	Max time.Duration
	// Jitter spreads each pause uniformly by ± this fraction. Defaults to
	// 0.5; a negative value turns jitter off. At most 1.
	Jitter float64
	// GiveUpAfter ends the quick stage when the next try would start this
	// long after the first. Defaults to [QuickGiveUpAfterDefault] (4 s).
	GiveUpAfter time.Duration
}

// Defaults of [QuickRetry].
const (
	QuickTriesDefault       = 3
	QuickInitialDefault     = 100 * time.Millisecond
	QuickMaxDefault         = time.Second
	QuickJitterDefault      = 0.5
	QuickGiveUpAfterDefault = 4 * time.Second
	maxQuickTries           = 10
)

// QuickRetryDefault returns the quick stage Amplitude uses: 3 tries, 100 ms
// doubling, 50 % jitter, giving up after 4 s.
func QuickRetryDefault() QuickRetry {
	return QuickRetry{
		Tries: QuickTriesDefault, Initial: QuickInitialDefault, Max: QuickMaxDefault,
		Jitter: QuickJitterDefault, GiveUpAfter: QuickGiveUpAfterDefault,
	}
}

// on reports whether the quick stage is on.
func (q QuickRetry) on() bool { return q.Tries > 1 }

func (q QuickRetry) withDefaults() QuickRetry {
	if !q.on() {
		return QuickRetry{}
	}
	if q.Initial == 0 {
		q.Initial = QuickInitialDefault
	}
	if q.Max == 0 {
		q.Max = max(QuickMaxDefault, q.Initial)
	}
	if q.Jitter == 0 {
		q.Jitter = QuickJitterDefault
	}
	if q.GiveUpAfter == 0 {
		q.GiveUpAfter = QuickGiveUpAfterDefault
	}
	return q
}

func (q QuickRetry) validate() error {
	switch {
	case q.Tries < 0:
		return fmt.Errorf("quick tries must not be negative")
	case q.Tries > maxQuickTries:
		return fmt.Errorf("quick tries exceed %d", maxQuickTries)
	case q.Initial < 0 || q.Max < 0 || q.GiveUpAfter < 0:
		return fmt.Errorf("quick pauses must not be negative")
	case q.Jitter > 1:
		return fmt.Errorf("quick jitter %v exceeds 1", q.Jitter)
	}
	return nil
}

// pause returns the jittered pause before try number try+1 (try >= 1),
// given rnd in [0, 1).
func (q QuickRetry) pause(try int, rnd float64) time.Duration {
	d := q.Initial
	for i := 1; i < try && d < q.Max; i++ {
		d *= 2
	}
	d = min(d, q.Max)
	if q.Jitter > 0 {
		d += time.Duration(float64(d) * q.Jitter * (2*rnd - 1))
	}
	return d
}

// quickRetryable reports whether an answer (status 0: none) is tried again
// in the quick stage.
func quickRetryable(status int, retryAfter time.Duration) bool {
	switch {
	case status == 0, status >= 500:
		return retryAfter == 0
	case status == http.StatusTooManyRequests:
		return retryAfter == 0
	}
	return false
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
	p.Quick = p.Quick.withDefaults()
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
	return p.Quick.validate()
}

// MaxAttempts returns the number of attempts the policy allows, quick
// tries included.
func (p RetryPolicy) MaxAttempts() int {
	p = p.withDefaults()
	return len(p.Schedule) + 1 + p.quickExtra()
}

// quickExtra is how many attempts the quick stage adds to the Schedule's.
func (p RetryPolicy) quickExtra() int {
	if !p.Quick.on() {
		return 0
	}
	return p.Quick.Tries - 1
}

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
// (0 for no answer), the attempt being number attempts. The quick stage's
// tries count as one attempt of the Schedule: the Schedule goes on from
// the last of them.
func (p RetryPolicy) next(attempts, status int, retryAfter time.Duration, now time.Time) (DeliveryState, time.Time, verdict) {
	v := p.classify(status)
	attempts = max(1, attempts-p.quickExtra())
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
