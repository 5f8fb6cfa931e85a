package exporter

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/aispool/aispool/exporter/envelope"
	"github.com/aispool/aispool/internal/connstring"
	"github.com/aispool/aispool/sender"
	"github.com/aispool/aispool/spool"
)

// core is what the three exporters share: a converter used under a mutex,
// a sink (spool and sender), and the shutdown protocol.
type core struct {
	log      *slog.Logger
	conn     *connstring.ConnectionString
	sink     *sink
	ownsSink bool

	mu       sync.Mutex // serialises conversion (the converter reuses scratch space)
	conv     *envelope.Converter
	buf      envelope.Buffer
	recs     [][]byte
	shutdown bool

	closeOnce sync.Once
	closeErr  error
	closed    chan struct{}
}

// newCore configures an exporter of the given signal ("" for traces,
// "logs", "metrics"; it names the default spool directory).
func newCore(ctx context.Context, signal string, opts []Option) (*core, error) {
	cfg, err := newConfig(opts, signal)
	if err != nil {
		return nil, err
	}
	conv, conn, err := newConverter(&cfg)
	if err != nil {
		return nil, err
	}
	c := &core{log: cfg.logger, conn: conn, conv: conv, closed: make(chan struct{})}
	c.buf.SetHeadroom(spool.FrameHeadroom)
	if c.sink, c.ownsSink, err = sinkFor(ctx, &cfg, conn); err != nil {
		return nil, err
	}
	c.log.Debug("exporter ready", "signal", cmp.Or(signal, "traces"), "spool", c.sink.sp.Dir(), "ikey", conn.RedactedKey())
	return c, nil
}

// store appends the records in c.buf to the spool in one durable step.
// The caller holds c.mu.
//
// The buffer leaves the spool's headroom before each record
// (spool.FrameHeadroom), so that the spool frames them in place
// (AppendFramed) rather than copy the batch once more; records kept from
// an earlier export (extra) have none, and go with a copy (Append).
func (c *core) store(ctx context.Context, extra ...[]byte) error {
	var err error
	if len(extra) == 0 {
		c.recs = c.buf.Framed(c.recs[:0])
		if len(c.recs) == 0 {
			return nil
		}
		err = c.sink.sp.AppendFramed(ctx, c.recs...)
	} else {
		c.recs = append(c.recs[:0], extra...)
		c.recs = c.buf.Records(c.recs)
		err = c.sink.sp.Append(ctx, c.recs...)
	}
	clear(c.recs) // do not keep the records alive between calls
	if err != nil {
		return fmt.Errorf("exporter: %d envelopes not stored: %w", len(c.recs), err)
	}
	return nil
}

// forceFlush waits for an export in progress: exports only return once
// their envelopes are durable.
func (c *core) forceFlush(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// shutdownCore refuses later exports, then closes the sink if the exporter
// owns it.
func (c *core) shutdownCore(ctx context.Context) error {
	c.closeOnce.Do(func() {
		go func() {
			c.mu.Lock()
			c.shutdown = true
			c.mu.Unlock()
			if c.ownsSink {
				c.sink.startClose(ctx)
				<-c.sink.closed
				c.closeErr = c.sink.closeErr
			}
			close(c.closed)
		}()
	})
	select {
	case <-c.closed:
		return c.closeErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *core) spool() *spool.Spool    { return c.sink.sp }
func (c *core) sender() *sender.Sender { return c.sink.snd }
