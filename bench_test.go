package webhook_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/internal/benchtest"
	"github.com/hooklet/webhook/store/boltstore"
)

// benchPayload is a 1 KiB JSON payload.
var benchPayload = json.RawMessage(`{"id":"in_1","padding":"` + strings.Repeat("x", 1024-27) + `"}`)

// BenchmarkEmit measures Emit on bbolt next to raw bbolt writes of
// comparable records (a 1 KiB event and one small delivery record), so the
// ratio can be read off one run:
//
//	go test -run '^$' -bench 'Emit' -benchtime 3s .
//
// Lone pairs with RawUpdate (one durable commit per record), Concurrent64
// with RawBatch64 (64 writers sharing commits through DB.Batch). Each also
// reports the process CPU time per operation (cpu-ns/op), which other
// processes on a loaded machine disturb less than the wall time.
func BenchmarkEmit(b *testing.B) {
	b.Run("Lone", func(b *testing.B) {
		d := benchDispatcher(b)
		ctx := context.Background()
		b.ResetTimer()
		cpu := benchtest.CPUTime()
		for range b.N {
			if err := d.Emit(ctx, webhook.Event{Type: "invoice.paid", Payload: benchPayload}); err != nil {
				b.Fatal(err)
			}
		}
		benchtest.ReportCPU(b, cpu)
	})
	b.Run("RawUpdate", func(b *testing.B) {
		db := benchBolt(b)
		b.ResetTimer()
		cpu := benchtest.CPUTime()
		for range b.N {
			if err := db.Update(putBenchRecord); err != nil {
				b.Fatal(err)
			}
		}
		benchtest.ReportCPU(b, cpu)
	})
	b.Run("Concurrent64", func(b *testing.B) {
		d := benchDispatcher(b)
		ctx := context.Background()
		b.ResetTimer()
		cpu := benchtest.CPUTime()
		parallel(b, 64, func() error {
			return d.Emit(ctx, webhook.Event{Type: "invoice.paid", Payload: benchPayload})
		})
		benchtest.ReportCPU(b, cpu)
	})
	b.Run("RawBatch64", func(b *testing.B) {
		db := benchBolt(b)
		db.MaxBatchSize = 64
		b.ResetTimer()
		cpu := benchtest.CPUTime()
		parallel(b, 64, func() error { return db.Batch(putBenchRecord) })
		benchtest.ReportCPU(b, cpu)
	})
}

// parallel runs b.N calls of fn from n goroutines.
func parallel(b *testing.B, n int, fn func() error) {
	var wg sync.WaitGroup
	work := make(chan struct{}, b.N)
	for range b.N {
		work <- struct{}{}
	}
	close(work)
	for range n {
		wg.Go(func() {
			for range work {
				if err := fn(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func benchDispatcher(b *testing.B) *webhook.Dispatcher {
	st, err := boltstore.Open(filepath.Join(b.TempDir(), "bench.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	d, err := webhook.New(webhook.Config{Store: st})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := d.PutEndpoint(ctx, webhook.Endpoint{ID: "ep", URL: "https://hooks.example.com/", Secrets: []webhook.Secret{{Key: testSecret}}}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = d.Close(ctx)
		_ = st.Close()
	})
	return d
}

func benchBolt(b *testing.B) *bolt.DB {
	db, err := bolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	if err := db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists([]byte("events")); err != nil {
			return err
		}
		_, err := tx.CreateBucketIfNotExists([]byte("deliveries"))
		return err
	}); err != nil {
		b.Fatal(err)
	}
	return db
}

func putBenchRecord(tx *bolt.Tx) error {
	ev := tx.Bucket([]byte("events"))
	seq, _ := ev.NextSequence()
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	if err := ev.Put(k[:], benchPayload); err != nil {
		return err
	}
	return tx.Bucket([]byte("deliveries")).Put(k[:], []byte(`{"state":"pending","attempts":0,"next":1700000000}`))
}
