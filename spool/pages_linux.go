package spool

import "syscall"

// dropMapping tells the kernel that this process no longer needs the pages
// of the n bytes of a file mapping at addr (madvise MADV_DONTNEED): they
// leave its resident set and stay in the page cache. bbolt maps its files
// read-only and shared, so nothing is lost: a page read again is mapped
// again from the page cache.
func dropMapping(addr, n uintptr) error {
	if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, addr, n, syscall.MADV_DONTNEED); errno != 0 {
		return errno
	}
	return nil
}
