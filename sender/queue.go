package sender

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aispool/aispool/spool"
)

// Batch is a leased group of records: queued envelopes, each one JSON line
// ending in '\n', with when it was queued and how many times it was handed
// back for a retry before. The sender settles every batch exactly once, with
// one of Ack, Nack or Settle.
type Batch interface {
	// Records returns the leased records; valid until the batch is settled.
	Records() []spool.Record
	// Ack removes every record: delivered.
	Ack(ctx context.Context) error
	// Nack keeps every record for a later retry (attempts+1).
	Nack(ctx context.Context) error
	// Settle applies o in one atomic step: it keeps the records at the
	// indices in o.Retry, removes those in o.Dropped (counted by the reason
	// that is the key), and removes every other record as delivered, as
	// [spool.Batch.Settle] does.
	Settle(ctx context.Context, o spool.Outcome) error
}

// Queue is what a Sender drains: in production the spool (see [SpoolQueue]),
// in tests possibly a fake.
type Queue interface {
	// Lease hands out up to maxRecords records totalling up to maxBytes
	// bytes (at least one record if any is available), or (nil, nil) when
	// nothing is available now. Once the queue is closed for good, its error
	// wraps [ErrQueueClosed].
	Lease(ctx context.Context, maxRecords, maxBytes int) (Batch, error)
	// Notify receives after records become available. The sender also
	// polls, since records can appear without a notification.
	Notify() <-chan struct{}
}

// delaying is implemented by queues that hold records back for a per-record
// delay ([spool.Outcome.RetryDelay]): while some wait, Flush is not done,
// and an idle sender wakes when the first is due.
type delaying interface {
	// nextDue returns when the first record waiting a delay is due; zero
	// when none waits.
	nextDue() time.Time
}

// SpoolQueue adapts a spool to the [Queue] the sender drains.
func SpoolQueue(s *spool.Spool) Queue { return spoolQueue{s} }

type spoolQueue struct{ s *spool.Spool }

func (q spoolQueue) Notify() <-chan struct{} { return q.s.Notify() }

func (q spoolQueue) nextDue() time.Time { return q.s.Stats().NextDue }

func (q spoolQueue) Lease(ctx context.Context, maxRecords, maxBytes int) (Batch, error) {
	b, err := q.s.Lease(ctx, maxRecords, maxBytes)
	if err != nil {
		if errors.Is(err, spool.ErrClosed) {
			return nil, fmt.Errorf("%w: %w", ErrQueueClosed, err)
		}
		return nil, err
	}
	if b == nil {
		return nil, nil
	}
	return spoolBatch{b}, nil
}

type spoolBatch struct{ b *spool.Batch }

func (b spoolBatch) Records() []spool.Record        { return b.b.Records }
func (b spoolBatch) Ack(ctx context.Context) error  { return b.b.Ack(ctx) }
func (b spoolBatch) Nack(ctx context.Context) error { return b.b.Nack(ctx) }
func (b spoolBatch) Settle(ctx context.Context, o spool.Outcome) error {
	return b.b.Settle(ctx, o)
}
