//go:build !linux

package main

// mappedUnder is unavailable outside Linux.
func mappedUnder(string) (int, int64) { return 0, 0 }
