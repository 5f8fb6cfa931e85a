//go:build !linux

package spool

// dropMapping does nothing outside Linux: the pages a segment's mapping
// has read stay resident until it is closed.
func dropMapping(addr, n uintptr) error { return nil }
