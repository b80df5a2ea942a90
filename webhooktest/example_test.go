package webhooktest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/signature"
	"github.com/hooklet/webhook/store/memstore"
	"github.com/hooklet/webhook/webhooktest"
)

// exampleTB stands in for the *testing.T a real test passes: it runs the
// cleanups when the example is done and panics on a failure.
type exampleTB struct {
	testing.TB
	cleanups []func()
}

func (tb *exampleTB) Helper()                           {}
func (tb *exampleTB) Cleanup(f func())                  { tb.cleanups = append(tb.cleanups, f) }
func (tb *exampleTB) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

func (tb *exampleTB) done() {
	for i := len(tb.cleanups) - 1; i >= 0; i-- {
		tb.cleanups[i]()
	}
}

// A manual clock moves only when the test says so, and fires the timers
// that are due.
func ExampleNewClock() {
	clk := webhooktest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	retry := clk.NewTimer(5 * time.Second)

	clk.Advance(5 * time.Second)
	fmt.Println(<-retry.C())
	// Output:
	// 2026-01-02 03:04:10 +0000 UTC
}

// A Receiver records what it is sent and whether the signature verifies.
func ExampleNewReceiver() {
	t := &exampleTB{} // in a test: t *testing.T
	defer t.done()

	secret := signature.NewSecret()
	rc := webhooktest.NewReceiver(t, secret)

	body := []byte(`{"type":"invoice.paid"}`)
	now := time.Now()
	sig, _ := signature.Sign("evt_1", now, body, secret)
	req, _ := http.NewRequest(http.MethodPost, rc.URL, bytes.NewReader(body))
	req.Close = true
	req.Header.Set("webhook-id", "evt_1")
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()

	got := rc.WaitForRequests(t, 1, 10*time.Second)
	fmt.Println(got[0].ID(), got[0].Verified(), got[0].Status)
	// Output:
	// evt_1 true 200
}

// A host's test emits an event and waits, through the public API, until
// every delivery of it has finished.
func ExampleWaitForEvent() {
	t := &exampleTB{} // in a test: t *testing.T
	defer t.done()
	ctx := context.Background()

	secret := webhook.NewSecret()
	rc := webhooktest.NewReceiver(t, secret.Key)
	st := memstore.New()
	defer st.Close()
	d, err := webhook.New(webhook.Config{Store: st, AllowPrivateNetworks: true})
	if err != nil {
		panic(err)
	}
	defer d.Close(ctx)
	_ = d.Start(ctx)

	_ = d.PutEndpoint(ctx, webhook.Endpoint{ID: "ep_1", URL: rc.URL, Secrets: []webhook.Secret{secret}})
	_ = d.Emit(ctx, webhook.Event{ID: "evt_1", Type: "invoice.paid", Payload: json.RawMessage(`{"id":"in_1"}`)})

	for _, del := range webhooktest.WaitForEvent(t, d, "evt_1", 10*time.Second) {
		fmt.Println(del.EndpointID, del.State, del.Attempts)
	}
	fmt.Println(rc.Requests()[0].Verified())
	// Output:
	// ep_1 succeeded 1
	// true
}
