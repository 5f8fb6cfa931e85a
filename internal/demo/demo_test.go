package demo

import (
	"context"
	"testing"
	"time"
)

func TestDemoLosesNothing(t *testing.T) {
	for _, profile := range []string{"healthy", "hostile"} {
		t.Run(profile, func(t *testing.T) {
			res, err := Run(context.Background(), Config{Spans: 1500, Profile: profile, Seed: 7, Timeout: time.Minute})
			if err != nil {
				t.Fatalf("Run: %v (result %+v)", err, res)
			}
			if len(res.Lost) != 0 || res.Spooled != 1500 {
				t.Fatalf("result %+v", res)
			}
			if got := uint64(res.Delivered) + res.DroppedTotal(); got < 1500 {
				t.Fatalf("delivered %d + dropped %d < 1500", res.Delivered, res.DroppedTotal())
			}
			if profile == "healthy" && (res.Delivered != 1500 || res.Retried != 0) {
				t.Fatalf("healthy endpoint: %+v", res)
			}
		})
	}
}

func TestUnknownProfile(t *testing.T) {
	if _, err := Run(context.Background(), Config{Profile: "nope"}); err == nil {
		t.Fatal("unknown profile accepted")
	}
}

// TestDemoShowsTheOutage: the outage profile's windows start 500 ms after
// the endpoint; the demo spreads its spans over them, so the run meets
// refused connections and 503s, retries, and loses nothing.
func TestDemoShowsTheOutage(t *testing.T) {
	res, err := Run(context.Background(), Config{Spans: 2000, Profile: "outage", Seed: 3, Timeout: time.Minute})
	if err != nil {
		t.Fatalf("Run: %v (result %+v)", err, res)
	}
	if res.Paced < 4*time.Second || res.Elapsed < res.Paced {
		t.Fatalf("not spread over the outage windows: paced %v, elapsed %v", res.Paced, res.Elapsed)
	}
	t.Logf("retried %d, endpoint answers %v, paced %v, elapsed %v", res.Retried, res.Requests, res.Paced, res.Elapsed)
	if res.Retried == 0 || len(res.Requests) < 2 {
		t.Fatalf("no fault met: retried %d, endpoint answers %v", res.Retried, res.Requests)
	}
	if len(res.Lost) != 0 || res.Delivered != 2000 {
		t.Fatalf("result %+v", res)
	}
}
