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

	"github.com/aispool/aispool/ingest"
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

// ErrInvalidConfig marks a configuration error: the daemon exits with code 78
// (EX_CONFIG) for it.
var ErrInvalidConfig = errors.New("configuration error")

// Config configures the daemon. Start from DefaultConfig.
type Config struct {
	// SpoolDir is the spool directory. Required.
	SpoolDir string
	// ConnectionString is the Application Insights connection string;
	// empty means APPLICATIONINSIGHTS_CONNECTION_STRING (through LookupEnv).
	ConnectionString string
	// ConnectionStringFile names a file holding the connection string
	// (its content, trimmed), instead of ConnectionString: unlike a
	// command-line argument, it is not shown by ps to every user.
	ConnectionStringFile string
	// LookupEnv reads the environment; default os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Listen is the local ingestion endpoint's address; empty disables it.
	Listen string
	// AdminListen serves /metrics, /healthz and /readyz; empty disables it.
	AdminListen string
	// OTLPHTTPListen and OTLPGRPCListen are the OTLP intake's addresses
	// (OTLP/HTTP and OTLP/gRPC, docs/otlp.md); empty disables either. At
	// their defaults (OTLP's own ports on loopback), an address already
	// in use (a local OpenTelemetry Collector) is logged and that
	// listener left off; any other address in use is an error.
	OTLPHTTPListen, OTLPGRPCListen string
	// TLSCert and TLSKey switch the local ingestion endpoint and the OTLP
	// intake to HTTPS (TLS for gRPC).
	TLSCert, TLSKey string
	// Exposure says who may use the local ingestion endpoint and the OTLP
	// intake.
	Exposure Exposure
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

	// Resource limits of the local ingestion endpoint (docs/intake.md).

	// MemoryLimit is the memory the daemon is meant to stay within, such
	// as its container's limit. Unless GOMEMLIMIT is set in the
	// environment, "aispool run" sets the Go runtime's soft memory limit
	// to GoMemLimit (three quarters of it), and the intake's memory
	// budget defaults to an eighth of it. Default DefaultMemoryLimit.
	MemoryLimit int64
	// IntakeMemory is the memory budget shared by the local ingestion
	// endpoint's requests in flight (ingest.Config.MemoryBudget); 0 means
	// MemoryLimit/8.
	IntakeMemory int64
	// MaxConnections caps the local ingestion endpoint's open
	// connections (ingest.LimitListener). Default
	// ingest.DefaultMaxConnections.
	MaxConnections int
	// MinBodyRate is the slowest a request body may arrive, in bytes per
	// second, after a grace of 5 s (ingest.Config.MinBodyRate). Default
	// ingest.DefaultMinBodyRate.
	MinBodyRate int64
}

// DefaultMemoryLimit is the default of Config.MemoryLimit: the memory
// limit of the shipped Kubernetes DaemonSet.
const DefaultMemoryLimit = 256 << 20

// GoMemLimit returns the Go runtime soft memory limit derived from
// MemoryLimit: three quarters of it, leaving room for what the runtime
// does not count (the spool's memory-mapped segment files, the binary).
func (c Config) GoMemLimit() int64 { return c.MemoryLimit / 4 * 3 }

// IntakeBudget returns the memory budget of the local ingestion endpoint:
// IntakeMemory, or MemoryLimit/8.
func (c Config) IntakeBudget() int64 {
	if c.IntakeMemory > 0 {
		return c.IntakeMemory
	}
	return c.MemoryLimit / 8
}

// DefaultConfig returns the defaults: loopback listeners, a 1 GiB spool
// kept at most 48 h, a 10 s shutdown.
func DefaultConfig() Config {
	return Config{
		LookupEnv:       os.LookupEnv,
		Listen:          DefaultListen,
		AdminListen:     DefaultAdminListen,
		OTLPHTTPListen:  DefaultOTLPHTTPListen,
		OTLPGRPCListen:  DefaultOTLPGRPCListen,
		MaxSpoolBytes:   spool.DefaultMaxBytes,
		MaxAge:          spool.DefaultMaxAge,
		Overflow:        spool.RejectNew,
		ShutdownTimeout: 10 * time.Second,
		Logger:          slog.Default(),
		MemoryLimit:     DefaultMemoryLimit,
		MaxConnections:  ingest.DefaultMaxConnections,
		MinBodyRate:     ingest.DefaultMinBodyRate,
	}
}

// Validate checks the whole configuration and returns every problem at
// once, each naming its field (or flag), wrapped in [ErrInvalidConfig]. It reads
// the files it names (secrets, certificates) but touches neither the spool
// nor the network.
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
	errs = append(errs, c.validateConnectionString(lookup)...)
	listeners := c.listeners()
	for i, l := range listeners {
		if l.addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(l.addr); err != nil {
			add("%s %q: not host:port: %w", l.flag, l.addr, err)
		}
		for _, m := range listeners[:i] {
			if m.addr == l.addr && !strings.HasSuffix(l.addr, ":0") {
				add("%s and %s: both are %s", m.flag, l.flag, l.addr)
			}
		}
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
	errs = append(errs, c.validateExposure()...)
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
	errs = append(errs, c.validateIntake()...)
	sc := c.Sender
	sc.Queue = nopQueue{} // the daemon provides the queue
	if err := sc.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
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

// minIntakeMemory is the least intake memory budget accepted: room for a
// few ordinary requests.
const minIntakeMemory = 1 << 20

// validateIntake checks the resource limits of the local ingestion
// endpoint.
func (c Config) validateIntake() []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	switch {
	case c.MemoryLimit < 0:
		add("--memory-limit %d: negative", c.MemoryLimit)
	case c.MemoryLimit > 0 && c.MemoryLimit < 16<<20:
		add("--memory-limit %d: less than 16 MiB", c.MemoryLimit)
	}
	switch {
	case c.IntakeMemory < 0:
		add("--intake-memory %d: negative", c.IntakeMemory)
	case c.IntakeMemory > 0 && c.IntakeMemory < minIntakeMemory:
		add("--intake-memory %d: less than 1 MiB", c.IntakeMemory)
	case c.MemoryLimit > 0 && c.IntakeMemory > c.MemoryLimit/2:
		add("--intake-memory %d: more than half of --memory-limit %d", c.IntakeMemory, c.MemoryLimit)
	case c.MemoryLimit == 0 && c.IntakeMemory == 0 && c.intakeOn():
		add("--intake-memory: required when --memory-limit is 0")
	}
	if c.MaxConnections < 1 {
		add("--max-connections %d: must be at least 1", c.MaxConnections)
	}
	if c.MinBodyRate < 1 {
		add("--min-body-rate %d: must be at least 1 byte per second", c.MinBodyRate)
	}
	return errs
}

// listener is a listen address and the flag that sets it.
type listener struct{ flag, addr string }

// listeners returns the daemon's listen addresses, empty ones included.
func (c Config) listeners() []listener {
	return []listener{{"--listen", c.Listen}, {"--admin-listen", c.AdminListen},
		{"--otlp-http-listen", c.OTLPHTTPListen}, {"--otlp-grpc-listen", c.OTLPGRPCListen}}
}

// intakeOn reports whether any intake listens: the Breeze intake or OTLP.
func (c Config) intakeOn() bool {
	return c.Listen != "" || c.OTLPHTTPListen != "" || c.OTLPGRPCListen != ""
}
