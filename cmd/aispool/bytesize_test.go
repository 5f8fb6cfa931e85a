package main

import "testing"

func TestByteSize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
		str  string
		err  bool
	}{
		{"0", 0, "0", false},
		{"1048576", 1 << 20, "1MiB", false},
		{"256MiB", 256 << 20, "256MiB", false},
		{"256mib", 256 << 20, "256MiB", false},
		{"1 GiB", 1 << 30, "1GiB", false},
		{"3KiB", 3 << 10, "3KiB", false},
		{"2TiB", 2 << 40, "2TiB", false},
		{"100B", 100, "100", false},
		{"1536KiB", 1536 << 10, "1536KiB", false},
		{"", 0, "", true},
		{"12MB", 0, "", true},
		{"-1MiB", 0, "", true},
		{"1.5GiB", 0, "", true},
		{"9999999999TiB", 0, "", true},
	} {
		var v int64 = -7
		b := byteSize{&v}
		err := b.Set(tt.in)
		if tt.err {
			if err == nil {
				t.Errorf("Set(%q) = nil, want an error", tt.in)
			}
			continue
		}
		if err != nil || v != tt.want || b.String() != tt.str {
			t.Errorf("Set(%q) = %v: %d %q, want %d %q", tt.in, err, v, b.String(), tt.want, tt.str)
		}
	}
}
