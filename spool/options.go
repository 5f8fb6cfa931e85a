package spool

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// FullPolicy says what Append does when the spool holds MaxBytes.
type FullPolicy int

const (
	// DropOldest deletes the oldest records (whole segments, oldest first)
	// to make room, counting them as dropped with reason "full". It is the
	// default: for telemetry, fresh data is worth more than stale data.
	DropOldest FullPolicy = iota
	// RejectNew makes [Spool.Append] return [ErrFull] and keeps what is stored.
	RejectNew
)

func (p FullPolicy) String() string {
	switch p {
	case DropOldest:
		return "drop-oldest"
	case RejectNew:
		return "reject-new"
	}
	return fmt.Sprintf("FullPolicy(%d)", int(p))
}

// Drop reasons counted in [Stats].Dropped. [Batch.Settle] accepts any reason string;
// these are the ones the spool itself uses or documents.
const (
	ReasonFull     = "full"     // evicted by the DropOldest policy
	ReasonExpired  = "expired"  // older than MaxAge
	ReasonCorrupt  = "corrupt"  // failed its integrity check
	ReasonRejected = "rejected" // refused permanently by the receiver
)

// Defaults for the zero fields of Options.
const (
	DefaultMaxBytes        int64 = 1 << 30
	DefaultMaxAge                = 48 * time.Hour
	DefaultMaxRecordBytes        = 1 << 20
	DefaultSegmentMaxBytes int64 = 16 << 20
	DefaultSegmentMaxAge         = 30 * time.Second
)

// Options configures a Spool. The zero value (or a nil *Options) means the
// defaults above.
type Options struct {
	// MaxBytes bounds the bytes on disk of all segment files in the
	// directory. Default 1 GiB.
	MaxBytes int64
	// MaxAge is how long a record may wait; older ones are dropped with
	// reason "expired" instead of being handed out. Default 48 h.
	MaxAge time.Duration
	// MaxRecordBytes bounds one record. Default 1 MiB.
	MaxRecordBytes int
	// SegmentMaxBytes seals the active segment once its file reaches this
	// size. Default 16 MiB, and at most a quarter of MaxBytes so that the
	// DropOldest policy always has whole segments to evict.
	SegmentMaxBytes int64
	// SegmentMaxAge seals a non-empty active segment this long after it was
	// created, so that another process draining the directory sees the
	// records. Default 30 s.
	SegmentMaxAge time.Duration
	// Policy applies when the spool is full. Default DropOldest.
	Policy FullPolicy
	// Logger receives the spool's few log lines (never record contents).
	// Default: slog.Default().
	Logger *slog.Logger
	// Clock is the wall clock used for record times, MaxAge and
	// SegmentMaxAge. Default: the system clock. Tests inject their own.
	Clock Clock
}

// Clock tells the time. It is the subset of the project's clock
// abstraction that the spool needs (the spool imports no other package of
// the project): any clock with a Now method, such as a fake clock of a
// test, satisfies it.
type Clock interface {
	Now() time.Time
}

// systemClock is the default [Clock]: [time.Now].
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// withDefaults returns a copy of o with defaults filled in, or an error
// wrapping [ErrInvalidConfig] that lists every invalid field.
func (o *Options) withDefaults() (Options, error) {
	var c Options
	if o != nil {
		c = *o
	}
	var errs []error
	if c.MaxBytes < 0 {
		errs = append(errs, fmt.Errorf("option MaxBytes %d is negative", c.MaxBytes))
	}
	if c.MaxAge < 0 {
		errs = append(errs, fmt.Errorf("option MaxAge %v is negative", c.MaxAge))
	}
	if c.MaxRecordBytes < 0 {
		errs = append(errs, fmt.Errorf("option MaxRecordBytes %d is negative", c.MaxRecordBytes))
	}
	if c.SegmentMaxBytes < 0 {
		errs = append(errs, fmt.Errorf("option SegmentMaxBytes %d is negative", c.SegmentMaxBytes))
	}
	if c.SegmentMaxAge < 0 {
		errs = append(errs, fmt.Errorf("option SegmentMaxAge %v is negative", c.SegmentMaxAge))
	}
	if c.Policy != DropOldest && c.Policy != RejectNew {
		errs = append(errs, fmt.Errorf("option Policy %v is unknown", c.Policy))
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.MaxAge <= 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.SegmentMaxBytes <= 0 {
		c.SegmentMaxBytes = min(DefaultSegmentMaxBytes, c.MaxBytes/4)
	}
	if c.SegmentMaxBytes < minSegmentBytes {
		c.SegmentMaxBytes = minSegmentBytes
	}
	if c.MaxRecordBytes <= 0 {
		c.MaxRecordBytes = int(min(int64(DefaultMaxRecordBytes), c.SegmentMaxBytes/2))
	}
	// The relations between sizes are checked once the negative ones are
	// replaced by defaults: each problem is named once.
	if c.MaxBytes < 2*c.SegmentMaxBytes {
		errs = append(errs, fmt.Errorf("option MaxBytes %d must be at least twice SegmentMaxBytes %d", c.MaxBytes, c.SegmentMaxBytes))
	}
	if int64(c.MaxRecordBytes) > c.SegmentMaxBytes/2 {
		errs = append(errs, fmt.Errorf("option MaxRecordBytes %d must be at most half of SegmentMaxBytes %d", c.MaxRecordBytes, c.SegmentMaxBytes))
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
	}
	if c.SegmentMaxAge == 0 {
		c.SegmentMaxAge = DefaultSegmentMaxAge
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
	return c, nil
}

// minSegmentBytes keeps segments larger than bbolt's fixed overhead.
const minSegmentBytes = 256 << 10
