package webhook

import (
	"context"
	"errors"
	"reflect"
	"sync"
)

// renderCacheSize bounds the renderings a renderCache keeps. The
// deliveries of one event are enqueued together and leased close
// together, so a fan-out is served by a small cache and memory stays flat.
const renderCacheSize = 256

// renderCache shares one rendering of an event among the deliveries of
// that event whose endpoints use the same compiled template, when the
// template does not read the endpoint it renders for (see
// [EndpointReader]): a fan-out to N endpoints with one template renders
// once, not N times. Concurrent deliveries of the same event wait for the
// one rendering in progress.
type renderCache struct {
	mu      sync.Mutex
	entries map[renderKey]*renderEntry
	order   []renderKey // oldest first
}

// renderKey names one rendering: the event, the compiled template, and the
// endpoint's ContentType, which a string body takes.
type renderKey struct {
	eventID     string
	tmpl        Template
	contentType string
}

type renderEntry struct {
	once sync.Once
	r    Rendered
	err  error
}

func newRenderCache() *renderCache {
	return &renderCache{entries: make(map[renderKey]*renderEntry, renderCacheSize)}
}

// shareable reports whether renderings of tmpl may be shared between
// endpoints: it says it does not read the endpoint, and it can be a map
// key.
func shareable(tmpl Template) bool {
	er, ok := tmpl.(EndpointReader)
	return ok && !er.ReadsEndpoint() && reflect.TypeOf(tmpl).Comparable()
}

// render renders in for tmpl, sharing the result with other deliveries of
// the same event when tmpl is shareable. It reports rendered when this call
// ran the template, false when it took a shared result. The Rendered it
// returns must not be modified. A rendering cut short by its context is
// not kept, and a caller that waited for one renders for itself.
func (c *renderCache) render(ctx context.Context, tmpl Template, in *RenderInput) (r Rendered, rendered bool, err error) {
	if !shareable(tmpl) || in.CallbackURL != "" {
		// A callback URL is the attempt's own.
		r, err = tmpl.Render(ctx, in)
		return r, true, err
	}
	k := renderKey{eventID: in.Event.ID, tmpl: tmpl, contentType: in.Endpoint.ContentType}
	c.mu.Lock()
	e, ok := c.entries[k]
	if !ok {
		e = &renderEntry{}
		c.entries[k] = e
		c.order = append(c.order, k)
		if len(c.order) > renderCacheSize {
			delete(c.entries, c.order[0])
			c.order[0] = renderKey{}
			c.order = c.order[1:]
		}
	}
	c.mu.Unlock()
	e.once.Do(func() {
		e.r, e.err = tmpl.Render(ctx, in)
		rendered = true
	})
	if e.err != nil && (errors.Is(e.err, context.Canceled) || errors.Is(e.err, context.DeadlineExceeded)) {
		// Cut short by the context of whichever delivery rendered it: not
		// a result to share. Render under this delivery's own context.
		c.forget(k, e)
		r, err = tmpl.Render(ctx, in)
		return r, true, err
	}
	return e.r, rendered, e.err
}

// forget drops e, if it is still k's entry.
func (c *renderCache) forget(k renderKey, e *renderEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries[k] == e {
		delete(c.entries, k)
	}
}
