// Package spool is a durable first-in, first-out queue of opaque records
// (byte slices) kept in a directory of bbolt segment files. It knows nothing
// about what the records mean.
//
// # Guarantees
//
//   - [Spool.Append] returns nil only after its records are committed and fsynced.
//     Concurrent appenders share one transaction and one fsync (group
//     commit); nobody waits on a timer.
//   - Delivery is at least once. Leases live in memory: after a crash every
//     record that was not acknowledged is handed out again, and no
//     acknowledged record ever comes back. Duplicates are possible, loss of
//     an acknowledged Append is not.
//   - Records leave the spool only when acknowledged, dropped by the caller
//     for a reason ([Batch.Settle]), evicted by the full policy, expired
//     past [Options.MaxAge], or quarantined as corrupt; every drop is
//     counted in [Stats] by reason.
//
// # Segments
//
// Each process appends to its own active segment, a bbolt file named
// "<creation time>-<random>.active". It is sealed (renamed to ".seg") when it
// reaches [Options.SegmentMaxBytes] or [Options.SegmentMaxAge], and on
// [Spool.Close]. A drainer (a process that calls [Spool.Lease]) takes sealed segments oldest first,
// a few at a time (it holds at most eight with records to hand out open at
// once, and takes the next as those drain), plus its own active one. A
// segment whose owner died (its flock is free) is treated as sealed. A segment that holds nothing more is deleted, which is
// how disk space comes back: bbolt files never shrink, but segments are
// small and short-lived.
//
// So two processes can share one directory: an application that produces
// and a daemon that drains. Each segment file is held by one process at a
// time (bbolt's exclusive flock); a second opener gets [ErrLocked] at once.
//
// # Records on disk
//
// Each record is stored under its 8-byte big-endian sequence number, with a
// format version, a CRC32C and its append time. A settled (acknowledged or
// dropped) record of a sealed segment stays in the file, marked: the
// segment's meta bucket holds the settled sequence numbers as ranges,
// rewritten with the live-record count by each settle's transaction, so a
// settle writes a few pages whatever the size of its batch; the file goes
// as a whole once nothing in it is live. The active segment, which keeps
// growing, deletes settled records instead, so that bbolt reuses their
// pages. A segment whose marks do not parse is quarantined. A record that
// fails its check is copied to quarantine/ and dropped (reason "corrupt").
// A segment whose tree is damaged (bbolt cannot open it, panics on it, or
// records it holds are missing from its tree) is salvaged first: every
// live record that still passes its checksum, found through the tree or,
// where the tree no longer reaches, by reading the file's pages directly,
// is copied into a new segment, and only then is the file renamed into
// quarantine/; the live records not found intact are counted as corrupt.
// Neither blocks the queue.
//
// # Limits
//
// [Options.MaxBytes] bounds the size on disk of all segments. When it is
// reached, the [DropOldest] policy (the default) evicts whole segments,
// oldest first; the [RejectNew] policy makes Append return [ErrFull].
// Records older than [Options.MaxAge] are
// dropped (reason "expired") instead of being handed out. A full disk makes
// Append return the error and leaves every segment valid; appends succeed
// again once space returns. [Open] succeeds on a full disk too, without an
// active segment, so that what exists drains (deleting drained segments
// gives space back): [Spool.Ready] reports the error until the spool, which
// tries about once a second, has created a new active segment.
//
// A segment file that loses its name while open (deleted, moved, or its
// directory moved or removed) would take appends that nothing on disk
// keeps. The committer compares the open file with its name after each
// commit, before answering (one fstat and one stat), and every held
// segment each tick: the records of such a file are copied into a new
// segment (recreating the directory if needed) before anything more is
// acknowledged, and the event is logged and counted
// ([Stats].OrphanedSegments, [Stats].SalvagedRecords).
//
// # Safety
//
// The directory is created with mode 0700 and files with 0600. Open refuses
// a directory that is a symlink, owned by another user, or writable by group
// or others, and one under a directory that group or others can write
// without the sticky bit, since they could move it away and put theirs in
// its place ([ErrUnsafeDir]). Records are never logged.
package spool
