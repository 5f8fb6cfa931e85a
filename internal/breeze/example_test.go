package breeze_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/aispool/aispool/internal/breeze"
)

// How a partial success is applied: item 1 is kept for a retry after a
// per-record delay, item 2 is dropped, items 0 and 3 are acknowledged, and
// the endpoint, which accepted items, does not back off.
func ExampleClassify() {
	body := []byte(`{"itemsReceived":4,"itemsAccepted":2,"errors":[` +
		`{"index":1,"statusCode":503,"message":"later"},{"index":2,"statusCode":400,"message":"bad"}]}`)
	v := breeze.Classify(4, http.StatusPartialContent, http.Header{}, body, time.Now())
	fmt.Println("ack:", v.Acked(4), "retry:", v.Retry, "drop:", v.Drop, "backoff:", v.Backoff, "delay:", v.Delay)
	// Output: ack: [0 3] retry: [1] drop: map[status_400:[2]] backoff: false delay: true
}

func ExampleParseRetryAfter() {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for _, v := range []string{"7", "Wed, 25 Nov 2026 12:00:30 GMT", "999999", "Wed, 25 Nov 2026 11:00:00 GMT"} {
		d, ok := breeze.ParseRetryAfter(v, now)
		fmt.Println(d, ok)
	}
	// Output:
	// 7s true
	// 30s true
	// 1h0m0s true
	// 0s false
}
