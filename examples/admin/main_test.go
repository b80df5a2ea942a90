package main

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestRun(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	urls := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, "127.0.0.1:0", func(u string) { urls <- u }) }()
	var base string
	select {
	case base = <-urls:
	case err := <-done:
		t.Fatal(err)
	case <-time.After(30 * time.Second):
		t.Fatal("the console did not start")
	}

	count := func(path string) int {
		t.Helper()
		res, err := http.Get(base + path)
		require.NoError(t, err)
		defer res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode)
		var l struct {
			Items []json.RawMessage `json:"items"`
		}
		require.NoError(t, json.NewDecoder(res.Body).Decode(&l))
		return len(l.Items)
	}
	require.Equal(t, 4, count("/admin/api/v1/endpoints"))
	require.Equal(t, 2, count("/portal/api/v1/endpoints"))
	require.Positive(t, count("/admin/api/v1/deliveries"))

	res, err := http.Get(base + "/admin/")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)

	cancel()
	require.NoError(t, <-done)
}
