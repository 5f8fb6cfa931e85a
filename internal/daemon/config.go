package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/aispool/aispool/internal/connstring"
	"github.com/aispool/aispool/sender"
	"github.com/aispool/aispool/spool"
)

// Default listen addresses. The local ingestion endpoint uses 4320, next to
// OTLP's 4317 (gRPC) and 4318 (HTTP) so that it is easy to remember, without
// clashing with them; the admin endpoint (metrics, health) uses 9321. Both
// listen on loopback only unless told otherwise.
const (
	DefaultListen      = "127.0.0.1:4320"
	DefaultAdminListen = "127.0.0.1:9321"
)

// ErrConfig marks a configuration error: the daemon exits with code 78
// (EX_CONFIG) for it.
var ErrConfig = errors.New("configuration error")

// Config configures the daemon. Start from DefaultConfig.
type Config struct {
	// SpoolDir is the spool directory. Required.
	SpoolDir string
	// ConnectionString is the Application Insights connection string;
	// empty means APPLICATIONINSIGHTS_CONNECTION_STRING (through LookupEnv).
	ConnectionString string
	// LookupEnv reads the environment; default os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Listen is the local ingestion endpoint's address; empty disables it.
	Listen string
	// AdminListen serves /metrics, /healthz and /readyz; empty disables it.
	AdminListen string
	// TLSCert and TLSKey switch the local ingestion endpoint to HTTPS.
	TLSCert, TLSKey string
	// MaxSpoolBytes and MaxAge bound the spool (see spool.Options).
	MaxSpoolBytes int64
	MaxAge        time.Duration
	// Overflow is what the local ingestion endpoint does when the spool
	// holds MaxSpoolBytes: spool.RejectNew (the default) answers 503 with
	// Retry-After and evicts nothing; spool.DropOldest evicts the oldest
	// segments, acknowledged data, counted as dropped "full".
	Overflow spool.FullPolicy
	// ShutdownTimeout bounds the graceful part of a shutdown: requests in
	// flight to the ingestion service finish or are abandoned by then (their
	// records stay in the spool). Default 10 s.
	ShutdownTimeout time.Duration
	// Sender tunes the sender; Queue, ConnectionString, LookupEnv and Logger
	// are set by the daemon.
	Sender sender.Config
	// Logger receives the daemon's logs; default slog.Default().
	Logger *slog.Logger
	// Version is reported by aispool_build_info.
	Version string
}

// DefaultConfig returns the defaults: loopback listeners, a 1 GiB spool
// kept at most 48 h, a 10 s shutdown.
func DefaultConfig() Config {
	return Config{
		LookupEnv:       os.LookupEnv,
		Listen:          DefaultListen,
		AdminListen:     DefaultAdminListen,
		MaxSpoolBytes:   spool.DefaultMaxBytes,
		MaxAge:          spool.DefaultMaxAge,
		Overflow:        spool.RejectNew,
		ShutdownTimeout: 10 * time.Second,
		Logger:          slog.Default(),
	}
}

// Validate checks the whole configuration and returns every problem at
// once, each naming its field (or flag), wrapped in ErrConfig. It does not
// touch the disk or the network.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.SpoolDir == "" {
		add("--spool-dir: required")
	}
	lookup := c.LookupEnv
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	if _, err := connstring.Resolve(c.ConnectionString, lookup); err != nil {
		add("--connection-string: %w", err)
	}
	for _, l := range []struct{ flag, addr string }{{"--listen", c.Listen}, {"--admin-listen", c.AdminListen}} {
		if l.addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(l.addr); err != nil {
			add("%s %q: not host:port: %w", l.flag, l.addr, err)
		}
	}
	if c.Listen != "" && c.Listen == c.AdminListen && !strings.HasSuffix(c.Listen, ":0") {
		add("--listen and --admin-listen: both are %s", c.Listen)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		add("--tls-cert and --tls-key: give both or neither")
	}
	for _, f := range []struct{ flag, path string }{{"--tls-cert", c.TLSCert}, {"--tls-key", c.TLSKey}} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			add("%s: %w", f.flag, err)
		}
	}
	if c.MaxSpoolBytes < 0 {
		add("--max-spool-bytes %d: negative", c.MaxSpoolBytes)
	}
	if c.MaxAge < 0 {
		add("--max-age %v: negative", c.MaxAge)
	}
	if c.Overflow != spool.DropOldest && c.Overflow != spool.RejectNew {
		add("--overflow %v: want drop-oldest or reject", c.Overflow)
	}
	if c.ShutdownTimeout < 0 {
		add("--shutdown-timeout %v: negative", c.ShutdownTimeout)
	}
	sc := c.Sender
	sc.Queue = nopQueue{} // the daemon provides the queue
	if err := sc.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrConfig, errors.Join(errs...))
}

func (c Config) spoolOptions() *spool.Options {
	return &spool.Options{MaxBytes: c.MaxSpoolBytes, MaxAge: c.MaxAge, Policy: c.Overflow, Logger: c.Logger}
}

func (c Config) senderConfig(sp *spool.Spool) sender.Config {
	sc := c.Sender
	sc.Queue = sender.SpoolQueue(sp)
	sc.ConnectionString = c.ConnectionString
	sc.LookupEnv = c.LookupEnv
	sc.Logger = c.Logger
	return sc
}

// nopQueue stands in for the spool when validating the sender's settings.
type nopQueue struct{}

func (nopQueue) Lease(context.Context, int, int) (sender.Batch, error) { return nil, nil }
func (nopQueue) Notify() <-chan struct{}                               { return nil }
