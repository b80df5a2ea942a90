package webhook

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// ctxTemplate renders "ok", or fails with its context's error once that
// context ends. It reads no endpoint, so its renderings are shared.
type ctxTemplate struct{}

func (*ctxTemplate) Render(ctx context.Context, _ *RenderInput) (Rendered, error) {
	if err := ctx.Err(); err != nil {
		return Rendered{}, err
	}
	return Rendered{Body: []byte(`"ok"`)}, nil
}

func (*ctxTemplate) ReadsEndpoint() bool { return false }

// A rendering cut short by one delivery's context is not handed to the
// next delivery of the same event, nor counted twice.
func TestRenderCacheDoesNotShareCancellation(t *testing.T) {
	t.Parallel()
	c := newRenderCache()
	tmpl := &ctxTemplate{}
	in := &RenderInput{Event: &Event{ID: "evt_1"}, Endpoint: &Endpoint{ID: "ep_1"}}

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	_, rendered, err := c.render(cancelled, tmpl, in)
	require.ErrorIs(t, err, context.Canceled)
	require.True(t, rendered)

	r, rendered, err := c.render(context.Background(), tmpl, in)
	require.NoError(t, err)
	require.True(t, rendered, "the cancelled rendering was not kept")
	require.Equal(t, `"ok"`, string(r.Body))

	r, rendered, err = c.render(context.Background(), tmpl, &RenderInput{Event: in.Event, Endpoint: &Endpoint{ID: "ep_2"}})
	require.NoError(t, err)
	require.False(t, rendered, "the good rendering is shared")
	require.Equal(t, `"ok"`, string(r.Body))
}
