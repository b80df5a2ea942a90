package admin

import (
	"errors"
	"net/http"
	"time"

	webhook "github.com/hooklet/webhook"
)

// Defaults of [Options].
const (
	// RotationGraceDefault is how long the old secrets of an endpoint keep
	// signing after a rotation.
	RotationGraceDefault = 24 * time.Hour
	// TestEventTypeDefault is the type of the events the "send test event"
	// action emits.
	TestEventTypeDefault = "hooklet.test"
)

// ErrForbidden, wrapped by an error of [Options.Tenant], answers 403
// Forbidden; any other error of it answers 401 Unauthorized.
var ErrForbidden = errors.New("admin: forbidden")

// Options configure the handler [NewHandler] returns. A nil *Options means
// every default: operator mode, all tenants.
type Options struct {
	// Tenant, when set, turns on tenant portal mode: it names the tenant a
	// request is for, and everything the request sees or changes is scoped
	// to that tenant. An error answers 401 Unauthorized, or 403 Forbidden
	// when it wraps [ErrForbidden]; an empty tenant answers 403. Defaults
	// to nil: operator mode, every tenant.
	Tenant func(r *http.Request) (string, error)

	// Transformer compiles the templates that the preview renders. Set it
	// to the Dispatcher's own [webhook.Config.Transformer] when that is not
	// the default. Defaults to the jsonnet Transformer with default options.
	Transformer webhook.Transformer

	// NowFunc gives the time for health windows, secret rotation and
	// sample events. Defaults to [time.Now].
	NowFunc func() time.Time

	// RotationGrace is how long the old secrets of an endpoint keep signing
	// after a rotation. Defaults to [RotationGraceDefault] (24 h).
	RotationGrace time.Duration

	// TestEventType is the type of test events. Defaults to
	// [TestEventTypeDefault] ("hooklet.test").
	TestEventType string

	// Title is shown in the console's header. Defaults to "Hooklet".
	Title string
}
