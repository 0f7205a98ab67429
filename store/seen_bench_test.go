package store

import (
	"encoding/binary"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkFirstSeen records new keys from 100 goroutines at once (a burst of Slack requests)
// on a file with fsync: ns/op is per key; writes/op is how many transactions (fsyncs) a key
// costs, shared through the group commit.
func BenchmarkFirstSeen(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "renewbot.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var n atomic.Uint64
	now := time.Now()
	_, w0 := db.Transactions()
	b.ResetTimer()
	var wg sync.WaitGroup
	per := b.N/100 + 1
	for range 100 {
		wg.Go(func() {
			for range per {
				key := binary.BigEndian.AppendUint64([]byte("k"), n.Add(1))
				if _, err := db.FirstSeen(key, now); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	_, w1 := db.Transactions()
	b.ReportMetric(float64(w1-w0)/float64(n.Load()), "writes/op")
}
