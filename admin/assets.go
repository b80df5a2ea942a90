package admin

import "embed"

// assets holds the console's page templates and its static files: one
// style sheet and one script, served from /static/.
//
//go:embed assets/templates/*.html assets/static
var assets embed.FS
