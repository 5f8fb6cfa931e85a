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
