package spool_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/aispool/aispool/spool"
)

// A producer appends records durably; a drainer leases a batch, delivers it,
// and settles it: here one record is kept for a retry and the others are
// acknowledged in one atomic step.
func Example() {
	dir, err := os.MkdirTemp("", "spool-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	s, err := spool.Open(ctx, dir+"/spool", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	// Append returns once the records are on disk and fsynced.
	if err := s.Append(ctx, []byte(`{"a":1}`), []byte(`{"b":2}`), []byte(`{"c":3}`)); err != nil {
		log.Fatal(err)
	}

	b, err := s.Lease(ctx, 100, 1<<20)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range b.Records {
		fmt.Printf("%s attempts=%d\n", r.Data, r.Attempts)
	}
	// Suppose the receiver accepted all but the second record, which it
	// asked us to retry.
	if err := b.Settle(ctx, spool.Outcome{Retry: []int{1}}); err != nil {
		log.Fatal(err)
	}

	b, err = s.Lease(ctx, 100, 1<<20)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("retry: %s attempts=%d\n", b.Records[0].Data, b.Records[0].Attempts)
	if err := b.Ack(ctx); err != nil {
		log.Fatal(err)
	}
	st := s.Stats()
	fmt.Println("records left:", st.Records, "acked:", st.Acked)
	// Output:
	// {"a":1} attempts=0
	// {"b":2} attempts=0
	// {"c":3} attempts=0
	// retry: {"b":2} attempts=1
	// records left: 0 acked: 3
}

// A producer that builds its records in one buffer leaves FrameHeadroom
// bytes before each: AppendFramed frames them in place, without copying
// the batch.
func ExampleSpool_AppendFramed() {
	dir, err := os.MkdirTemp("", "spool-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	s, err := spool.Open(ctx, dir+"/spool", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	var buf []byte
	var ends []int
	for _, payload := range []string{`{"a":1}`, `{"b":2}`} {
		buf = append(buf, make([]byte, spool.FrameHeadroom)...)
		buf = append(buf, payload...)
		ends = append(ends, len(buf))
	}
	var records [][]byte
	start := 0
	for _, end := range ends {
		records = append(records, buf[start:end])
		start = end
	}
	// Like Append, it returns once the records are on disk and fsynced;
	// buf may be reused then.
	if err := s.AppendFramed(ctx, records...); err != nil {
		log.Fatal(err)
	}

	b, err := s.Lease(ctx, 100, 1<<20)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range b.Records {
		fmt.Printf("%s\n", r.Data)
	}
	if err := b.Ack(ctx); err != nil {
		log.Fatal(err)
	}
	// Output:
	// {"a":1}
	// {"b":2}
}
