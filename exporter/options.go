package exporter

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/aispool/aispool/exporter/envelope"
	"github.com/aispool/aispool/sender"
	"github.com/aispool/aispool/spool"
)

// EnvConnectionString is the environment variable read when no connection
// string is given with WithConnectionString.
const EnvConnectionString = "APPLICATIONINSIGHTS_CONNECTION_STRING"

// Option configures a TraceExporter, a LogExporter, a MetricExporter or a
// Pipeline; each option means the same on all of them.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	connectionString string
	lookupEnv        func(string) (string, bool)
	spoolDir         string
	spool            *spool.Spool
	spoolOptions     spool.Options
	envelope         envelope.Config
	logger           *slog.Logger
	noSender         bool
	senderConfig     sender.Config
	tokenSource      sender.TokenSource

	// See options_signals.go.
	pipeline        *Pipeline
	noOffline       bool // WithoutOfflineStorage
	volatile        bool // offline storage disabled, by option or environment
	spoolOptionsSet bool
	senderConfigSet bool
	envelopeSet     bool
}

// WithoutSender disables the in-process sender: the exporter only writes to
// the spool, and another process (the aispool daemon) drains it.
func WithoutSender() Option {
	return optionFunc(func(c *config) { c.noSender = true })
}

// WithSenderConfig tunes the in-process sender (batching, concurrency,
// back-off, timeouts, token source for Entra ID). Its Queue,
// ConnectionString, LookupEnv and Logger are set by the exporter.
func WithSenderConfig(cfg sender.Config) Option {
	return optionFunc(func(c *config) { c.senderConfig, c.senderConfigSet = cfg, true })
}

// WithTokenSource makes the in-process sender send Entra ID bearer tokens
// from src, as a connection string with Authorization=AAD requires (and it
// sends them whatever the connection string says). Package
// github.com/aispool/aispool/entra provides one on azidentity: managed
// identity, workload identity, the default credential chain, or what
// APPLICATIONINSIGHTS_AUTHENTICATION_STRING says. It overrides the
// TokenSource of WithSenderConfig.
func WithTokenSource(src sender.TokenSource) Option {
	return optionFunc(func(c *config) { c.tokenSource = src })
}

// WithConnectionString sets the Application Insights connection string. It
// overrides the APPLICATIONINSIGHTS_CONNECTION_STRING environment variable.
func WithConnectionString(s string) Option {
	return optionFunc(func(c *config) { c.connectionString = s })
}

// WithSpoolDir sets the spool directory. The default is
// "<user cache dir>/aispool/<service>", where the service is
// OTEL_SERVICE_NAME or the program's name. Ignored with WithSpool.
func WithSpoolDir(dir string) Option {
	return optionFunc(func(c *config) { c.spoolDir = dir })
}

// WithSpool makes the exporter append to an existing spool, shared with
// other exporters or a sender. The exporter does not close it.
func WithSpool(s *spool.Spool) Option {
	return optionFunc(func(c *config) { c.spool = s })
}

// WithSpoolOptions sets the limits of the spool the exporter opens (size,
// age, full policy). Ignored with WithSpool.
func WithSpoolOptions(o spool.Options) Option {
	return optionFunc(func(c *config) { c.spoolOptions, c.spoolOptionsSet = o, true })
}

// WithEnvelopeConfig sets conversion settings (non-error status codes,
// span events as messages, ...). Its InstrumentationKey is ignored: the key
// comes from the connection string.
func WithEnvelopeConfig(cfg envelope.Config) Option {
	return optionFunc(func(c *config) { c.envelope, c.envelopeSet = cfg, true })
}

// WithLogger sets the logger. The default is slog.Default().
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.logger = l })
}

// withLookupEnv replaces os.LookupEnv, for tests.
func withLookupEnv(f func(string) (string, bool)) Option {
	return optionFunc(func(c *config) { c.lookupEnv = f })
}

// newConfig applies opts; signal ("", "logs" or "metrics") names the
// default spool directory's suffix (see spoolDirFor).
func newConfig(opts []Option, signal string) (config, error) {
	c := config{lookupEnv: os.LookupEnv}
	for _, o := range opts {
		o.apply(&c)
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	if err := c.check(); err != nil {
		return c, err
	}
	if c.pipeline == nil && c.spool == nil && c.spoolDir == "" && !c.volatile {
		dir, err := spoolDirFor(c.lookupEnv, signal)
		if err != nil {
			return c, err
		}
		c.spoolDir = dir
	}
	if c.spoolOptions.Logger == nil {
		c.spoolOptions.Logger = c.logger
	}
	return c, nil
}

// defaultSpoolDir is "<base>/<service>", where base is
// APPLICATIONINSIGHTS_STORAGE_DIRECTORY or "<user cache dir>/aispool".
func defaultSpoolDir(lookupEnv func(string) (string, bool)) (string, error) {
	cache, ok := lookupEnv(EnvStorageDirectory)
	if !ok || strings.TrimSpace(cache) == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("exporter: no spool directory given and no user cache directory: %w", err)
		}
		cache = filepath.Join(dir, "aispool")
	}
	service, _ := lookupEnv("OTEL_SERVICE_NAME")
	if service == "" {
		service = filepath.Base(os.Args[0])
	}
	service = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 || r == ':' {
			return '_'
		}
		return r
	}, service)
	if service == "" || service == "." || service == ".." {
		return "", errors.New("exporter: cannot derive a spool directory name from the service name; use WithSpoolDir")
	}
	return filepath.Join(cache, service), nil
}
