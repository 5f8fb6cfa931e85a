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
