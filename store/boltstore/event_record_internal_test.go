package boltstore

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hooklet/webhook/storetest"
)

// An event decoded without its delivery list reads every other field, the
// ones after the list included.
func TestDecodeEventWithoutDeliveries(t *testing.T) {
	t.Parallel()
	ev := storetest.NewEvent("evt_1", time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC))
	ev.OrderingKey = "k"
	b := encodeEvent(nil, &ev, ev.Time, []string{"dlv_1", "dlv_2"})
	full, err := decodeEvent(ev.ID, b)
	require.NoError(t, err)
	require.Equal(t, []string{"dlv_1", "dlv_2"}, full.Deliveries)
	head, err := decodeEventRecord(ev.ID, b, false)
	require.NoError(t, err)
	require.Nil(t, head.Deliveries)
	full.Deliveries = nil
	require.Equal(t, full, head)
	require.Equal(t, ev, head.Event)

	_, err = decodeEventRecord(ev.ID, b[:len(b)-20], false)
	require.ErrorIs(t, err, errBadRecord)
}
