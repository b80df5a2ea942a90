package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	webhook "github.com/hooklet/webhook"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestRun(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	batches, err := run(ctx, &out, 2000)
	require.NoError(t, err, out.String())
	total := 0
	for _, b := range batches {
		require.True(t, strings.HasPrefix(b.ID, "batch_"), "a row went alone: %+v", b)
		require.LessOrEqual(t, b.Events, 500)
		require.Equal(t, map[webhook.DeliveryState]int{webhook.StateSucceeded: b.Events}, b.States)
		require.Len(t, b.Reports, 2, b.ID)
		require.Equal(t, webhook.ReportRunning, b.Reports[0].Status)
		require.Equal(t, 0.5, b.Reports[0].Progress)
		require.Equal(t, webhook.ReportSucceeded, b.Reports[1].Status)
		total += b.Events
	}
	require.Equal(t, 2000, total)
	require.Contains(t, out.String(), "2000 rows in")
}
