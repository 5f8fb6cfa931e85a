package spool

import (
	"context"
	"math"
	"path/filepath"
	"testing"
)

// Lease makes room for its records from maxBytes and the segment's average
// record size: whatever maxBytes is (Lease does not refuse a negative or a
// huge one), it hands out at least one record and never panics; a lease
// limited by count or by bytes takes what it should.
func TestLeaseRoomAnyMaxBytes(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		maxRecords int
		maxBytes   int
		want       int
	}{
		{"negative", 10, -1 << 20, 1},
		{"zero", 10, 0, 1},
		{"one record's worth", 10, 100, 1},
		{"limited by count", 3, 1 << 20, 3},
		{"limited by bytes", 10, 350, 3},
		{"max int", 10, math.MaxInt, 10},
		{"three quarters of max int", 10, math.MaxInt / 4 * 3, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t, filepath.Join(t.TempDir(), "s"), nil)
			for range 10 {
				mustAppend(t, s, make100())
			}
			b, err := s.Lease(ctx, tc.maxRecords, tc.maxBytes)
			if err != nil {
				t.Fatal(err)
			}
			if b == nil || len(b.Records) != tc.want {
				t.Fatalf("Lease(%d, %d) gave %v, want %d records", tc.maxRecords, tc.maxBytes, b, tc.want)
			}
			if err := b.Ack(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func make100() []byte {
	b := make([]byte, 100)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}
