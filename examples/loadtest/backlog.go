package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"time"

	webhook "github.com/hooklet/webhook"
)

// backlogPhase emits -backlog small events to an endpoint whose receiver
// never answers, then runs the engine against that backlog, printing the
// live heap as it goes: memory must stay flat however large the backlog.
func backlogPhase() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hang := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()

	d, st, err := newDispatcher("backlog", "http://"+ln.Addr().String()+"/hooks", "")
	if err != nil {
		return err
	}
	defer st.Close()
	ctx := context.Background()
	fmt.Printf("backlog: start: %s\n", heap())
	payload := json.RawMessage(`{"id":"in_1","amount":1200,"currency":"eur"}`)
	batch := make([]webhook.Event, 1000)
	start := time.Now()
	for n := 0; n < *backlog; n += len(batch) {
		for j := range batch {
			batch[j] = webhook.Event{Type: "invoice.paid", Payload: payload}
		}
		if err := d.EmitBatch(ctx, batch); err != nil {
			return err
		}
		if k := n + len(batch); k%(*backlog/4) == 0 {
			fmt.Printf("backlog: %d pending after %v: %s\n", k, time.Since(start).Round(time.Millisecond), heap())
		}
	}
	if err := d.Start(ctx); err != nil {
		return err
	}
	for range 3 {
		<-time.After(time.Second)
		fmt.Printf("backlog: engine running, every request hanging: %s\n", heap())
	}
	close(hang) // let the hanging requests end, so Close finishes them
	closeCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return d.Close(closeCtx)
}

// heap reports the live heap after a collection.
func heap() string {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return fmt.Sprintf("heap in use %.1f MiB, %d goroutines", float64(m.HeapInuse)/(1<<20), runtime.NumGoroutine())
}
