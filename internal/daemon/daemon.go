package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/aispool/aispool/ingest"
	"github.com/aispool/aispool/internal/connstring"
	"github.com/aispool/aispool/metrics"
	"github.com/aispool/aispool/sender"
	"github.com/aispool/aispool/spool"
)

// Daemon is a running aispool: a spool, a sender draining it, the local
// ingestion endpoint and the admin endpoint. Create it with New (which binds
// the listeners, so that their addresses are known), then Run it.
type Daemon struct {
	cfg    Config
	log    *slog.Logger
	sp     *spool.Spool
	snd    *sender.Sender
	ingest *ingest.Handler
	ing    *http.Server
	ingLn  net.Listener
	adm    *http.Server
	admLn  net.Listener
	otlp   otlpServers

	pathSecret         string   // the intake's secret path prefix, "" if none
	authMethods        []string // the intake's authentication methods
	secretFileWarnings []string // logged at start
}

// New validates cfg, opens the spool, builds the sender and binds the
// listeners. Errors in cfg wrap [ErrInvalidConfig].
func New(ctx context.Context, cfg Config) (*Daemon, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	fileWarnings := cfg.SecretFileWarnings() // before withSecrets forgets ConnectionStringFile
	cfg, err := cfg.withSecrets()
	if err != nil {
		return nil, err
	}
	d := &Daemon{cfg: cfg, log: cfg.Logger, secretFileWarnings: fileWarnings}
	d.sp, err = spool.Open(ctx, cfg.SpoolDir, cfg.spoolOptions())
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Daemon, error) {
		d.closeListeners()
		_ = d.sp.Close()
		return nil, err
	}
	d.snd, err = sender.New(cfg.senderConfig(d.sp))
	if err != nil {
		return fail(fmt.Errorf("%w: %w", ErrInvalidConfig, err))
	}
	src := metrics.Sources{Spool: d.sp.Stats, Sender: d.snd.Stats, Version: cfg.Version}
	if cfg.intakeOn() {
		if cfg.TLSCert != "" {
			// Check the pair now: a bad one is a configuration error at
			// start, not a failure of the first connection.
			if _, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey); err != nil {
				return fail(fmt.Errorf("%w: --tls-cert/--tls-key: %w", ErrInvalidConfig, err))
			}
		}
		// One handler for every intake: they share the memory budget,
		// the request slots and the limits.
		ret := &memoryReturner{every: time.Second, free: debug.FreeOSMemory}
		d.ingest, err = ingest.New(ingest.Config{Spool: d.sp, Logger: cfg.Logger,
			MemoryBudget: cfg.IntakeBudget(), AfterBurst: ret.afterBurst, MinBodyRate: cfg.MinBodyRate})
		if err != nil {
			return fail(err)
		}
	}
	if err := d.startOTLP(); err != nil {
		return fail(err)
	}
	if cfg.Listen != "" {
		d.ing = ingest.NewServer(d.ingest, cfg.Logger)
		if err := d.secureIntake(); err != nil {
			return fail(err)
		}
		if d.ingLn, err = net.Listen("tcp", cfg.Listen); err != nil {
			return fail(fmt.Errorf("--listen %s: %w", cfg.Listen, err))
		}
		d.ingLn = ingest.LimitListener(d.ingLn, cfg.MaxConnections, cfg.Logger)
	}
	if d.ing != nil {
		src.Ingest = d.ingest.Stats
	}
	reg := metrics.NewRegistry()
	if err := metrics.Register(reg, src); err != nil {
		return fail(err)
	}
	if d.otlp.intake != nil {
		if err := reg.Register(newOTLPCollector(d.otlp.intake.Stats)); err != nil {
			return fail(err)
		}
	}
	if cfg.AdminListen != "" {
		d.adm = newServer(adminHandler(reg, d.sp.Ready, d.sp, cfg.AdminPprof))
		if d.admLn, err = net.Listen("tcp", cfg.AdminListen); err != nil {
			return fail(fmt.Errorf("--admin-listen %s: %w", cfg.AdminListen, err))
		}
	}
	d.warnExposure()
	return d, nil
}

func newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
	}
}

func (d *Daemon) closeListeners() {
	for _, ln := range []net.Listener{d.ingLn, d.admLn, d.otlp.httpLn, d.otlp.grpcLn} {
		if ln != nil {
			_ = ln.Close()
		}
	}
}

// IngestURL is the base URL of the local ingestion endpoint ("" if off),
// without the secret path prefix: an SDK's connection string gets
// IngestionEndpoint=<[Daemon.IngestionEndpoint]>.
func (d *Daemon) IngestURL() string {
	if d.ingLn == nil {
		return ""
	}
	scheme := "http"
	if d.cfg.TLSCert != "" {
		scheme = "https"
	}
	return scheme + "://" + d.ingLn.Addr().String()
}

// AdminURL is the base URL of the admin endpoint ("" if off).
func (d *Daemon) AdminURL() string {
	if d.admLn == nil {
		return ""
	}
	return "http://" + d.admLn.Addr().String()
}

// Ingest returns the local ingestion endpoint's handler (nil if off).
func (d *Daemon) Ingest() *ingest.Handler { return d.ingest }

// Spool returns the daemon's spool.
func (d *Daemon) Spool() *spool.Spool { return d.sp }

// Sender returns the daemon's sender.
func (d *Daemon) Sender() *sender.Sender { return d.snd }

// Run serves until ctx ends, then shuts down gracefully: it stops
// accepting (requests being answered finish), lets the sender finish or
// abandon its requests in flight within ShutdownTimeout, and closes the
// spool. Nothing acknowledged is lost: what was not delivered stays in the
// spool. Run returns nil after a graceful shutdown.
func (d *Daemon) Run(ctx context.Context) error {
	errc := make(chan error, 5)
	serve := func(srv *http.Server, ln net.Listener, what string, tls bool) {
		if srv == nil {
			return
		}
		go func() {
			var err error
			if tls {
				err = srv.ServeTLS(ln, d.cfg.TLSCert, d.cfg.TLSKey)
			} else {
				err = srv.Serve(ln)
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s: %w", what, err)
			}
		}()
	}
	serve(d.ing, d.ingLn, "ingestion endpoint", d.cfg.TLSCert != "")
	serve(d.adm, d.admLn, "admin endpoint", false)
	serve(d.otlp.http, d.otlp.httpLn, "OTLP/HTTP intake", d.cfg.TLSCert != "")
	d.serveGRPC(errc)
	runCtx, stopSender := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSender()
	sndDone := make(chan error, 1)
	go func() { sndDone <- d.snd.Run(runCtx) }()
	if d.adm != nil {
		// Tell aispool inspect where to ask for an exact report.
		if err := d.writeAdminFile(); err != nil {
			d.log.Warn("write the admin address file; aispool inspect cannot ask this daemon", "file", AdminFile, "err", err)
		}
		defer d.removeAdminFile()
	}
	d.log.Info("aispool running", "spool", d.sp.Dir(), "ingestion", connstring.RedactURL(d.snd.Endpoint()),
		"listen", d.IngestURL(), "otlp_http", d.OTLPHTTPURL(), "otlp_grpc", d.OTLPGRPCAddr(),
		"auth", d.authSummary(), "admin", d.AdminURL())

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
		d.log.Error("server failed", "err", runErr)
	case runErr = <-sndDone:
		d.log.Error("sender stopped", "err", runErr)
		sndDone <- runErr
	}
	d.log.Info("shutting down", "timeout", d.cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.ShutdownTimeout)
	defer cancel()
	// Stop accepting first: a request answered 200 is durable already.
	if d.ing != nil {
		_ = d.ing.Shutdown(sctx)
	}
	d.stopOTLP(sctx)
	if err := d.snd.Close(sctx); err != nil {
		d.log.Warn("sender: requests in flight abandoned; their records stay in the spool", "err", err)
	}
	<-sndDone //nolint:errcheck // wait for Run to return; had it failed early, its error is runErr
	if d.adm != nil {
		_ = d.adm.Shutdown(sctx)
	}
	// Read the spool's figures before closing it: a closed spool holds
	// nothing open, and would say that nothing is left.
	st := d.sp.Stats()
	if err := d.sp.Close(); err != nil && runErr == nil {
		runErr = err
	}
	d.log.Info("stopped", "sent", d.snd.Stats().Sent, "records_left", st.Records)
	return runErr
}
