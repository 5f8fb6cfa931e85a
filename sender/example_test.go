package sender_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/aispool/aispool/sender"
	"github.com/aispool/aispool/spool"
)

// A sender draining a spool to an ingestion endpoint (here a local stand-in).
func Example() {
	ingest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, `{"itemsReceived":2,"itemsAccepted":2,"errors":[]}`)
	}))
	defer ingest.Close()

	ctx := context.Background()
	dir, err := os.MkdirTemp("", "aispool-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	sp, err := spool.Open(ctx, dir, &spool.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	defer sp.Close()
	_ = sp.Append(ctx,
		[]byte(`{"ver":1,"name":"Microsoft.ApplicationInsights.Message","time":"2026-11-25T12:00:00.0000000Z"}`+"\n"),
		[]byte(`{"ver":1,"name":"Microsoft.ApplicationInsights.Event","time":"2026-11-25T12:00:00.0000000Z"}`+"\n"))

	s, err := sender.New(sender.Config{
		Queue:            sender.SpoolQueue(sp),
		ConnectionString: "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=" + ingest.URL,
		Logger:           slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	go func() { _ = s.Run(ctx) }()

	flushCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.Flush(flushCtx); err != nil {
		panic(err)
	}
	if err := s.Close(flushCtx); err != nil {
		panic(err)
	}
	st := s.Stats()
	fmt.Println("sent:", st.Sent, "requests with 200:", st.Requests[200])
	// Output: sent: 2 requests with 200: 1
}

// How a partial success is applied: item 1 is kept for a retry, item 2 is
// dropped, items 0 and 3 are acknowledged, and the endpoint backs off.
func ExampleClassify() {
	body := []byte(`{"itemsReceived":4,"itemsAccepted":2,"errors":[` +
		`{"index":1,"statusCode":503,"message":"later"},{"index":2,"statusCode":400,"message":"bad"}]}`)
	v := sender.Classify(4, http.StatusPartialContent, http.Header{}, body, time.Now())
	fmt.Println("ack:", v.Acked(4), "retry:", v.Retry, "drop:", v.Drop, "backoff:", v.Backoff)
	// Output: ack: [0 3] retry: [1] drop: map[status_400:[2]] backoff: true
}

func ExampleParseRetryAfter() {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for _, v := range []string{"7", "Wed, 25 Nov 2026 12:00:30 GMT", "999999", "Wed, 25 Nov 2026 11:00:00 GMT"} {
		d, ok := sender.ParseRetryAfter(v, now)
		fmt.Println(d, ok)
	}
	// Output:
	// 7s true
	// 30s true
	// 1h0m0s true
	// 0s false
}
