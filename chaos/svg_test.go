package chaos

import (
	"strings"
	"testing"
)

func TestHTMLNiceTicks(t *testing.T) {
	for _, tc := range []struct {
		hi      float64
		n       int
		integer bool
		labels  string
		top     float64
	}{
		{0, 5, true, "0 1", 1},
		{-3, 5, false, "0 0.2 0.4 0.6 0.8 1.0", 1},
		{7, 6, true, "0 2 4 6 8", 8},
		{5, 6, true, "0 1 2 3 4 5", 5},
		{0.37, 4, false, "0 0.1 0.2 0.3 0.4", 0.4},
		{61.3, 12, false, "0 10 20 30 40 50 60 70", 70},
		{2400, 6, true, "0 500 1000 1500 2000 2500", 2500},
		{23000, 6, true, "0 5k 10k 15k 20k 25k", 25000},
		{1.2e7, 4, true, "0 5M 10M 15M", 1.5e7},
	} {
		values, step, top := niceTicks(tc.hi, tc.n, tc.integer)
		if got := strings.Join(tickLabels(values, step), " "); got != tc.labels || top != tc.top {
			t.Errorf("niceTicks(%v, %d, %v) = %s up to %v, want %s up to %v", tc.hi, tc.n, tc.integer, got, top, tc.labels, tc.top)
		}
	}
}
