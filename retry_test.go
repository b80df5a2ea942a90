package webhook_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
)

func TestRetryPolicyDelay(t *testing.T) {
	t.Parallel()
	def := webhook.RetryPolicy{}
	require.Equal(t, 8, def.MaxAttempts())
	cases := []struct {
		name       string
		p          webhook.RetryPolicy
		attempts   int
		retryAfter time.Duration
		rnd        float64
		want       time.Duration
		ok         bool
	}{
		{"FirstRetryNoJitter", webhook.RetryPolicy{Jitter: -1}, 1, 0, 0.9, 5 * time.Second, true},
		{"SecondRetry", webhook.RetryPolicy{Jitter: -1}, 2, 0, 0, 5 * time.Minute, true},
		{"LastRetry", webhook.RetryPolicy{Jitter: -1}, 7, 0, 0, 10 * time.Hour, true},
		{"Exhausted", webhook.RetryPolicy{}, 8, 0, 0, 0, false},
		{"NoAttemptYet", webhook.RetryPolicy{}, 0, 0, 0, 0, false},
		{"JitterLow", webhook.RetryPolicy{}, 1, 0, 0, 4500 * time.Millisecond, true},
		{"JitterMid", webhook.RetryPolicy{}, 1, 0, 0.5, 5 * time.Second, true},
		{"JitterHigh", webhook.RetryPolicy{Jitter: 0.5}, 2, 0, 1, 7*time.Minute + 30*time.Second, true},
		{"RetryAfterLonger", webhook.RetryPolicy{Jitter: -1}, 1, time.Minute, 0, time.Minute, true},
		{"RetryAfterShorterDoesNotShorten", webhook.RetryPolicy{Jitter: -1}, 2, time.Second, 0, 5 * time.Minute, true},
		{"RetryAfterCapped", webhook.RetryPolicy{Jitter: -1}, 1, 48 * time.Hour, 0, time.Hour, true},
		{"CustomSchedule", webhook.RetryPolicy{Schedule: []time.Duration{time.Millisecond}, Jitter: -1}, 1, 0, 0, time.Millisecond, true},
		{"EmptyScheduleMeansOneAttempt", webhook.RetryPolicy{Schedule: []time.Duration{}}, 1, 0, 0, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, ok := c.p.Delay(c.attempts, c.retryAfter, c.rnd)
			require.Equal(t, c.ok, ok)
			require.Equal(t, c.want, got)
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"":                              0,
		"0":                             0,
		"-5":                            0,
		"30":                            30 * time.Second,
		"junk":                          0,
		"Thu, 01 Jan 2026 00:02:00 GMT": 2 * time.Minute,
		"Wed, 31 Dec 2025 00:00:00 GMT": 0,
		"99999999999999":                365 * 24 * time.Hour,
	} {
		require.Equal(t, want, webhook.ParseRetryAfter(in, now), in)
	}
}

func TestTypeMatches(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		pattern, typ string
		want         bool
	}{
		{"*", "anything", true},
		{"invoice.paid", "invoice.paid", true},
		{"invoice.paid", "invoice.paid.late", false},
		{"invoice.*", "invoice.paid", true},
		{"invoice.*", "invoice.line.added", true},
		{"invoice.*", "invoice", false},
		{"invoice.*", "invoices.paid", false},
	} {
		require.Equal(t, c.want, webhook.TypeMatches(c.pattern, c.typ), "%s ~ %s", c.pattern, c.typ)
	}
}

func TestDialGuardAddresses(t *testing.T) {
	t.Parallel()
	for addr, public := range map[string]bool{
		"93.184.216.34":      true,
		"2606:2800:220:1::1": true,
		"127.0.0.1":          false,
		"::1":                false,
		"10.1.2.3":           false,
		"172.16.0.1":         false,
		"192.168.1.1":        false,
		"169.254.169.254":    false, // cloud metadata
		"100.64.0.1":         false,
		"0.0.0.0":            false,
		"::":                 false,
		"fe80::1":            false,
		"fc00::1":            false,
		"fd00:ec2::254":      false, // cloud metadata over IPv6
		"::ffff:127.0.0.1":   false, // IPv4-mapped
		"64:ff9b::7f00:1":    false, // NAT64 of 127.0.0.1
		"64:ff9b::5db8:d822": true,  // NAT64 of a public address
		"2002:7f00:1::":      false, // 6to4 of 127.0.0.1
		"224.0.0.1":          false,
		"255.255.255.255":    false,
		"198.18.0.1":         false,
		"2001:db8::1":        false,
	} {
		require.Equal(t, public, webhook.PublicAddr(netip.MustParseAddr(addr)), addr)
	}
}
