// Command spooldemo drives the spool end to end on this machine: several
// producers append records durably while a drainer leases, "sends" and
// acknowledges them, sometimes asking for a retry. At the end it checks that
// every acknowledged append was delivered, and prints the figures.
//
//	go run ./examples/spooldemo --records 200000 --producers 8
package main

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aispool/aispool/spool"
)

func main() {
	records := flag.Int("records", 200_000, "records to append")
	producers := flag.Int("producers", 8, "concurrent appenders")
	batch := flag.Int("batch", 64, "records per Append call")
	size := flag.Int("size", 1024, "bytes per record")
	dir := flag.String("spool-dir", "", "spool directory (default: a new temporary directory, removed at exit)")
	flag.Parse()
	if err := run(*dir, *records, *producers, *batch, *size); err != nil {
		fmt.Fprintln(os.Stderr, "spooldemo:", err)
		os.Exit(1)
	}
}

func run(dir string, total, producers, batch, size int) error {
	if size < 16 || total <= 0 || producers <= 0 || batch <= 0 {
		return fmt.Errorf("need -size >= 16 and positive -records, -producers, -batch")
	}
	if dir == "" {
		tmp, err := os.MkdirTemp("", "spooldemo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp + "/spool"
	}
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := spool.Open(ctx, dir, &spool.Options{Logger: log})
	if err != nil {
		return err
	}
	defer s.Close()

	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, producers)
	for range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			recs := make([][]byte, 0, batch)
			for {
				recs = recs[:0]
				for range batch {
					n := next.Add(1) - 1
					if n >= int64(total) {
						break
					}
					r := make([]byte, size)
					binary.BigEndian.PutUint64(r, uint64(n))
					for i := 8; i < size; i++ {
						r[i] = 'a' + byte(i%26)
					}
					recs = append(recs, r)
				}
				if len(recs) == 0 {
					return
				}
				if err := s.Append(ctx, recs...); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	produced := make(chan struct{})
	go func() { wg.Wait(); close(produced) }()

	seen := make([]bool, total)
	delivered, retried, dups := 0, 0, 0
	for delivered < total {
		b, err := s.Lease(ctx, 1000, 4<<20)
		if err != nil {
			return err
		}
		if b == nil {
			select {
			case err := <-errs:
				return err
			case <-s.Notify():
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		// Pretend every tenth batch met a 206: keep its first record.
		var o spool.Outcome
		if len(b.Records) > 1 && (delivered/1000)%10 == 3 && b.Records[0].Attempts == 0 {
			o.Retry = []int{0}
			retried++
		}
		for i, r := range b.Records {
			if len(o.Retry) > 0 && i == 0 {
				continue
			}
			n := binary.BigEndian.Uint64(r.Data)
			if seen[n] {
				dups++
			}
			seen[n] = true
			delivered++
		}
		if err := b.Settle(ctx, o); err != nil {
			return err
		}
	}
	<-produced
	elapsed := time.Since(start)
	st := s.Stats()
	missing := 0
	for _, ok := range seen {
		if !ok {
			missing++
		}
	}
	fmt.Printf("%-28s %d\n", "records appended (durable)", st.Appended)
	fmt.Printf("%-28s %d\n", "records delivered", delivered)
	fmt.Printf("%-28s %d\n", "records released for retry", st.Retried)
	fmt.Printf("%-28s %d\n", "duplicates", dups)
	fmt.Printf("%-28s %d\n", "lost", missing)
	fmt.Printf("%-28s %v\n", "time", elapsed.Round(time.Millisecond))
	fmt.Printf("%-28s %.0f records/s (%.1f MB/s)\n", "throughput", float64(total)/elapsed.Seconds(), float64(total*size)/elapsed.Seconds()/1e6)
	fmt.Printf("%-28s %d bytes in %d segment(s)\n", "left on disk", st.Bytes, st.Segments)
	if missing > 0 {
		return fmt.Errorf("%d records lost", missing)
	}
	return nil
}
