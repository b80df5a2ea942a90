package webhook

import "time"

// Internal names exported to the external tests of this package.
var (
	PublicAddr      = publicAddr
	ParseRetryAfter = parseRetryAfter
	TypeMatches     = typeMatches
)

// QuickPause returns the pause of q before try number try+1.
func QuickPause(q QuickRetry, try int, rnd float64) time.Duration {
	return q.withDefaults().pause(try, rnd)
}
