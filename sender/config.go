package sender

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/hashicorp/go-cleanhttp"

	"github.com/aispool/aispool/internal/breeze"
	"github.com/aispool/aispool/internal/clock"
)

// Defaults of Config; a zero field means its default.
const (
	DefaultMaxInFlight        = 2
	DefaultMaxBatchItems      = 5000
	DefaultMaxBatchBytes      = 512 << 10
	DefaultMaxItemBytes       = 64 << 10
	DefaultMaxAge             = 47 * time.Hour
	DefaultRequestTimeout     = 30 * time.Second
	DefaultTransportRetries   = 2
	DefaultTransportRetryWait = 250 * time.Millisecond
	DefaultBackoffInitial     = time.Second
	DefaultBackoffMax         = 5 * time.Minute
	DefaultPollInterval       = time.Second
	DefaultMaxRedirects       = 10
	DefaultRedirectTTL        = 12 * time.Hour
	DefaultCompressionLevel   = 2
	DefaultPoisonAttempts     = 3
)

// maxBatchItemsLimit is the service's limit of items per request.
const maxBatchItemsLimit = breeze.DefaultMaxItems

// Config configures a Sender. Zero fields take the defaults above, so
// Config{Queue: q, ConnectionString: cs} is a complete configuration.
type Config struct {
	// Queue is drained. Required. Wrap a *spool.Spool with SpoolQueue.
	Queue Queue

	// ConnectionString is the Application Insights connection string. If
	// blank, the environment variable APPLICATIONINSIGHTS_CONNECTION_STRING
	// is read through LookupEnv. One of them is required.
	ConnectionString string
	// LookupEnv reads the environment (os.LookupEnv in production). Nil
	// means no environment.
	LookupEnv func(string) (string, bool)

	// TokenSource supplies Entra ID bearer tokens; required when the
	// connection string says Authorization=AAD. When set, every request
	// carries a token, whatever the connection string says.
	TokenSource TokenSource

	// Transport carries the requests; default a pooled transport from
	// go-cleanhttp (no shared global state).
	Transport http.RoundTripper
	// RequestTimeout bounds one exchange with the endpoint, transport
	// retries included, per redirect hop. Default 30 s.
	RequestTimeout time.Duration
	// TransportRetries is how often the transport layer retries a request
	// whose connection failed before any response: 0 to 5, default 2. Set
	// -1 for none.
	TransportRetries int
	// TransportRetryWait is the first wait of the transport layer's
	// retries (doubling, capped at 4×, jittered). Default 250 ms; at most
	// 1 s so that the layer stays a hiccup absorber.
	TransportRetryWait time.Duration

	// MaxInFlight bounds concurrent requests. Default 2.
	MaxInFlight int
	// MaxBatchItems bounds the items per request: 1 to 64,000, default
	// 5000.
	MaxBatchItems int
	// MaxBatchBytes bounds the uncompressed bytes per request (a single
	// larger item is still sent alone). Default 512 KiB: about 650
	// envelopes of an HTTP server span, enough to amortise a request while
	// bounding the memory of the batches in flight (MaxInFlight of them,
	// their records copied out of the spool, and the spool pages a lease
	// and a settle read: see docs/exporter.md). 1 MiB took 6 to 8 MiB more
	// peak RSS in the exporter benchmark for 5 % less CPU per span and 1 %
	// fewer wire bytes; handing the records' copies back to the spool once
	// the body is compressed did not lower that peak (docs/sender.md).
	MaxBatchBytes int
	// MaxItemBytes: longer items are dropped before sending as
	// "too_large" (the service refuses items of 64 KB and more). Default
	// 64 KiB; -1 disables the check.
	MaxItemBytes int
	// MaxAge: older items are dropped before sending as "expired" (the
	// service refuses items older than 48 h). Default 47 h.
	MaxAge time.Duration
	// MaxAttempts: an item kept for retry this many times is dropped as
	// "max_attempts" instead of being sent again. Default 0: no limit
	// (MaxAge bounds retries).
	MaxAttempts int

	// PoisonAttempts: a request that fails as a whole (5xx, a 400 without
	// errors[], a reset or timeout) while the endpoint is healthy is resent
	// in halves, as for 413, until the item that makes requests fail is
	// alone; an item that fails alone, while requests without it succeed,
	// this many times is dropped as "poison" and logged by type, size and
	// age. Default 3; -1 turns isolation off (such requests are kept and
	// backed off, as during an outage, when nothing is split).
	PoisonAttempts int

	// BackoffInitial and BackoffMax shape the per-endpoint exponential
	// back-off (factor 1.5, jitter ±50%, capped at BackoffMax). Defaults 1 s
	// and 5 min. A Retry-After (clamped to 1 h) replaces the interval. Items
	// that a healthy endpoint asked to retry (a partial success) do not back
	// the endpoint off: each waits a delay of its own, BackoffInitial
	// growing 1.5 times per attempt (jitter ±50%, capped at BackoffMax and 5 s),
	// while the other records keep flowing.
	BackoffInitial time.Duration
	BackoffMax     time.Duration

	// PollInterval is how often an idle sender looks at the queue without
	// a notification. Default 1 s.
	PollInterval time.Duration

	// MaxRedirects bounds the 307/308 hops of one request. Default 10.
	MaxRedirects int
	// RedirectTTL is how long a redirect target is remembered when the
	// response has no Cache-Control max-age. Default 12 h.
	RedirectTTL time.Duration

	// CompressionLevel is the gzip level of request bodies (klauspost/compress,
	// 1 to 9, or -2 for Huffman coding only): default 2, which sends span
	// envelopes in about 6 % fewer bytes than level 1 for about a third more
	// compression CPU (some 0.2 µs per span), and fewer bytes than the
	// OpenTelemetry Collector's exporter (the standard library's default
	// level, on envelopes of its own) at a quarter of its compression CPU.
	// docs/sender.md has the measurements of every level. Level 0 (no
	// compression) cannot be chosen: zero means the default.
	CompressionLevel int

	// UserAgent, if set, is sent as the User-Agent header.
	UserAgent string
	// Clock is the source of time of the back-off gates, Retry-After
	// dates, expiry, idle polling and statistics; default [clock.System].
	// Tests give a fake to run hours of back-off in milliseconds. HTTP
	// timeouts and the transport layer's sub-second retry waits use real
	// time.
	Clock clock.Clock
	// Logger receives the sender's logs; default slog.Default(). Logs
	// never contain envelopes, full instrumentation keys or tokens.
	Logger *slog.Logger
}

// withDefaults returns c with zero fields replaced by defaults.
func (c Config) withDefaults() Config {
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	defD := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	def(&c.MaxInFlight, DefaultMaxInFlight)
	def(&c.MaxBatchItems, DefaultMaxBatchItems)
	def(&c.MaxBatchBytes, DefaultMaxBatchBytes)
	def(&c.MaxItemBytes, DefaultMaxItemBytes)
	def(&c.TransportRetries, DefaultTransportRetries)
	def(&c.MaxRedirects, DefaultMaxRedirects)
	defD(&c.MaxAge, DefaultMaxAge)
	defD(&c.RequestTimeout, DefaultRequestTimeout)
	defD(&c.TransportRetryWait, DefaultTransportRetryWait)
	defD(&c.BackoffInitial, DefaultBackoffInitial)
	defD(&c.BackoffMax, DefaultBackoffMax)
	defD(&c.PollInterval, DefaultPollInterval)
	defD(&c.RedirectTTL, DefaultRedirectTTL)
	def(&c.CompressionLevel, DefaultCompressionLevel)
	def(&c.PoisonAttempts, DefaultPoisonAttempts)
	if c.TransportRetries < 0 {
		c.TransportRetries = 0
	}
	if c.Transport == nil {
		c.Transport = cleanhttp.DefaultPooledTransport()
	}
	if c.Clock == nil {
		c.Clock = clock.System{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports every problem of c (after defaults), each naming its
// field and wrapping ErrInvalidConfig, joined with errors.Join. It does not
// check the connection string; New does.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalidConfig, field, fmt.Sprintf(format, args...)))
	}
	if c.Queue == nil {
		bad("Queue", "required")
	}
	if c.MaxInFlight < 1 || c.MaxInFlight > 64 {
		bad("MaxInFlight", "%d not in 1..64", c.MaxInFlight)
	}
	if c.MaxBatchItems < 1 || c.MaxBatchItems > maxBatchItemsLimit {
		bad("MaxBatchItems", "%d not in 1..%d", c.MaxBatchItems, maxBatchItemsLimit)
	}
	if c.MaxBatchBytes < 1024 {
		bad("MaxBatchBytes", "%d below 1024", c.MaxBatchBytes)
	}
	if c.MaxItemBytes < -1 {
		bad("MaxItemBytes", "%d negative", c.MaxItemBytes)
	}
	if c.MaxAge < 0 {
		bad("MaxAge", "%v negative", c.MaxAge)
	}
	if c.MaxAttempts < 0 {
		bad("MaxAttempts", "%d negative", c.MaxAttempts)
	}
	if c.PoisonAttempts < -1 {
		bad("PoisonAttempts", "%d: a count, or -1 for no isolation", c.PoisonAttempts)
	}
	if c.RequestTimeout < 0 {
		bad("RequestTimeout", "%v negative", c.RequestTimeout)
	}
	if c.TransportRetries > 5 {
		bad("TransportRetries", "%d above 5: the transport layer only absorbs hiccups; outages are the back-off's", c.TransportRetries)
	}
	if c.TransportRetryWait < 0 || c.TransportRetryWait > time.Second {
		bad("TransportRetryWait", "%v not in 0..1s", c.TransportRetryWait)
	}
	if c.BackoffInitial < 0 {
		bad("BackoffInitial", "%v negative", c.BackoffInitial)
	}
	if c.BackoffMax < c.BackoffInitial {
		bad("BackoffMax", "%v below BackoffInitial %v", c.BackoffMax, c.BackoffInitial)
	}
	if c.PollInterval < 0 {
		bad("PollInterval", "%v negative", c.PollInterval)
	}
	if c.MaxRedirects < 0 {
		bad("MaxRedirects", "%d negative", c.MaxRedirects)
	}
	if c.RedirectTTL < 0 {
		bad("RedirectTTL", "%v negative", c.RedirectTTL)
	}
	if _, err := newBodyPool(c.CompressionLevel, 1); err != nil {
		bad("CompressionLevel", "%d not a gzip level", c.CompressionLevel)
	}
	return errors.Join(errs...)
}
