package sender

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/aispool/aispool/internal/breeze"
	"github.com/aispool/aispool/internal/connstring"
	"github.com/aispool/aispool/spool"
)

// Retry layering
//
// Two layers retry, with separate jobs, and they never multiply:
//
//  1. The transport layer (go-retryablehttp) retries one request at most
//     Config.TransportRetries times (default 2) within about a second
//     (waits of Config.TransportRetryWait doubling, capped at 4× that), and
//     only when no response arrived because the connection failed: refused,
//     reset, closed before the response. It never retries a response (not
//     429, 439, 5xx, nor anything with Retry-After) and never a timeout: a
//     server that answers, or is slow, is the sender's business. The whole
//     exchange, retries included, is bounded by Config.RequestTimeout.
//  2. The sender's schedule (cenkalti/backoff, one state per endpoint) owns
//     everything else. When the transport layer gives up, that counts as one
//     failure of the endpoint; the records stay in the spool, and while the
//     endpoint is failing only one probe request is in flight.
//
// So a dead endpoint sees at most 1+TransportRetries connection attempts per
// back-off interval, and a throttling one sees no request before its
// Retry-After.

// maxResponseBody bounds how much of a response body is read. A 206 for
// 64,000 items lists at most 64,000 errors of ~100 bytes.
const maxResponseBody = 16 << 20

// exchange is what one POST (after following redirects) produced.
type exchange struct {
	verdict   breeze.Verdict
	endpoint  *endpointState // the endpoint that answered (or failed)
	gen       uint64         // its generation when the request started
	healthy   bool           // the endpoint had no failure since its last success then
	url       string         // the final URL
	redirects int
}

// transmitter posts bodies to the track URL: bearer token, redirects and
// their cache, the transport retry layer, classification.
type transmitter struct {
	cfg      *Config
	trackURL string
	client   *retryablehttp.Client
	tokens   *tokenCache // nil without Authorization=AAD
	bodies   *bodyPool
	stats    *statsCollector

	mu        sync.Mutex
	endpoints map[string]*endpointState // by scheme://host
	redirect  string                    // cached redirect target of trackURL
	redirTill time.Time
}

func newTransmitter(cfg *Config, trackURL string, tokens *tokenCache, bodies *bodyPool, stats *statsCollector) *transmitter {
	t := &transmitter{cfg: cfg, trackURL: trackURL, tokens: tokens, bodies: bodies, stats: stats, endpoints: make(map[string]*endpointState)}
	hc := &http.Client{
		Transport: cfg.Transport,
		// Redirects are the sender's: 307/308 are followed by hand so that
		// the target is cached and a bearer token only goes to Azure Monitor.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	wait := cfg.TransportRetryWait
	t.client = &retryablehttp.Client{
		HTTPClient:   hc,
		RetryWaitMin: wait,
		RetryWaitMax: 4 * wait,
		RetryMax:     cfg.TransportRetries,
		CheckRetry:   retryConnectionErrors,
		Backoff: func(lo, hi time.Duration, attempt int, _ *http.Response) time.Duration {
			d := min(lo<<min(attempt, 8), hi)
			return d/2 + rand.N(d/2+1) // jitter in [d/2, d]
		},
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
		RequestLogHook: func(_ retryablehttp.Logger, _ *http.Request, attempt int) {
			if attempt > 0 {
				stats.transportRetry()
			}
		},
	}
	return t
}

// retryConnectionErrors is the transport layer's CheckRetry: retry only when
// the connection failed before any response arrived.
func retryConnectionErrors(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err == nil || resp != nil {
		return false, nil
	}
	return isConnectionError(err), nil
}

// isConnectionError reports a refused, reset or prematurely closed
// connection; timeouts are excluded on purpose.
func isConnectionError(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// redactURLError removes the user information and the query string
// (credentials, signatures) from the URL that net/http puts in its errors,
// which end up in logs. It returns err.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = connstring.RedactURL(ue.URL)
	}
	return err
}

// endpointKey returns scheme://host of a URL, the key of its back-off state.
func endpointKey(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Scheme + "://" + u.Host
}

// endpoint returns the state of the endpoint serving rawURL.
func (t *transmitter) endpoint(rawURL string) *endpointState {
	key := endpointKey(rawURL)
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.endpoints[key]
	if !ok {
		e = newEndpointState(t.cfg.BackoffInitial, t.cfg.BackoffMax, t.cfg.Clock)
		t.endpoints[key] = e
	}
	return e
}

// target returns the URL to post to now: a cached redirect target while its
// max-age lasts, else the connection string's track URL.
func (t *transmitter) target() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.redirect != "" && t.cfg.Clock.Now().Before(t.redirTill) {
		return t.redirect
	}
	t.redirect = ""
	return t.trackURL
}

func (t *transmitter) remember(target string, ttl time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if ttl <= 0 {
		return
	}
	t.redirect, t.redirTill = target, t.cfg.Clock.Now().Add(ttl)
}

// send posts the records recs[idx...] (all when idx is nil) as one gzip'd
// body and returns the verdict, indexed like idx (or recs).
func (t *transmitter) send(ctx context.Context, recs []spool.Record, idx []int) exchange {
	n := len(recs)
	if idx != nil {
		n = len(idx)
	}
	target := t.target()
	ex := exchange{url: target, endpoint: t.endpoint(target)}
	ex.gen, ex.healthy = ex.endpoint.start()

	b := t.bodies.get()
	defer b.release()
	if err := b.encode(recs, idx); err != nil {
		ex.verdict = breeze.ClassifyError(n, err)
		return ex
	}

	var token string
	if t.tokens != nil {
		tok, err := t.tokens.get(ctx)
		if err != nil {
			t.stats.tokenError()
			ex.verdict = breeze.ClassifyError(n, err)
			return ex
		}
		token = tok
	}

	for {
		status, header, respBody, err := t.post(ctx, target, b, token)
		if err != nil {
			ex.verdict = breeze.ClassifyError(n, err)
			// Sent, then reset or timed out: one bad item can do that.
			ex.verdict.Isolate = true
			return ex
		}
		if status != http.StatusTemporaryRedirect && status != http.StatusPermanentRedirect {
			ex.verdict = breeze.Classify(n, status, header, respBody, t.cfg.Clock.Now())
			if status == http.StatusUnauthorized && t.tokens.refuse(token) {
				// The records are kept and the endpoint backs off, as for
				// any 401; the next request carries a fresh token.
				t.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "sender: the ingestion service refused the bearer token (401); the next request asks the token source for a new one",
					slog.String("endpoint", endpointKey(target)))
			}
			return ex
		}
		next, err := t.follow(target, header, token != "", ex.redirects)
		if err != nil {
			ex.verdict = breeze.ClassifyError(n, err)
			ex.verdict.Status = status
			return ex
		}
		ex.redirects++
		t.stats.redirect()
		t.remember(next, redirectTTL(header, t.cfg.RedirectTTL))
		t.cfg.Logger.LogAttrs(ctx, slog.LevelInfo, "sender: ingestion endpoint redirected",
			slog.String("from", endpointKey(target)), slog.String("to", endpointKey(next)), slog.Int("status", status))
		target = next
		ex.url = target
		ex.endpoint = t.endpoint(target)
		// The target may be an endpoint that throttled us or is backing
		// off: its gate holds for redirected requests too.
		if err := t.awaitGate(ctx, ex.endpoint); err != nil {
			ex.verdict = breeze.ClassifyError(n, err)
			return ex
		}
		ex.gen, ex.healthy = ex.endpoint.start()
	}
}

// awaitGate waits until e's "not before" gate has passed, or ctx ends.
func (t *transmitter) awaitGate(ctx context.Context, e *endpointState) error {
	for {
		w := e.wait(t.cfg.Clock.Now())
		if w <= 0 {
			return nil
		}
		timer := t.cfg.Clock.NewTimer(w)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("sender: waiting for the redirect target's Retry-After: %w", ctx.Err())
		case <-timer.C():
		}
	}
}

// follow validates a redirect from current and returns the absolute target.
func (t *transmitter) follow(current string, header http.Header, withToken bool, hops int) (string, error) {
	if hops >= t.cfg.MaxRedirects {
		return "", fmt.Errorf("%w: more than %d hops", errRedirect, t.cfg.MaxRedirects)
	}
	loc := header.Get("Location")
	if loc == "" {
		return "", fmt.Errorf("%w: no Location", errRedirect)
	}
	base, err := url.Parse(current)
	if err != nil {
		return "", fmt.Errorf("%w: %w", errRedirect, err)
	}
	ref, err := url.Parse(loc)
	if err != nil {
		return "", fmt.Errorf("%w: Location is not a URL", errRedirect)
	}
	next := base.ResolveReference(ref)
	if (next.Scheme != "http" && next.Scheme != "https") || next.Host == "" {
		return "", fmt.Errorf("%w: Location is not an http(s) URL", errRedirect)
	}
	if withToken && !trustedRedirect(base, next) {
		return "", fmt.Errorf("%w: %s is not an Azure Monitor host; the bearer token is not sent there", errRedirect, next.Hostname())
	}
	return next.String(), nil
}

// azureClouds lists the host suffixes of Azure Monitor ingestion per cloud
// (as in the JS and Java exporters' redirect checks).
var azureClouds = [][]string{
	{".applicationinsights.azure.com", ".monitor.azure.com", ".services.visualstudio.com", ".applicationinsights.microsoft.com"},
	{".applicationinsights.us", ".applicationinsights.azure.us", ".monitor.azure.us"},
	{".applicationinsights.azure.cn", ".monitor.azure.cn"},
}

func cloudOf(host string) int {
	host = strings.ToLower(host)
	for i, suffixes := range azureClouds {
		for _, s := range suffixes {
			if strings.HasSuffix(host, s) {
				return i
			}
		}
	}
	return -1
}

// trustedRedirect reports whether a bearer token may follow a redirect from
// cur to next: the same scheme, host and port, or an https Azure Monitor host
// of the same cloud as the current one.
func trustedRedirect(cur, next *url.URL) bool {
	if next.Scheme == cur.Scheme && strings.EqualFold(next.Host, cur.Host) {
		return true
	}
	if next.Scheme != "https" || (next.Port() != "" && next.Port() != "443") {
		return false
	}
	c := cloudOf(next.Hostname())
	return c >= 0 && c == cloudOf(cur.Hostname())
}

// redirectTTL returns how long to remember a redirect: the response's
// Cache-Control max-age, else def; 0 (do not remember) for max-age=0 or
// no-store.
func redirectTTL(header http.Header, def time.Duration) time.Duration {
	for _, v := range header.Values("Cache-Control") {
		for d := range strings.SplitSeq(v, ",") {
			d = strings.ToLower(strings.TrimSpace(d))
			if d == "no-store" {
				return 0
			}
			if s, ok := strings.CutPrefix(d, "max-age="); ok {
				secs, err := strconv.ParseInt(strings.Trim(s, `"`), 10, 64)
				if err != nil || secs < 0 {
					continue
				}
				return time.Duration(min(secs, int64(30*24*time.Hour/time.Second))) * time.Second
			}
		}
	}
	return def
}

// post performs one POST (with the transport layer's retries) and returns
// the status, headers and body of the response.
func (t *transmitter) post(ctx context.Context, target string, b *body, token string) (int, http.Header, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, t.cfg.RequestTimeout)
	defer cancel()
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, target, b.bytes())
	if err != nil {
		return 0, nil, nil, fmt.Errorf("sender: build request: %w", err)
	}
	req.Header.Set("Content-Type", breeze.ContentType)
	req.Header.Set("Content-Encoding", breeze.ContentEncoding)
	req.Header.Set("Accept", "application/json")
	if t.cfg.UserAgent != "" {
		req.Header.Set("User-Agent", t.cfg.UserAgent)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	wallStart := time.Now()
	resp, err := t.client.Do(req)
	if err != nil {
		if resp != nil {
			_ = resp.Body.Close()
		}
		t.stats.request(0, time.Since(wallStart), len(b.bytes()), b.raw)
		return 0, nil, nil, fmt.Errorf("sender: POST %s: %w", endpointKey(target), redactURLError(err))
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	t.stats.request(resp.StatusCode, time.Since(wallStart), len(b.bytes()), b.raw)
	if err != nil && resp.StatusCode == http.StatusPartialContent {
		// A 206 whose body cannot be read is treated like one whose body
		// is not JSON: keep everything.
		respBody = nil
	}
	return resp.StatusCode, resp.Header, respBody, nil
}
