package spool

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestCheckDir(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(tmp, "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(tmp, "good")
	if err := os.Mkdir(good, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		dir  string
		want error // nil: accepted
	}{
		{"existing private directory", good, nil},
		{"missing, under a private directory", filepath.Join(good, "a", "b"), nil},
		{"a file", file, ErrUnsafeDir},
		{"writable by others", open, ErrUnsafeDir},
		{"missing, under a directory others can write", filepath.Join(open, "spool"), ErrUnsafeDir},
		{"empty", "", ErrInvalidConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, before := os.Lstat(tc.dir)
			err := CheckDir(tc.dir)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("CheckDir(%q) = %v, want %v", tc.dir, err, tc.want)
			}
			// CheckDir creates nothing; Open agrees with it.
			if _, after := os.Lstat(tc.dir); (before == nil) != (after == nil) {
				t.Fatal("CheckDir created the directory")
			}
			if tc.dir == "" {
				return
			}
			s, openErr := Open(t.Context(), tc.dir, nil)
			if openErr == nil {
				_ = s.Close()
			}
			if (openErr == nil) != (err == nil) {
				t.Fatalf("CheckDir = %v but Open = %v", err, openErr)
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	var nilOpts *Options
	if err := nilOpts.Validate(); err != nil {
		t.Fatalf("nil options: %v", err)
	}
	if err := (&Options{MaxBytes: 10}).Validate(); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("MaxBytes 10: %v, want ErrInvalidConfig", err)
	}
}
