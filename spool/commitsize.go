package spool

import "math/bits"

// CommitSizeBuckets is the number of buckets of [Stats].CommitSizes.
const CommitSizeBuckets = 16

// CommitSizeBound is the largest group size, in records, that bucket i of
// [Stats].CommitSizes counts: 1 << i (1, 2, 4, …, 16384). The last bucket,
// CommitSizeBuckets-1, counts every larger group too: its bound is
// unlimited, and CommitSizeBound returns 0 for it (and for any i out of
// range).
func CommitSizeBound(i int) int {
	if i < 0 || i >= CommitSizeBuckets-1 {
		return 0
	}
	return 1 << i
}

// commitSizeBucket is the bucket of [Stats].CommitSizes that counts a
// group commit of n records (n >= 1): the smallest i with n <= 1<<i,
// capped at the last bucket.
func commitSizeBucket(n int) int {
	if n <= 1 {
		return 0
	}
	return min(bits.Len(uint(n-1)), CommitSizeBuckets-1)
}
