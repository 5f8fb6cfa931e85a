package spool

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Benchmarks for 1 KiB records. Compare the items/s of BenchmarkAppend with
// BenchmarkRawBolt from the same run: `go test -run XXX -bench . ./spool`.

const benchRecord = 1024

func benchOpen(b *testing.B, dir string) *Spool {
	s, err := Open(context.Background(), dir, &Options{MaxBytes: 8 << 30, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkRawBolt is the baseline: a bare bbolt loop of 1000 puts of 1 KiB
// per synced transaction.
func BenchmarkRawBolt(b *testing.B) {
	db, err := bolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	val := make([]byte, benchRecord)
	b.SetBytes(benchRecord)
	b.ResetTimer()
	var seq uint64
	for done := 0; done < b.N; {
		n := min(1000, b.N-done)
		err := db.Update(func(tx *bolt.Tx) error {
			bk, err := tx.CreateBucketIfNotExists([]byte("q"))
			if err != nil {
				return err
			}
			for range n {
				seq++
				k := binary.BigEndian.AppendUint64(nil, seq)
				if err := bk.Put(k, val); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		done += n
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "items/s")
}

// BenchmarkAppend measures durable appends of 1 KiB records with several
// concurrent appenders, each appending batches of the given size.
func BenchmarkAppend(b *testing.B) {
	for _, appenders := range []int{1, 8, 64} {
		for _, batch := range []int{1, 512} {
			b.Run(fmt.Sprintf("appenders=%d/batch=%d", appenders, batch), func(b *testing.B) {
				s := benchOpen(b, b.TempDir())
				defer s.Close()
				rec := make([]byte, benchRecord)
				recs := make([][]byte, batch)
				for i := range recs {
					recs[i] = rec
				}
				calls := (b.N + batch - 1) / batch
				b.SetBytes(benchRecord)
				b.ResetTimer()
				var wg sync.WaitGroup
				work := make(chan struct{}, calls)
				for range calls {
					work <- struct{}{}
				}
				close(work)
				for range appenders {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for range work {
							if err := s.Append(context.Background(), recs...); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				b.ReportMetric(float64(calls*batch)/b.Elapsed().Seconds(), "items/s")
			})
		}
	}
}

// BenchmarkAppendLatency reports p50 and p99 of one 512-record Append.
func BenchmarkAppendLatency(b *testing.B) {
	s := benchOpen(b, b.TempDir())
	defer s.Close()
	recs := make([][]byte, 512)
	for i := range recs {
		recs[i] = make([]byte, benchRecord)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if err := s.Append(context.Background(), recs...); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkDrain measures lease(500)+ack of 1 KiB records while one
// appender keeps adding more, and the disk left after the full drain.
func BenchmarkDrain(b *testing.B) {
	dir := b.TempDir()
	s := benchOpen(b, dir)
	defer s.Close()
	rec := make([]byte, benchRecord)
	recs := make([][]byte, 256)
	for i := range recs {
		recs[i] = rec
	}
	ctx := context.Background()
	// Half pre-filled, half appended during the drain.
	for n := 0; n < b.N/2; n += len(recs) {
		if err := s.Append(ctx, recs...); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(benchRecord)
	b.ResetTimer()
	go func() {
		for n := 0; n < b.N-b.N/2; n += len(recs) {
			if err := s.Append(ctx, recs[:min(len(recs), b.N-b.N/2-n)]...); err != nil {
				b.Error(err)
				return
			}
		}
	}()
	got := 0
	for got < b.N {
		bt, err := s.Lease(ctx, 500, 8<<20)
		if err != nil {
			b.Fatal(err)
		}
		if bt == nil {
			<-s.Notify()
			continue
		}
		got += len(bt.Records)
		if err := bt.Ack(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(got)/b.Elapsed().Seconds(), "items/s")
	b.StopTimer()
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	files, _ := listSegments(dir)
	var left int64
	for _, f := range files {
		left += f.size
	}
	b.ReportMetric(float64(left)/(1<<20), "MiB-left")
}

// BenchmarkOpen measures Open of a spool holding about 1 GiB in sealed
// segments.
func BenchmarkOpen(b *testing.B) {
	dir := b.TempDir()
	s := benchOpen(b, dir)
	rec := make([]byte, benchRecord)
	recs := make([][]byte, 1024)
	for i := range recs {
		recs[i] = rec
	}
	for range 1024 { // 1 GiB of payload
		if err := s.Append(context.Background(), recs...); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		s := benchOpen(b, dir)
		b.StopTimer()
		st := s.Stats()
		if st.Bytes < 1<<30 {
			b.Fatalf("spool holds only %d bytes", st.Bytes)
		}
		_ = s.Close()
		b.StartTimer()
	}
}

// BenchmarkRawBoltLatency is the baseline of BenchmarkAppendLatency: p50 and
// p99 of one bare bbolt transaction of 512 puts of 1 KiB, synced.
func BenchmarkRawBoltLatency(b *testing.B) {
	db, err := bolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	val := make([]byte, benchRecord)
	lat := make([]time.Duration, 0, b.N)
	var seq uint64
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		err := db.Update(func(tx *bolt.Tx) error {
			bk, err := tx.CreateBucketIfNotExists([]byte("q"))
			if err != nil {
				return err
			}
			for range 512 {
				seq++
				if err := bk.Put(binary.BigEndian.AppendUint64(nil, seq), val); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkDrainSealed drains sealed segments (a backlog left by another
// process) with two goroutines leasing 1000 records and acknowledging them,
// as the sender does; "marks" is the spool as shipped, "deletes" deletes
// every settled record from the file instead. cpu-ns/op is the process's
// CPU time (user + system) per record.
func BenchmarkDrainSealed(b *testing.B) {
	for _, mode := range []string{"marks", "deletes"} {
		b.Run(mode, func(b *testing.B) {
			dir := b.TempDir()
			s := benchOpen(b, dir)
			rec := make([]byte, benchRecord)
			recs := make([][]byte, 500)
			for i := range recs {
				recs[i] = rec
			}
			ctx := context.Background()
			for n := 0; n < b.N; n += len(recs) {
				if err := s.Append(ctx, recs[:min(len(recs), b.N-n)]...); err != nil {
					b.Fatal(err)
				}
			}
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
			d := benchOpen(b, dir)
			defer d.Close()
			d.deleteSettled = mode == "deletes"
			b.SetBytes(benchRecord)
			cpu0 := cpuTime()
			b.ResetTimer()
			var got atomic.Int64
			var wg sync.WaitGroup
			for range 2 {
				wg.Go(func() {
					for {
						bt, err := d.Lease(ctx, 1000, 8<<20)
						if err != nil {
							b.Error(err)
							return
						}
						if bt == nil {
							return
						}
						got.Add(int64(len(bt.Records)))
						if err := bt.Ack(ctx); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			if int(got.Load()) != b.N {
				b.Fatalf("drained %d records, want %d", got.Load(), b.N)
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "items/s")
		})
	}
}

// cpuTime is the process's CPU time so far (user + system), in ns.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCheckName measures the check of the active segment's name that
// each commit makes before answering (one fstat and one stat), to compare
// with a commit's fsync in BenchmarkAppendLatency.
func BenchmarkCheckName(b *testing.B) {
	s := benchOpen(b, b.TempDir())
	defer s.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.active
	b.ResetTimer()
	for range b.N {
		if err := g.checkName(); err != nil {
			b.Fatal(err)
		}
	}
}
