package spool

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers branch on them with errors.Is.
var (
	// ErrInvalidConfig is wrapped by the error [Open] returns for invalid
	// [Options] (or an empty directory path); the message lists every
	// problem.
	ErrInvalidConfig = errors.New("spool: invalid config")

	// ErrClosed is returned by every method called after [Spool.Close].
	ErrClosed = errors.New("spool: closed")

	// ErrFull is returned by [Spool.Append] when the spool holds
	// [Options.MaxBytes] and the
	// policy is RejectNew, or when no space can be freed (for example the
	// oldest segments are leased by another process).
	ErrFull = errors.New("spool: full")

	// ErrEmptyRecord is returned by [Spool.Append] for a zero-length record.
	ErrEmptyRecord = errors.New("spool: empty record")

	// ErrRecordTooLarge is returned by [Spool.Append] for a record larger
	// than [Options.MaxRecordBytes].
	ErrRecordTooLarge = errors.New("spool: record too large")

	// ErrLocked is returned by [Open] when the segment it must open is held
	// by another process or another Spool in this process.
	ErrLocked = errors.New("spool: segment locked by another opener")

	// ErrUnsafeDir is returned by [Open] when the spool directory is a
	// symlink, is not owned by the current user, or is writable by group or
	// others. The wrapped message says which and how to fix it.
	ErrUnsafeDir = errors.New("spool: unsafe directory")

	// ErrStaleBatch is returned by [Batch.Settle] for a batch that was already
	// settled, or that belongs to another Spool.
	ErrStaleBatch = errors.New("spool: batch already settled or not from this spool")

	// ErrCorrupt marks a segment or record that failed its integrity check.
	// Such data is moved to quarantine and counted; it never blocks the
	// queue, so callers normally only see it in logs and Stats.
	ErrCorrupt = errors.New("spool: corrupt data")

	// ErrSettleDeferred is returned by [Batch.Settle] when the outcome holds
	// in this process (acknowledged and dropped records are never handed out
	// again, retried ones are) but could not be written to the segment, as
	// when the disk is full. The outcome is written with the next settle of
	// the segment, or by Close, or the whole file goes once nothing else in
	// it is live. After a crash before then, those records are handed out
	// again: at least once.
	ErrSettleDeferred = errors.New("spool: settle not yet written")
)

// RecordError reports which record of an Append call was refused.
type RecordError struct {
	Index int   // position of the record in the Append call
	Size  int   // its length in bytes
	Err   error // ErrEmptyRecord or ErrRecordTooLarge
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("record %d (%d bytes): %v", e.Index, e.Size, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }
