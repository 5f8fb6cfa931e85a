package exporter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/aispool/aispool/exporter/envelope"
	"github.com/aispool/aispool/internal/connstring"
	"github.com/aispool/aispool/sender"
	"github.com/aispool/aispool/spool"
)

// Pipeline is one spool and one in-process sender shared by the trace, log
// and metric exporters of a program, so that a service runs one drainer
// and one set of files, not three. Create it once with NewPipeline, pass
// it to each exporter with WithPipeline, and shut it down after the
// providers:
//
//	p, err := exporter.NewPipeline(ctx, exporter.WithConnectionString(cs))
//	traces, err := exporter.NewTraceExporter(ctx, exporter.WithPipeline(p))
//	logs, err := exporter.NewLogExporter(ctx, exporter.WithPipeline(p))
//	metrics, err := exporter.NewMetricExporter(ctx, exporter.WithPipeline(p))
//	// ... providers ...
//	defer p.Shutdown(ctx) // after the providers' Shutdown
//
// Each exporter still converts on its own (and counts in its own Stats);
// they share the spool's group commit, so concurrent exports of different
// signals share an fsync.
type Pipeline struct {
	s *sink
}

// NewPipeline opens the spool and starts the in-process sender that the
// exporters given WithPipeline share. It takes the same options as the
// exporters (WithConnectionString, WithSpoolDir, WithSpool,
// WithSpoolOptions, WithSenderConfig, WithoutSender, WithoutOfflineStorage,
// WithLogger) and the same environment variables; the default spool
// directory is "<user cache dir>/aispool/<service>", as for a
// TraceExporter.
func NewPipeline(ctx context.Context, opts ...Option) (*Pipeline, error) {
	cfg, err := newConfig(opts, "")
	errs := []error{err}
	if cfg.pipeline != nil {
		errs = append(errs, fmt.Errorf("%w: WithPipeline cannot be given to NewPipeline", ErrInvalidConfig))
	}
	if cfg.envelopeSet {
		errs = append(errs, fmt.Errorf("%w: WithEnvelopeConfig belongs to each exporter, not to NewPipeline", ErrInvalidConfig))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	conn, err := connstring.Resolve(cfg.connectionString, cfg.lookupEnv)
	if err != nil {
		return nil, fmt.Errorf("exporter: %w", err)
	}
	s, err := openSink(ctx, &cfg, conn)
	if err != nil {
		return nil, err
	}
	return &Pipeline{s: s}, nil
}

// Spool returns the shared spool.
func (p *Pipeline) Spool() *spool.Spool { return p.s.sp }

// Sender returns the shared in-process sender, or nil with WithoutSender.
func (p *Pipeline) Sender() *sender.Sender { return p.s.snd }

// Shutdown stops the sender (its requests in flight finish while ctx
// allows; what is not delivered stays in the spool) and closes the spool,
// unless it came from WithSpool. Shut the providers down first: exports
// after Shutdown fail. It is idempotent and returns ctx.Err() if ctx ends
// first.
func (p *Pipeline) Shutdown(ctx context.Context) error { return p.s.close(ctx) }

// sink is where an exporter's envelopes go: a spool, and the in-process
// sender draining it unless disabled. An exporter owns its sink unless it
// came from a Pipeline.
type sink struct {
	log       *slog.Logger
	conn      *connstring.ConnectionString
	sp        *spool.Spool
	ownsSpool bool
	tempDir   string // the volatile spool's directory, removed on close
	snd       *sender.Sender
	sndDone   chan error

	closeOnce sync.Once
	closeErr  error
	closed    chan struct{}
}

// resolveConn returns the connection string an exporter converts for: its
// pipeline's, or its own.
func resolveConn(cfg *config) (*connstring.ConnectionString, error) {
	if cfg.pipeline != nil {
		return cfg.pipeline.s.conn, nil
	}
	conn, err := connstring.Resolve(cfg.connectionString, cfg.lookupEnv)
	if err != nil {
		return nil, fmt.Errorf("exporter: %w", err)
	}
	return conn, nil
}

// newConverter resolves the connection string and builds the converter of
// an exporter.
func newConverter(cfg *config) (*envelope.Converter, *connstring.ConnectionString, error) {
	conn, err := resolveConn(cfg)
	if err != nil {
		return nil, nil, err
	}
	ec := cfg.envelope
	ec.InstrumentationKey = conn.InstrumentationKey
	conv, err := envelope.NewConverter(ec)
	if err != nil {
		return nil, nil, fmt.Errorf("exporter: %w", err)
	}
	return conv, conn, nil
}

// sinkFor returns the exporter's sink: its pipeline's (not owned), or one
// it opens (owned).
func sinkFor(ctx context.Context, cfg *config, conn *connstring.ConnectionString) (s *sink, owned bool, err error) {
	if cfg.pipeline != nil {
		return cfg.pipeline.s, false, nil
	}
	s, err = openSink(ctx, cfg, conn)
	return s, true, err
}

// openSink opens the configured spool (or takes WithSpool's, or creates a
// volatile one) and starts the in-process sender.
func openSink(ctx context.Context, cfg *config, conn *connstring.ConnectionString) (*sink, error) {
	s := &sink{log: cfg.logger, conn: conn, sp: cfg.spool, closed: make(chan struct{})}
	if s.sp == nil {
		dir := cfg.spoolDir
		if cfg.volatile {
			var err error
			if dir, err = os.MkdirTemp("", "aispool-volatile-"); err != nil {
				return nil, fmt.Errorf("exporter: temporary spool: %w", err)
			}
			s.tempDir = dir
		}
		sp, err := spool.Open(ctx, dir, &cfg.spoolOptions)
		if err != nil {
			s.removeTemp()
			if errors.Is(err, spool.ErrLocked) {
				return nil, fmt.Errorf("exporter: %w (is another exporter of this process using %s? Share one spool with NewPipeline and WithPipeline)", err, dir)
			}
			return nil, fmt.Errorf("exporter: %w", err)
		}
		s.sp, s.ownsSpool = sp, true
	}
	if !cfg.noSender {
		sc := cfg.senderConfig
		sc.Queue = sender.SpoolQueue(s.sp)
		sc.ConnectionString = cfg.connectionString
		sc.LookupEnv = cfg.lookupEnv
		sc.Logger = cfg.logger
		if cfg.tokenSource != nil {
			sc.TokenSource = cfg.tokenSource
		}
		snd, err := sender.New(sc)
		if err != nil {
			if s.ownsSpool {
				_ = s.sp.Close()
			}
			s.removeTemp()
			return nil, fmt.Errorf("exporter: in-process sender: %w", err)
		}
		s.snd = snd
		s.sndDone = make(chan error, 1)
		go func() { s.sndDone <- snd.Run(context.WithoutCancel(ctx)) }()
	}
	s.log.Debug("spool ready", "spool", s.sp.Dir(), "ikey", conn.RedactedKey(), "volatile", s.tempDir != "")
	return s, nil
}

func (s *sink) removeTemp() {
	if s.tempDir != "" {
		if err := os.RemoveAll(s.tempDir); err != nil {
			s.log.Warn("cannot remove the temporary spool", "dir", s.tempDir, "err", err)
		}
	}
}

// close stops the sender (its requests in flight finish while ctx allows;
// what is not delivered stays in the spool) and closes the spool if the
// sink opened it. It is idempotent and returns ctx.Err() if ctx ends first
// (the closing goes on in the background).
func (s *sink) close(ctx context.Context) error {
	s.startClose(ctx)
	select {
	case <-s.closed:
		return s.closeErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// startClose starts closing the sink once; s.closed is closed when done.
func (s *sink) startClose(ctx context.Context) {
	s.closeOnce.Do(func() {
		go func() {
			var errs []error
			if s.snd != nil {
				// Past ctx's deadline the sender abandons its requests in
				// flight; their records stay in the spool. That is the
				// caller's ctx.Err(), not a failure to report again.
				if err := s.snd.Close(ctx); err != nil && ctx.Err() == nil {
					errs = append(errs, err)
				}
				if err := <-s.sndDone; err != nil && !errors.Is(err, sender.ErrClosed) {
					errs = append(errs, err)
				}
			}
			if s.ownsSpool {
				errs = append(errs, s.sp.Close())
			}
			s.removeTemp()
			s.closeErr = errors.Join(errs...)
			close(s.closed)
		}()
	})
}
