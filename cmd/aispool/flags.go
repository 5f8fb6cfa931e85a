package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/aispool/aispool/internal/daemon"
	"github.com/aispool/aispool/sender"
	"github.com/aispool/aispool/spool"
)

// daemonFlags are the flags of run, drain and validate, mapped onto
// daemon.Config.
type daemonFlags struct {
	cfg   daemon.Config
	entra entraFlags
}

func (f *daemonFlags) register(fs *pflag.FlagSet, listeners bool) {
	d := daemon.DefaultConfig()
	f.cfg = d
	fs.StringVar(&f.cfg.SpoolDir, "spool-dir", "", "spool directory (required)")
	fs.StringVar(&f.cfg.ConnectionString, "connection-string", "", "Application Insights connection string (default: $APPLICATIONINSIGHTS_CONNECTION_STRING); visible to every user in ps: prefer --connection-string-file or the variable")
	fs.StringVar(&f.cfg.ConnectionStringFile, "connection-string-file", "", "file holding the connection string (its content, trimmed), instead of --connection-string")
	fs.Int64Var(&f.cfg.MaxSpoolBytes, "max-spool-bytes", d.MaxSpoolBytes, "maximum bytes on disk of the spool; past it --overflow applies")
	fs.Var((*overflowFlag)(&f.cfg.Overflow), "overflow", "when the spool holds --max-spool-bytes: reject (answer 503 with Retry-After, evict nothing) or drop-oldest (evict the oldest records, counted)")
	fs.DurationVar(&f.cfg.MaxAge, "max-age", d.MaxAge, "records older than this are dropped")
	fs.DurationVar(&f.cfg.ShutdownTimeout, "shutdown-timeout", d.ShutdownTimeout, "how long requests in flight may finish at shutdown")
	fs.IntVar(&f.cfg.Sender.MaxInFlight, "max-in-flight", sender.DefaultMaxInFlight, "concurrent requests to the ingestion service")
	fs.IntVar(&f.cfg.Sender.MaxBatchItems, "max-batch-items", sender.DefaultMaxBatchItems, "envelopes per request to the ingestion service (at most 64000)")
	fs.DurationVar(&f.cfg.Sender.RequestTimeout, "request-timeout", sender.DefaultRequestTimeout, "bound on one request to the ingestion service")
	fs.DurationVar(&f.cfg.Sender.BackoffInitial, "backoff-initial", sender.DefaultBackoffInitial, "first back-off interval after a failed request (growing 1.5 times per failure, jittered)")
	fs.DurationVar(&f.cfg.Sender.BackoffMax, "backoff-max", sender.DefaultBackoffMax, "longest back-off interval (a Retry-After may ask for more)")
	f.cfg.Sender.PoisonAttempts = sender.DefaultPoisonAttempts
	fs.Var((*poisonAttemptsFlag)(&f.cfg.Sender.PoisonAttempts), "poison-attempts",
		"an envelope that makes every request holding it fail while others succeed is dropped as poison after failing alone this many times; -1: never isolate it")
	f.entra.register(fs)
	if listeners {
		fs.StringVar(&f.cfg.Listen, "listen", d.Listen, "address of the local ingestion endpoint (empty: off)")
		fs.StringVar(&f.cfg.AdminListen, "admin-listen", d.AdminListen, "address of /metrics, /healthz, /readyz and /spool (empty: off)")
		fs.BoolVar(&f.cfg.AdminPprof, "admin-pprof", false, "also serve the Go runtime's profiles at /debug/pprof/ on the admin address (for profiling; off by default)")
		fs.StringVar(&f.cfg.OTLPHTTPListen, "otlp-http-listen", d.OTLPHTTPListen, "address of the OTLP/HTTP intake (empty: off); at the default, a port in use (a local OpenTelemetry Collector) leaves it off with a warning")
		fs.StringVar(&f.cfg.OTLPGRPCListen, "otlp-grpc-listen", d.OTLPGRPCListen, "address of the OTLP/gRPC intake (empty: off); at the default, a port in use (a local OpenTelemetry Collector) leaves it off with a warning")
		fs.StringVar(&f.cfg.TLSCert, "tls-cert", "", "certificate file: serve the local ingestion endpoint over HTTPS")
		fs.StringVar(&f.cfg.TLSKey, "tls-key", "", "private key file for --tls-cert")
		registerExposureFlags(fs, &f.cfg.Exposure)
	} else {
		f.cfg.Listen, f.cfg.AdminListen, f.cfg.OTLPHTTPListen, f.cfg.OTLPGRPCListen = "", "", "", ""
	}
	if listeners {
		// Resource limits of the local ingestion endpoint (docs/intake.md).
		fs.Var(newByteSize(&f.cfg.MemoryLimit, d.MemoryLimit), "memory-limit",
			"memory the daemon should stay within, such as its container's limit (e.g. 256MiB): the Go runtime's soft limit is set to 3/4 of it unless GOMEMLIMIT is set; 0: none")
		fs.Var(newByteSize(&f.cfg.IntakeMemory, 0), "intake-memory",
			"memory shared by the local ingestion endpoint's requests in flight; a request that cannot get its share soon enough is answered 503 (default: --memory-limit/8)")
		fs.IntVar(&f.cfg.MaxConnections, "max-connections", d.MaxConnections,
			"connections the local ingestion endpoint keeps open at once; more are closed as they come, with one log line")
		fs.Var(newByteSize(&f.cfg.MinBodyRate, d.MinBodyRate), "min-body-rate",
			"slowest a request body may arrive, bytes per second after 5 s (e.g. 4KiB): a slower body is cut with 408")
	}
}

// overflowFlag is --overflow: drop-oldest or reject.
type overflowFlag spool.FullPolicy

func (o *overflowFlag) String() string {
	if spool.FullPolicy(*o) == spool.RejectNew {
		return "reject"
	}
	return spool.FullPolicy(*o).String()
}

func (o *overflowFlag) Set(v string) error {
	switch v {
	case "reject", "reject-new":
		*o = overflowFlag(spool.RejectNew)
	case "drop-oldest":
		*o = overflowFlag(spool.DropOldest)
	default:
		return fmt.Errorf("want reject or drop-oldest, not %q", v)
	}
	return nil
}

func (*overflowFlag) Type() string { return "policy" }

// poisonAttemptsFlag is --poison-attempts: a count of at least 1, or -1 to
// turn poison isolation off (sender.Config.PoisonAttempts, whose 0 means
// the default, is not offered).
type poisonAttemptsFlag int

func (p *poisonAttemptsFlag) Set(v string) error {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	switch {
	case err != nil:
		return fmt.Errorf("%q is not a whole number", v)
	case n == 0 || n < -1:
		return fmt.Errorf("%d: want at least 1, or -1 to turn poison isolation off", n)
	}
	*p = poisonAttemptsFlag(n)
	return nil
}

func (p *poisonAttemptsFlag) String() string { return strconv.Itoa(int(*p)) }

func (*poisonAttemptsFlag) Type() string { return "int" }

// config returns the configuration with the command's environment and
// logger.
func (f *daemonFlags) config(g *globals) (daemon.Config, error) {
	log, err := g.logger()
	if err != nil {
		return daemon.Config{}, err
	}
	c := f.cfg
	c.LookupEnv = g.lookupEnv
	c.Logger = log
	c.Version = version()
	src, err := f.entra.tokenSource(c)
	if err != nil {
		return daemon.Config{}, err
	}
	if src != nil {
		c.Sender.TokenSource = src
		log.Info("Entra ID bearer tokens for the ingestion service", "credential", src.String())
	}
	return c, nil
}
