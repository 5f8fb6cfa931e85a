package sender

import "testing"

func TestStatusOfReason(t *testing.T) {
	for in, want := range map[string]int{"status_400": 400, "status_0": 0} {
		if got, ok := statusOfReason(in); !ok || got != want {
			t.Errorf("statusOfReason(%q) = %d, %v", in, got, ok)
		}
	}
	for _, in := range []string{"status_", "expired", "status_4x", "status_99999"} {
		if _, ok := statusOfReason(in); ok {
			t.Errorf("statusOfReason(%q) ok", in)
		}
	}
}
