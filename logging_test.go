package webhook_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
)

// lines parses what a JSON logger wrote into s.
func (s *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range bytes.Split(bytes.TrimSpace([]byte(s.String())), []byte("\n")) {
		var m map[string]any
		require.NoError(t, json.Unmarshal(l, &m))
		out = append(out, m)
	}
	return out
}

// Attempts are logged at Debug and a delivery that fails for good at
// Info, with stable keys and without the secret or the URL's query.
func TestAttemptLogLines(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b := setup(t, webhook.Config{Logger: log, Retention: -1, Retry: webhook.RetryPolicy{Schedule: []time.Duration{}}})
	rc := newReceiver(t, statusSequence(http.StatusInternalServerError))
	b.addEndpoint(t, "ep", rc.URL+"/?token=hush")
	ev := b.emit(t, "invoice.paid")
	require.Equal(t, webhook.StateFailed, b.nextOutcome(t).State)

	byMsg := map[string]map[string]any{}
	for _, l := range buf.lines(t) {
		byMsg[l["msg"].(string)] = l
	}
	for _, msg := range []string{"webhook: attempt", "webhook: delivery failed for good"} {
		l, ok := byMsg[msg]
		require.True(t, ok, "no %q line in %v", msg, byMsg)
		require.Equal(t, b.delivery(t, ev.ID).ID, l["delivery_id"])
		require.Equal(t, "ep", l["endpoint_id"])
		require.Equal(t, "invoice.paid", l["event_type"])
		require.EqualValues(t, 1, l["attempt"])
		require.EqualValues(t, 500, l["status_code"])
	}
	require.Equal(t, "DEBUG", byMsg["webhook: attempt"]["level"])
	require.Equal(t, "INFO", byMsg["webhook: delivery failed for good"]["level"])
	require.NotContains(t, buf.String(), "hush")
	require.NotContains(t, buf.String(), testSecret[len("whsec_"):])
}
