package webhook

// Internal names exported to the external tests of this package.
var (
	PublicAddr      = publicAddr
	ParseRetryAfter = parseRetryAfter
	TypeMatches     = typeMatches
)
