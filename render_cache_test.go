package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
)

// renderCountingTransformer compiles every text to one shared template that
// counts its renders.
type renderCountingTransformer struct {
	readsEndpoint bool
	mu            sync.Mutex
	tmpls         map[string]*renderCountingTemplate
}

func (c *renderCountingTransformer) Compile(src string) (webhook.Template, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tmpls == nil {
		c.tmpls = map[string]*renderCountingTemplate{}
	}
	if c.tmpls[src] == nil {
		c.tmpls[src] = &renderCountingTemplate{readsEndpoint: c.readsEndpoint}
	}
	return c.tmpls[src], nil
}

type renderCountingTemplate struct {
	readsEndpoint bool
	renders       atomic.Int32
}

func (t *renderCountingTemplate) Render(_ context.Context, in *webhook.RenderInput) (webhook.Rendered, error) {
	t.renders.Add(1)
	return webhook.Rendered{Body: []byte(fmt.Sprintf(`{"event":%q}`, in.Event.ID)), ContentType: "application/json"}, nil
}

func (t *renderCountingTemplate) ReadsEndpoint() bool { return t.readsEndpoint }

// The deliveries of one event to endpoints that share a template render it
// once, unless the template reads the endpoint.
func TestRenderOncePerEvent(t *testing.T) {
	t.Parallel()
	for _, reads := range []bool{false, true} {
		t.Run(fmt.Sprintf("ReadsEndpoint=%v", reads), func(t *testing.T) {
			t.Parallel()
			tr := &renderCountingTransformer{readsEndpoint: reads}
			b := setup(t, webhook.Config{Transformer: tr})
			rc := newReceiver(t, nil)
			const n = 3
			for i := range n {
				b.addEndpoint(t, fmt.Sprintf("ep_%d", i), rc.URL, func(ep *webhook.Endpoint) { ep.Template = "shared" })
			}
			ev := b.emit(t, "a")
			for range n {
				require.JSONEq(t, fmt.Sprintf(`{"event":%q}`, ev.ID), string(rc.next(t).Body))
			}
			want := int32(1)
			if reads {
				want = n
			}
			require.Equal(t, want, tr.tmpls["shared"].renders.Load())
		})
	}
}

// A jsonnet template that reads the endpoint renders for each endpoint; one
// that does not renders the same body for all.
func TestRenderOnceJsonnet(t *testing.T) {
	t.Parallel()
	b := setup(t, webhook.Config{})
	rc := newReceiver(t, nil)
	for _, id := range []string{"ep_a", "ep_b"} {
		b.addEndpoint(t, id, rc.URL, func(ep *webhook.Endpoint) {
			ep.Template = `local e = import "hooklet.libsonnet"; {id: e.id, to: e.endpoint.id}`
		})
	}
	ev := b.emit(t, "a")
	got := map[string]bool{}
	for range 2 {
		var body struct{ ID, To string }
		require.NoError(t, json.Unmarshal(rc.next(t).Body, &body))
		require.Equal(t, ev.ID, body.ID)
		got[body.To] = true
	}
	require.Equal(t, map[string]bool{"ep_a": true, "ep_b": true}, got)
}
