package boltstore_test

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// BenchmarkRawBolt is the reference for BenchmarkEnqueue: the same number
// of 1 KiB records per Update written straight to one bbolt bucket with
// sequence keys, as ../shared/bench/cmd/boltbench does.
func BenchmarkRawBolt(b *testing.B) {
	for _, per := range []int{1, 64} {
		b.Run(fmt.Sprintf("Items%d", per), func(b *testing.B) {
			db, err := bolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, &bolt.Options{NoSync: benchOpts.NoSync})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			name := []byte("events")
			if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket(name); return err }); err != nil {
				b.Fatal(err)
			}
			n := 0
			for b.Loop() {
				if err := db.Update(func(tx *bolt.Tx) error {
					bk := tx.Bucket(name)
					for range per {
						seq, _ := bk.NextSequence()
						if err := bk.Put(binary.BigEndian.AppendUint64(nil, seq), payload1K); err != nil {
							return err
						}
						n++
					}
					return nil
				}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "items/s")
		})
	}
}
