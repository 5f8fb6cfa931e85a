package fakeentra

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Environment variables that point azidentity's managed identity credential
// at an App Service identity endpoint.
const (
	EnvIdentityEndpoint = "IDENTITY_ENDPOINT"
	EnvIdentityHeader   = "IDENTITY_HEADER"
)

// DefaultResource is the audience of Azure Monitor's ingestion: what
// azidentity asks for when given the scope "https://monitor.azure.com//.default".
const DefaultResource = "https://monitor.azure.com/"

// SystemAssigned is the identity recorded for a request without client_id.
const SystemAssigned = "system"

// Config configures a Server.
type Config struct {
	// Lifetime is the expires_in of issued tokens; default 1 h.
	Lifetime time.Duration
	// Skew makes the gate hold tokens expired this much before the
	// expires_in they were issued with says: the service's clock ahead of
	// the token issuer's, so a client that trusts expires_in sends expired
	// tokens.
	Skew time.Duration
	// Resource is the audience the gate accepts; default DefaultResource.
	Resource string
	// ClientIDs are the user-assigned identities attached to the "machine":
	// a request for another client_id is answered 400, as App Service does.
	// The system-assigned identity always exists.
	ClientIDs []string
}

// Issued is one token the server issued.
type Issued struct {
	Token     string
	Identity  string // SystemAssigned or the client_id
	Resource  string
	ExpiresOn time.Time
}

// Server is the fake token endpoint. Create it with Start; Close stops it.
type Server struct {
	cfg    Config
	header string
	srv    *http.Server
	ln     net.Listener
	done   chan struct{}

	mu           sync.Mutex
	issued       []Issued
	byToken      map[string]int // index in issued
	revoked      map[string]bool
	fail         []int // statuses for the next token requests
	requests     int
	unauthorized int // 401s the gate answered
	authorized   int // requests the gate let through
}

// Start listens on 127.0.0.1 and serves the token endpoint.
func Start(cfg Config) (*Server, error) {
	if cfg.Lifetime <= 0 {
		cfg.Lifetime = time.Hour
	}
	if cfg.Resource == "" {
		cfg.Resource = DefaultResource
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fakeentra: %w", err)
	}
	s := &Server{cfg: cfg, header: hex.EncodeToString(b[:]), ln: ln, done: make(chan struct{}),
		byToken: make(map[string]int), revoked: make(map[string]bool)}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serveToken), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// Close stops the server.
func (s *Server) Close() error {
	err := s.srv.Close()
	<-s.done
	return err
}

// URL is the token endpoint: the value of IDENTITY_ENDPOINT.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() + "/msi/token" }

// Env returns the environment that points azidentity at the server.
func (s *Server) Env() map[string]string {
	return map[string]string{EnvIdentityEndpoint: s.URL(), EnvIdentityHeader: s.header}
}

// FailNext makes the next token requests fail, one status each.
func (s *Server) FailNext(statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = append(s.fail, statuses...)
}

// Revoke makes the gate refuse token from now on, though it has not
// expired.
func (s *Server) Revoke(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked[token] = true
}

// Issued returns the tokens issued so far, oldest first.
func (s *Server) Issued() []Issued {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Issued(nil), s.issued...)
}

// Counts returns the token requests served (failed ones included), and the
// requests the gate let through and answered 401.
func (s *Server) Counts() (tokenRequests, authorized, unauthorized int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, s.authorized, s.unauthorized
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	q := r.URL.Query()
	switch {
	case r.Method != http.MethodGet || r.URL.Path != "/msi/token":
		http.Error(w, "not found", http.StatusNotFound)
		return
	case r.Header.Get("X-IDENTITY-HEADER") != s.header:
		http.Error(w, `{"error":"invalid_request","error_description":"X-IDENTITY-HEADER missing or wrong"}`, http.StatusBadRequest)
		return
	case q.Get("api-version") == "" || q.Get("resource") == "":
		http.Error(w, `{"error":"invalid_request","error_description":"api-version and resource are required"}`, http.StatusBadRequest)
		return
	case len(s.fail) > 0:
		status := s.fail[0]
		s.fail = s.fail[1:]
		http.Error(w, `{"error":"temporarily_unavailable"}`, status)
		return
	}
	identity := SystemAssigned
	if id := q.Get("client_id"); id != "" {
		found := false
		for _, c := range s.cfg.ClientIDs {
			found = found || c == id
		}
		if !found {
			http.Error(w, `{"error":"invalid_request","error_description":"Identity not found"}`, http.StatusBadRequest)
			return
		}
		identity = id
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	tok := Issued{
		Token:     fmt.Sprintf("fake-%d-%s", len(s.issued)+1, hex.EncodeToString(b[:])),
		Identity:  identity,
		Resource:  q.Get("resource"),
		ExpiresOn: time.Now().Add(s.cfg.Lifetime),
	}
	s.byToken[tok.Token] = len(s.issued)
	s.issued = append(s.issued, tok)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token": tok.Token,
		"expires_in":   int(s.cfg.Lifetime / time.Second),
		"resource":     tok.Resource,
		"token_type":   "Bearer",
		"client_id":    identity,
	})
}

// Gate returns next behind the service's token check: a request whose
// bearer token the server did not issue, or that expired, was revoked or
// is for another audience, is answered 401 with the service's kind of
// body and does not reach next.
func (s *Server) Gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if why := s.check(r.Header.Get("Authorization")); why != "" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(map[string]any{
				"itemsReceived": 0, "itemsAccepted": 0,
				"errors": []map[string]any{{"index": 0, "statusCode": 401, "message": why}},
			})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// check returns why the Authorization header is refused, or "".
func (s *Server) check(header string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	why := func() string {
		tok, ok := strings.CutPrefix(header, "Bearer ")
		if !ok || tok == "" {
			return "An Authorization header with a bearer token is required"
		}
		i, ok := s.byToken[tok]
		switch {
		case !ok:
			return "The token is not valid"
		case s.revoked[tok]:
			return "The token was revoked"
		case !time.Now().Add(s.cfg.Skew).Before(s.issued[i].ExpiresOn):
			return "The token has expired"
		case s.issued[i].Resource != s.cfg.Resource:
			return "The token's audience is not " + s.cfg.Resource
		}
		return ""
	}()
	if why == "" {
		s.authorized++
	} else {
		s.unauthorized++
	}
	return why
}
