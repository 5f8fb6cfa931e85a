package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"regexp"
	"strconv"
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
	// AdminPprof also serves the Go runtime's profiles (net/http/pprof)
	// under /debug/pprof/ on the admin address, for profiling a running
	// daemon (docs/benchmarks.md). Off by default: a profile costs CPU
	// and shows the program's internals to whoever can reach the address.
	AdminPprof bool
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
// kept at most 48 h, a 10 s shutdown, the sender's defaults for the
// settings that have a flag (Validate refuses a zero there).
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
		Sender: sender.Config{
			MaxInFlight:    sender.DefaultMaxInFlight,
			MaxBatchItems:  sender.DefaultMaxBatchItems,
			RequestTimeout: sender.DefaultRequestTimeout,
			BackoffInitial: sender.DefaultBackoffInitial,
			BackoffMax:     sender.DefaultBackoffMax,
		},
	}
}

// Validate checks the whole configuration and returns every problem at
// once, each naming its flag, wrapped in [ErrInvalidConfig]. It makes
// every check [New] makes before it opens the spool and binds the
// listeners, so that a configuration Validate accepts fails only for
// what can change in between (an address in use, a disk full). It reads
// the files it names (secrets, certificates) and looks at the spool
// directory without creating or changing it, and touches no network.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.SpoolDir == "" {
		add("--spool-dir: required")
	} else if err := spool.CheckDir(c.SpoolDir); err != nil {
		add("--spool-dir: %w", err)
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
		if err := checkAddr(l.addr); err != nil {
			add("%s %q: %w", l.flag, l.addr, err)
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
	if c.TLSCert != "" && c.TLSKey != "" {
		// What New loads: a file that is not a certificate, or a key that
		// does not match it, is a configuration error before the start.
		if _, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey); err != nil {
			add("--tls-cert/--tls-key: %w", err)
		}
	} else {
		for _, f := range []struct{ flag, path string }{{"--tls-cert", c.TLSCert}, {"--tls-key", c.TLSKey}} {
			if f.path == "" {
				continue
			}
			if _, err := os.Stat(f.path); err != nil {
				add("%s: %w", f.flag, err)
			}
		}
	}
	errs = append(errs, c.validateExposure()...)
	switch {
	case c.MaxSpoolBytes < 0:
		add("--max-spool-bytes %d: negative", c.MaxSpoolBytes)
	case c.MaxSpoolBytes == 0:
		add("--max-spool-bytes 0: must be positive")
	}
	switch {
	case c.MaxAge < 0:
		add("--max-age %v: negative", c.MaxAge)
	case c.MaxAge == 0:
		add("--max-age 0s: must be positive")
	}
	if c.Overflow != spool.DropOldest && c.Overflow != spool.RejectNew {
		add("--overflow %v: want drop-oldest or reject", c.Overflow)
	}
	if c.MaxSpoolBytes > 0 && c.MaxAge > 0 {
		// The spool's own checks (sizes against its segment size).
		if err := c.spoolOptions().Validate(); err != nil {
			errs = append(errs, flagNames(err, "spool: invalid config: "))
		}
	}
	if c.ShutdownTimeout < 0 {
		add("--shutdown-timeout %v: negative", c.ShutdownTimeout)
	}
	errs = append(errs, c.validateIntake()...)
	errs = append(errs, c.validateSender()...)
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
}

// checkAddr checks a listen address as net.Listen would take it: host:port
// with a port from 0 to 65535 (or a service name).
func checkAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("not host:port: %w", err)
	}
	if port == "" {
		return errors.New("no port")
	}
	if n, err := strconv.Atoi(port); err == nil {
		if n < 0 || n > 65535 {
			return fmt.Errorf("port %d not in 0..65535", n)
		}
		return nil
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("port %q is neither a number nor a known service", port)
	}
	return nil
}

// validateSender checks the sender's settings. A zero that the sender
// would replace with its default is refused: the flags say 1 and up, and
// a user who wrote 0 did not mean 2.
func (c Config) validateSender() []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	sc := c.Sender
	if sc.MaxInFlight == 0 {
		add("--max-in-flight 0: must be 1 to 64")
	}
	if sc.MaxBatchItems == 0 {
		add("--max-batch-items 0: must be 1 to 64000")
	}
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"--request-timeout", sc.RequestTimeout}, {"--backoff-initial", sc.BackoffInitial}, {"--backoff-max", sc.BackoffMax}} {
		if d.v == 0 {
			add("%s 0s: must be positive", d.flag)
		}
	}
	sc.Queue = nopQueue{} // the daemon provides the queue
	if err := sc.Validate(); err != nil {
		errs = append(errs, flagNames(err, "sender: invalid config: "))
	}
	return errs
}

// fieldFlags names, for the fields of sender.Config and spool.Options that
// a flag sets, the flag, so that an error of their Validate names what the
// user typed. Fields no flag sets keep the daemon's default and cannot be
// wrong.
var fieldFlags = map[string]string{
	// sender.Config
	"MaxInFlight":    "--max-in-flight",
	"MaxBatchItems":  "--max-batch-items",
	"RequestTimeout": "--request-timeout",
	"BackoffInitial": "--backoff-initial",
	"BackoffMax":     "--backoff-max",
	"PoisonAttempts": "--poison-attempts",
	// spool.Options
	"MaxBytes":        "--max-spool-bytes",
	"MaxAge":          "--max-age",
	"Policy":          "--overflow",
	"SegmentMaxBytes": "the segment size",
}

var fieldName = regexp.MustCompile(`\b[A-Z][A-Za-z]+\b`)

// flagNames rewrites the errors of a package's Validate (one per line,
// each starting with prefix) to name flags instead of Go fields. The
// result wraps err.
func flagNames(err error, prefix string) error {
	lines := strings.Split(err.Error(), "\n")
	for i, msg := range lines {
		msg = strings.TrimPrefix(msg, prefix)
		msg = strings.TrimPrefix(msg, "option ")
		lines[i] = fieldName.ReplaceAllStringFunc(msg, func(w string) string {
			if f, ok := fieldFlags[w]; ok {
				return f
			}
			return w
		})
	}
	return fieldErrors{err, strings.Join(lines, "\n")}
}

// fieldErrors shows the errors of another package's Validate with flag
// names; it wraps them.
type fieldErrors struct {
	err error
	msg string
}

func (e fieldErrors) Error() string { return e.msg }
func (e fieldErrors) Unwrap() error { return e.err }

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
