package ingest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Server timeouts set by NewServer.
const (
	// ReadHeaderTimeout bounds reading a request's headers (slowloris).
	ReadHeaderTimeout = 10 * time.Second
	// ReadTimeout bounds reading a whole request, body included: a 64 MiB
	// body at 1 MiB/s fits.
	ReadTimeout = 2 * time.Minute
	// WriteTimeout bounds a request from the end of its headers to the end
	// of its answer: body, decoding, the spool's append, the response.
	WriteTimeout = ReadTimeout + DefaultAppendTimeout + 15*time.Second
	// IdleTimeout closes keep-alive connections idle that long.
	IdleTimeout = 2 * time.Minute
	// ShutdownTimeout is how long Serve waits for requests in flight (and
	// their appends) when its context ends, before closing connections.
	ShutdownTimeout = 10 * time.Second
	// MaxHeaderBytes bounds a request's headers.
	MaxHeaderBytes = 64 << 10
)

// NewServer returns an http.Server for h with the timeouts above and an
// error log that goes to logger (default slog.Default()) at warning level,
// repeats summarised: the first of a kind of connection-level error (a TLS
// handshake error, say) is logged at once, the same error from other
// clients is counted and logged as one line per SummaryInterval.
func NewServer(h http.Handler, logger *slog.Logger) *http.Server {
	if logger == nil {
		logger = slog.Default()
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          newErrorLog(logger, SummaryInterval),
	}
}

// ListenAndServe listens on addr and serves h until ctx ends; see Serve.
func ListenAndServe(ctx context.Context, addr, certFile, keyFile string, h http.Handler, logger *slog.Logger) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	return Serve(ctx, ln, certFile, keyFile, h, logger)
}

// Serve serves h on ln in a NewServer server, at most
// DefaultMaxConnections connections at once (LimitListener), until ctx
// ends, over HTTPS
// when certFile and keyFile are both set (PEM files, loaded once; TLS 1.2
// at least; HTTP/2 is offered), else over plain HTTP. When ctx ends it
// stops accepting, waits up to ShutdownTimeout for requests in flight, so
// that what they acknowledged is really stored, then closes the rest, and
// returns nil. It returns an error if serving fails (a bad certificate, a
// broken listener) and always closes ln.
func Serve(ctx context.Context, ln net.Listener, certFile, keyFile string, h http.Handler, logger *slog.Logger) error {
	if (certFile == "") != (keyFile == "") {
		_ = ln.Close()
		return errors.New("ingest: TLS needs both a certificate and a key file")
	}
	if logger == nil {
		logger = slog.Default()
	}
	srv := NewServer(h, logger)
	ln = LimitListener(ln, DefaultMaxConnections, logger)
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("ingest: loading TLS certificate: %w", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	srv.BaseContext = func(net.Listener) context.Context { return context.WithoutCancel(ctx) }
	errc := make(chan error, 1)
	go func() {
		if certFile != "" {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	scheme := "http"
	if certFile != "" {
		scheme = "https"
	}
	logger.Info("ingest: serving", "addr", ln.Addr().String(), "scheme", scheme)
	select {
	case err := <-errc:
		_ = ln.Close()
		return fmt.Errorf("ingest: serving %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		logger.Warn("ingest: graceful shutdown incomplete; closing connections", "err", err)
		_ = srv.Close()
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("ingest: serving %s: %w", ln.Addr(), serr)
	}
	logger.Info("ingest: stopped", "addr", ln.Addr().String())
	return nil
}
