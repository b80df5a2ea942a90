package boltstore_test

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// BenchmarkRawBolt is the reference for BenchmarkEnqueue: per item, a 1 KiB
// record written straight to one bbolt bucket with sequence keys, as
// ../shared/bench/cmd/boltbench does ("Record"), or that record plus a
// 64-byte delivery record in a second bucket ("EventDelivery", the same
// records an Enqueue stores, without its indexes).
func BenchmarkRawBolt(b *testing.B) {
	for _, shape := range []string{"Record", "EventDelivery"} {
		for _, per := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/Items%d", shape, per), func(b *testing.B) { rawBolt(b, shape == "EventDelivery", per) })
		}
	}
}

func rawBolt(b *testing.B, withDelivery bool, per int) {
	db, err := bolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, &bolt.Options{NoSync: benchOpts.NoSync})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	name, dname := []byte("events"), []byte("deliveries")
	if err := db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucket(dname); err != nil {
			return err
		}
		_, err := tx.CreateBucket(name)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	delivery := make([]byte, 64)
	n := 0
	for b.Loop() {
		if err := db.Update(func(tx *bolt.Tx) error {
			bk := tx.Bucket(name)
			for range per {
				seq, _ := bk.NextSequence()
				if err := bk.Put(binary.BigEndian.AppendUint64(nil, seq), payload1K); err != nil {
					return err
				}
				if withDelivery {
					if err := tx.Bucket(dname).Put(binary.BigEndian.AppendUint64(nil, seq), delivery); err != nil {
						return err
					}
				}
				n++
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "items/s")
}
