package webhook

// WaitTemplate blocks until every evaluation of a jsonnet template,
// including those Render gave up on, has returned.
func WaitTemplate(t Template) { t.(*jsonnetTemplate).wait() }

// FormatMaxWidth exposes formatMaxWidth to the external tests.
var FormatMaxWidth = formatMaxWidth
