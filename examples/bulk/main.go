// Bulk sends 10,000 rows as events to a batched endpoint, the way an
// Amperity-style bulk destination receives them: NDJSON batches of up to
// 500 rows, each request signed once. The receiver (standing in for a
// Lambda that loads the rows somewhere) answers 202 Accepted at once,
// works on the batch for a while, and reports its progress and then its
// success to the callback URL the request carried; the host serves
// Dispatcher.CallbackHandler there. The example prints every batch with
// the reports it got, then exits. Everything stays on loopback.
//
//	go run ./examples/bulk
package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/store/boltstore"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func main() {
	rows := flag.Int("rows", 10000, "rows to send")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := run(ctx, os.Stdout, *rows); err != nil {
		log.Fatal(err)
	}
}

// batchSummary is one batch as the host recorded it.
type batchSummary struct {
	ID      string
	Events  int
	States  map[webhook.DeliveryState]int
	Reports []webhook.Report // of its first delivery; every member has the same
}

// run sends rows events through a batched endpoint whose receiver
// reports back, waits until every delivery has ended, prints the batches
// to out and returns them.
func run(ctx context.Context, out io.Writer, rows int) ([]batchSummary, error) {
	dir, err := os.MkdirTemp("", "hooklet-bulk-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	st, err := boltstore.Open(filepath.Join(dir, "hooklet.db"), nil)
	if err != nil {
		return nil, err
	}
	defer st.Close()

	// The host's own server, where receivers post their reports.
	hostLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	callbackURL := "http://" + hostLn.Addr().String() + "/hooklet/callback"
	d, err := webhook.New(webhook.Config{
		Store:                st,
		AllowPrivateNetworks: true, // the receiver and the callback are on loopback
		CallbackURL:          callbackURL,
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/hooklet/callback/", d.CallbackHandler())
	host := &http.Server{Handler: mux}
	go host.Serve(hostLn)
	defer host.Close()

	// The bulk receiver.
	rc := newReceiver()
	recvLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	recv := &http.Server{Handler: rc}
	go recv.Serve(recvLn)
	defer recv.Close()
	defer rc.wait()

	err = d.PutEndpoint(ctx, webhook.Endpoint{
		ID: "warehouse", URL: "http://" + recvLn.Addr().String() + "/load",
		EventTypes: []string{"row.*"},
		Secrets:    []webhook.Secret{{Key: secret}},
		Batch:      webhook.BatchPolicy{MaxEvents: 500, MaxWait: 200 * time.Millisecond},
		AckTimeout: time.Minute,
	})
	if err != nil {
		return nil, err
	}
	if err := d.Start(ctx); err != nil {
		return nil, err
	}
	defer d.Close(context.Background())

	const chunk = 1000
	for i := 0; i < rows; i += chunk {
		evs := make([]webhook.Event, 0, chunk)
		for j := i; j < min(i+chunk, rows); j++ {
			evs = append(evs, webhook.Event{Type: "row.upserted",
				Payload: json.RawMessage(fmt.Sprintf(`{"row":%d,"email":"user%d@example.com","score":%d}`, j, j, j%100))})
		}
		if err := d.EmitBatch(ctx, evs); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(out, "emitted %d rows\n", rows)

	batches, err := waitAllEnded(ctx, d, rows)
	if err != nil {
		return nil, err
	}
	for _, b := range batches {
		var reps []string
		for _, r := range b.Reports {
			s := string(r.Status)
			if r.Progress > 0 {
				s += fmt.Sprintf(" %.0f%%", 100*r.Progress)
			}
			if r.Message != "" {
				s += " (" + r.Message + ")"
			}
			reps = append(reps, s)
		}
		fmt.Fprintf(out, "%s  %3d events  %v  reports: %s\n", b.ID, b.Events, b.States, strings.Join(reps, " → "))
	}
	fmt.Fprintf(out, "%d rows in %d batch requests\n", rows, rc.requests())
	return batches, nil
}

// waitAllEnded waits until every delivery has ended, then returns the
// batches they formed, in ID order.
func waitAllEnded(ctx context.Context, d *webhook.Dispatcher, rows int) ([]batchSummary, error) {
	for {
		ended := 0
		for _, s := range []webhook.DeliveryState{webhook.StateSucceeded, webhook.StateFailed, webhook.StateSkipped} {
			n, err := count(ctx, d, s)
			if err != nil {
				return nil, err
			}
			ended += n
		}
		if ended == rows {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%d of %d rows ended: %w", ended, rows, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	byID := map[string]*batchSummary{}
	cursor := ""
	for {
		page, err := d.Deliveries(ctx, &webhook.ListDeliveriesParams{Cursor: cursor, Limit: webhook.PageLimitMax})
		if err != nil {
			return nil, err
		}
		for _, dl := range page.Items {
			b := byID[dl.BatchID]
			if b == nil {
				b = &batchSummary{ID: cmp.Or(dl.BatchID, "(alone)"), States: map[webhook.DeliveryState]int{}}
				byID[dl.BatchID] = b
				reps, err := d.Reports(ctx, &webhook.ListReportsParams{DeliveryID: dl.ID})
				if err != nil {
					return nil, err
				}
				b.Reports = reps.Items
			}
			b.Events++
			b.States[dl.State]++
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	out := make([]batchSummary, 0, len(byID))
	for _, b := range byID {
		out = append(out, *b)
	}
	slices.SortFunc(out, func(a, b batchSummary) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// count returns how many deliveries are in state s.
func count(ctx context.Context, d *webhook.Dispatcher, s webhook.DeliveryState) (int, error) {
	n, cursor := 0, ""
	for {
		page, err := d.Deliveries(ctx, &webhook.ListDeliveriesParams{State: s, Cursor: cursor, Limit: webhook.PageLimitMax})
		if err != nil {
			return 0, err
		}
		n += len(page.Items)
		if page.Next == "" {
			return n, nil
		}
		cursor = page.Next
	}
}

// receiver checks each batch's signature, answers 202 Accepted, then
// loads the rows in the background and reports back: running at half
// way, then succeeded.
type receiver struct {
	mu   sync.Mutex
	reqs int
	work sync.WaitGroup
}

func newReceiver() *receiver { return &receiver{} }

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "reading the body", http.StatusBadRequest)
		return
	}
	if err := webhook.Verify(secret, r.Header, body, 5*time.Minute); err != nil {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	callback := r.Header.Get("webhook-callback-url")
	if r.Header.Get("Content-Type") != webhook.BatchContentType || callback == "" {
		http.Error(w, "expected an NDJSON batch with a callback URL", http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	rc.reqs++
	rc.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
	rc.work.Add(1)
	go func() {
		defer rc.work.Done()
		rc.load(body, callback)
	}()
}

// load "loads" the rows of one batch, reporting as it goes.
func (rc *receiver) load(body []byte, callback string) {
	rows := 0
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var line struct {
			ID   string          `json:"id"` // to deduplicate a batch sent twice
			Data json.RawMessage `json:"data"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil {
			rows++
		}
	}
	time.Sleep(50 * time.Millisecond) // work
	report(callback, fmt.Sprintf(`{"status":"running","progress":0.5,"message":"%d rows staged"}`, rows))
	time.Sleep(50 * time.Millisecond) // more work
	report(callback, fmt.Sprintf(`{"status":"succeeded","message":"%d rows loaded"}`, rows))
}

// report posts one report, trying again while the host answers 503 (it
// was busy, or had not yet recorded the 202 this report follows) or
// cannot be reached. Any other answer is final: 204 recorded, 4xx refused.
func report(url, body string) {
	for range 20 {
		res, err := http.Post(url, "application/json", strings.NewReader(body))
		if err == nil {
			res.Body.Close()
			switch {
			case res.StatusCode == http.StatusNoContent:
				return
			case res.StatusCode != http.StatusServiceUnavailable:
				log.Printf("report refused: %s", res.Status)
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	log.Print(errors.New("a report could not be posted"))
}

func (rc *receiver) requests() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.reqs
}

// wait waits for the receiver's work in the background to end.
func (rc *receiver) wait() { rc.work.Wait() }
