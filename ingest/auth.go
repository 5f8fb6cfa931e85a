package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// GuardConfig says who may use the intake; see [NewGuard].
type GuardConfig struct {
	// PathSecret, if set, is a secret path prefix: a request to
	// /<PathSecret>/v2.1/track (or /v2/track) is authenticated, and the
	// prefix is removed before the intake sees the path. Every Application
	// Insights SDK can use it without code, since SDKs append v2.1/track to
	// the IngestionEndpoint of their connection string:
	// IngestionEndpoint=https://host:4320/<PathSecret>/.
	PathSecret string
	// BearerToken, if set, authenticates a request whose Authorization
	// header is "Bearer <BearerToken>".
	BearerToken string
	// ClientCerts makes a request over TLS with a verified client
	// certificate authenticated. The server's tls.Config verifies the
	// certificate (ClientCAs, with tls.VerifyClientCertIfGiven so that
	// clients without one get an HTTP answer saying why).
	ClientCerts bool
	// AllowNetworks, if not empty, are the client networks allowed: a
	// request from any other address is refused with 403, authenticated
	// or not.
	AllowNetworks []netip.Prefix
	// Logger receives a warning, at most every 10 s, counting the requests
	// refused meanwhile by reason; never a secret. Default slog.Default().
	Logger *slog.Logger
	// Refusal, if set, writes the answer of a refused request (headers
	// other than Connection and WWW-Authenticate, status and body) instead
	// of the track response shape: the OTLP intake answers with a
	// google.rpc.Status ([OTLPRefusal]).
	Refusal func(w http.ResponseWriter, r *http.Request, status int, message string)
	// PathHint says, in refusal messages, how a client puts the secret
	// path prefix in its endpoint. Default
	// "IngestionEndpoint=https://<host>:<port>/<secret>/" (in the
	// connection string).
	PathHint string
}

// defaultPathHint is GuardConfig.PathHint's default.
const defaultPathHint = "IngestionEndpoint=https://<host>:<port>/<secret>/"

// Methods returns the authentication methods cfg sets, in a fixed order:
// "path-secret", "bearer", "client-cert".
func (cfg GuardConfig) Methods() []string {
	var m []string
	if cfg.PathSecret != "" {
		m = append(m, "path-secret")
	}
	if cfg.BearerToken != "" {
		m = append(m, "bearer")
	}
	if cfg.ClientCerts {
		m = append(m, "client-cert")
	}
	return m
}

// Reasons a Guard refuses a request, as counted by [Guard.Refused].
const (
	RefusedNetwork = "network" // 403: the client's address is not allowed
	RefusedPath    = "path"    // 404: no (or a wrong) secret path prefix
	RefusedAuth    = "auth"    // 401: no credential at all
	RefusedToken   = "token"   // 401: a bearer token that does not match
	refusedReasons = 4
	guardWarnEvery = 10 * time.Second
)

// Guard is an http.Handler that lets through to the intake only the
// requests that GuardConfig allows. It is safe for concurrent use.
type Guard struct {
	next        http.Handler
	methods     []string
	pathSecret  []byte // SHA-256 of the secret; nil if none
	token       []byte // SHA-256 of the token; nil if none
	clientCerts bool
	allow       []netip.Prefix
	log         *slog.Logger
	refusal     func(w http.ResponseWriter, r *http.Request, status int, message string)
	pathHint    string

	mu       sync.Mutex
	refused  map[string]uint64
	pending  map[string]uint64 // refused since the last warning
	lastWarn time.Time
}

// NewGuard returns next behind the checks of cfg:
//
//  1. With AllowNetworks, a client whose address is in none of them is
//     answered 403.
//  2. With at least one authentication method (PathSecret, BearerToken,
//     ClientCerts), a request must pass one of them (any one suffices).
//     One that does not is answered 404 when the secret path prefix is
//     the only method (the path is unknown without it), else 401 with
//     "WWW-Authenticate: Bearer" when bearer tokens are accepted.
//
// Refusals are JSON bodies in the intake's TrackResponse shape with a
// "message" field saying why (SDKs ignore it; a person with curl reads
// it). Secrets are compared through their SHA-256 in constant time, so
// that neither timing nor length tells an attacker how close a guess was.
// Without any method nor networks, NewGuard returns next itself.
func NewGuard(next http.Handler, cfg GuardConfig) (http.Handler, error) {
	if next == nil {
		return nil, errors.New("ingest: guard: nil handler")
	}
	if strings.Contains(cfg.PathSecret, "/") {
		return nil, errors.New("ingest: guard: the path secret holds a '/'")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	g := newGuard(next, cfg)
	if len(g.methods) == 0 && len(g.allow) == 0 {
		return next, nil
	}
	return g, nil
}

// newGuard builds a Guard; next may be nil (the gRPC guard).
func newGuard(next http.Handler, cfg GuardConfig) *Guard {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	methods := cfg.Methods()
	if cfg.PathHint == "" {
		cfg.PathHint = defaultPathHint
	}
	g := &Guard{
		next: next, methods: methods, clientCerts: cfg.ClientCerts, log: cfg.Logger,
		refusal: cfg.Refusal, pathHint: cfg.PathHint,
		allow:   slices.Clone(cfg.AllowNetworks),
		refused: make(map[string]uint64, refusedReasons),
		pending: make(map[string]uint64, refusedReasons),
	}
	if cfg.PathSecret != "" {
		g.pathSecret = digest(cfg.PathSecret)
	}
	if cfg.BearerToken != "" {
		g.token = digest(cfg.BearerToken)
	}
	return g
}

func digest(s string) []byte {
	d := sha256.Sum256([]byte(s))
	return d[:]
}

// equal compares s with a digest in constant time.
func equal(s string, d []byte) bool {
	return subtle.ConstantTimeCompare(digest(s), d) == 1
}

// ServeHTTP applies the checks, then serves the request with next.
func (g *Guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if len(g.allow) > 0 {
		addr, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil || !g.allowed(addr.Addr().Unmap()) {
			g.refuse(w, r, http.StatusForbidden, RefusedNetwork,
				fmt.Sprintf("client address %s is not in the networks allowed to post here (--allow-network)", remoteIP(r)))
			return
		}
	}
	if len(g.methods) == 0 {
		g.next.ServeHTTP(w, r)
		return
	}
	if g.pathSecret != nil {
		if rest, ok := g.stripSecret(r.URL.Path); ok {
			r2 := new(http.Request)
			*r2 = *r
			u := *r.URL
			u.Path, u.RawPath = rest, ""
			r2.URL = &u
			g.next.ServeHTTP(w, r2)
			return
		}
	}
	if g.clientCerts && r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		g.next.ServeHTTP(w, r)
		return
	}
	if g.token != nil {
		if tok, ok := bearer(r); ok {
			if equal(tok, g.token) {
				g.next.ServeHTTP(w, r)
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="aispool", error="invalid_token"`)
			g.refuse(w, r, http.StatusUnauthorized, RefusedToken, "the bearer token is not the one this endpoint accepts")
			return
		}
	}
	if len(g.methods) == 1 && g.pathSecret != nil {
		g.refuse(w, r, http.StatusNotFound, RefusedPath,
			"unknown path: this endpoint serves only paths under its secret prefix; set "+g.pathHint+g.hintWhere())
		return
	}
	if g.token != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="aispool"`)
	}
	g.refuse(w, r, http.StatusUnauthorized, RefusedAuth, "authentication required: "+g.describeMethods())
}

// hintWhere completes the default path hint.
func (g *Guard) hintWhere() string {
	if g.pathHint == defaultPathHint {
		return " in the connection string"
	}
	return ""
}

// stripSecret returns path without its first segment if that segment is
// the secret (leading slashes ignored, as SDKs double them), keeping the
// rest's leading '/'.
func (g *Guard) stripSecret(path string) (string, bool) {
	p := strings.TrimLeft(path, "/")
	seg, rest, _ := strings.Cut(p, "/")
	if !equal(seg, g.pathSecret) {
		return "", false
	}
	return "/" + rest, true
}

func (g *Guard) allowed(a netip.Addr) bool {
	for _, p := range g.allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// bearer returns the token of an "Authorization: Bearer <token>" header.
func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

func (g *Guard) describeMethods() string {
	var alts []string
	for _, m := range g.methods {
		switch m {
		case "path-secret":
			alts = append(alts, "the secret path prefix ("+g.pathHint+")")
		case "bearer":
			alts = append(alts, "a bearer token (Authorization: Bearer <token>)")
		case "client-cert":
			alts = append(alts, "a client certificate from a trusted CA")
		}
	}
	return strings.Join(alts, ", or ")
}

// remoteIP returns the host part of r.RemoteAddr.
func remoteIP(r *http.Request) string {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr().Unmap().String()
	}
	return r.RemoteAddr
}

// refusal is the body of a refused request: the TrackResponse shape, so
// that SDKs parse it, and a message for people.
type refusal struct {
	ItemsReceived int      `json:"itemsReceived"`
	ItemsAccepted int      `json:"itemsAccepted"`
	Errors        []string `json:"errors"`
	Message       string   `json:"message"`
}

// refuse answers the request with status and message, counts it, and
// warns at most every guardWarnEvery with the counts since the last
// warning. The body of the request is not read.
func (g *Guard) refuse(w http.ResponseWriter, r *http.Request, status int, reason, message string) {
	w.Header().Set("Connection", "close") // the unread body is not worth the connection
	if g.refusal != nil {
		g.refusal(w, r, status, message)
	} else {
		var out bytes.Buffer
		enc := json.NewEncoder(&out)
		enc.SetEscapeHTML(false)                                      // "<secret>" stays readable
		_ = enc.Encode(refusal{Errors: []string{}, Message: message}) // plain types; ends in '\n'
		h := w.Header()
		h.Set("Content-Type", "application/json; charset=utf-8")
		h.Set("Content-Length", strconv.Itoa(out.Len()))
		w.WriteHeader(status)
		_, _ = w.Write(out.Bytes())
	}
	g.noteRefusal(r.Context(), remoteIP(r), r.RemoteAddr, status, reason)
}

// noteRefusal counts a refusal and warns at most every guardWarnEvery
// with the counts since the last warning. status is an HTTP status or a
// gRPC code's name.
func (g *Guard) noteRefusal(ctx context.Context, remoteIP, remoteAddr string, status any, reason string) {
	now := time.Now()
	g.mu.Lock()
	g.refused[reason]++
	g.pending[reason]++
	var counts map[string]uint64
	if g.lastWarn.IsZero() || now.Sub(g.lastWarn) >= guardWarnEvery {
		counts = maps.Clone(g.pending)
		clear(g.pending)
		g.lastWarn = now
	}
	g.mu.Unlock()
	if counts != nil {
		attrs := []any{"last_remote", remoteIP, "last_status", status}
		for _, k := range slices.Sorted(maps.Keys(counts)) {
			attrs = append(attrs, "refused_"+k, counts[k])
		}
		g.log.Warn("ingest: requests refused (counts since the last such line)", attrs...)
	}
	if g.log.Enabled(ctx, slog.LevelDebug) {
		g.log.DebugContext(ctx, "ingest: request refused", "status", status, "reason", reason, "remote", remoteAddr)
	}
}

// Refused returns how many requests were refused, by reason (RefusedNetwork,
// RefusedPath, RefusedAuth, RefusedToken).
func (g *Guard) Refused() map[string]uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return maps.Clone(g.refused)
}
