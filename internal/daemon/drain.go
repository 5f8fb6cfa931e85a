package daemon

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/aispool/aispool/sender"
	"github.com/aispool/aispool/spool"
)

// ErrUndelivered is returned by Drain when some records were dropped
// undelivered, or could not be reached, or the drain was cut short.
var ErrUndelivered = errors.New("not everything was delivered")

// Progress is reported periodically while draining.
type Progress struct {
	Left      int64 // records left in the segments this process holds or will take over
	Unclaimed int   // segment files held by other processes (not counted in Left)
	Sent      uint64
	Dropped   uint64
	Elapsed   time.Duration
	Rate      float64       // envelopes sent per second, over the whole drain
	ETA       time.Duration // at Rate; 0 if unknown
}

// Summary is the outcome of a drain.
type Summary struct {
	Sent      uint64
	Retried   uint64
	Dropped   map[string]uint64 // by reason
	Left      int64             // records still in the spool (this process's view)
	Unclaimed int               // segment files held by other processes (not counted in Left)
	Requests  map[int]uint64
	Elapsed   time.Duration
}

// Drain sends everything in the spool and returns when it is empty (nil),
// when some records could not be delivered (ErrUndelivered, with the
// summary saying which), or when ctx ends. progress, if not nil, is called
// every interval.
func Drain(ctx context.Context, cfg Config, interval time.Duration, progress func(Progress)) (Summary, error) {
	cfg.Listen, cfg.AdminListen = "", ""
	if err := cfg.Validate(); err != nil {
		return Summary{}, err
	}
	cfg, err := cfg.withSecrets()
	if err != nil {
		return Summary{}, err
	}
	start := time.Now()
	sp, err := spool.Open(ctx, cfg.SpoolDir, cfg.spoolOptions())
	if err != nil {
		return Summary{}, err
	}
	defer sp.Close()
	snd, err := sender.New(cfg.senderConfig(sp))
	if err != nil {
		return Summary{}, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRun()
	runDone := make(chan error, 1)
	go func() { runDone <- snd.Run(runCtx) }()

	flushed := make(chan error, 1)
	go func() { flushed <- snd.Flush(ctx) }()
	tick := time.NewTicker(max(interval, 10*time.Millisecond))
	defer tick.Stop()
	var flushErr error
wait:
	for {
		select {
		case flushErr = <-flushed:
			break wait
		case <-tick.C:
			if progress != nil {
				progress(progressOf(sp.Stats(), snd.Stats(), time.Since(start)))
			}
		}
	}
	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	_ = snd.Close(closeCtx)
	<-runDone //nolint:errcheck // wait for Run to return; the summary below says what was left

	sst, st := sp.Stats(), snd.Stats()
	sum := Summary{
		Sent: st.Sent, Retried: st.Retried, Dropped: maps.Clone(sst.Dropped),
		Left: sst.Records, Unclaimed: heldElsewhere(sst), Requests: st.Requests, Elapsed: time.Since(start),
	}
	var dropped uint64
	for _, n := range sum.Dropped {
		dropped += n
	}
	switch {
	case flushErr != nil:
		return sum, fmt.Errorf("%w: drain interrupted with %d records left: %w", ErrUndelivered, sum.Left, flushErr)
	case dropped > 0 || sum.Left > 0 || sum.Unclaimed > 0:
		return sum, fmt.Errorf("%w: %d dropped, %d left, %d segments held by other processes", ErrUndelivered, dropped, sum.Left, sum.Unclaimed)
	}
	return sum, nil
}

func progressOf(sst spool.Stats, st sender.Stats, elapsed time.Duration) Progress {
	p := Progress{Left: sst.Records, Unclaimed: heldElsewhere(sst), Sent: st.Sent, Elapsed: elapsed}
	for _, n := range sst.Dropped {
		p.Dropped += n
	}
	if s := elapsed.Seconds(); s > 0 {
		p.Rate = float64(st.Sent) / s
	}
	if p.Rate > 0 {
		p.ETA = time.Duration(float64(p.Left) / p.Rate * float64(time.Second))
	}
	return p
}

// heldElsewhere is the number of segment files other processes hold. The
// spool's Unclaimed also counts the sealed segments that the drainer found
// free and takes over as the ones it holds drain (Queued): those are this
// drain's work, counted in Records, not a reason to fail.
func heldElsewhere(sst spool.Stats) int { return max(sst.Unclaimed-sst.Queued, 0) }
