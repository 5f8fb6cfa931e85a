package sender

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aispool/aispool/internal/clock"
)

// AccessToken is an Entra ID bearer token.
type AccessToken struct {
	Token string
	// ExpiresOn is when the token expires; zero means unknown (the token is
	// then requested for every request).
	ExpiresOn time.Time
}

// TokenSource supplies Entra ID bearer tokens. A sender given one sends
// every request with a token, whatever the connection string says (as the
// Azure exporters use a credential they are given); a connection string with
// Authorization=AAD requires one. It is asked with the scope derived from
// the connection string ("https://monitor.azure.com//.default" or
// "<AADAudience>/.default"). The sender caches the token it returns (see
// [AccessToken.ExpiresOn]). The package github.com/aispool/aispool/entra
// provides one on azidentity (managed identity, workload identity, the
// default credential chain). Implementations must be safe for concurrent
// use.
type TokenSource interface {
	Token(ctx context.Context, scope string) (AccessToken, error)
}

// TokenRefresher is implemented by a [TokenSource] that caches tokens of
// its own, as azidentity's credentials do. When the ingestion service
// answers 401 to a request that carried a token, the sender forgets that
// token and asks for the next one with RefreshToken instead of Token:
// RefreshToken must not return a token from a cache, so that a token the
// service refused before it expired is replaced.
type TokenRefresher interface {
	RefreshToken(ctx context.Context, scope string) (AccessToken, error)
}

// TokenSourceFunc adapts a function to TokenSource.
type TokenSourceFunc func(ctx context.Context, scope string) (AccessToken, error)

// Token calls f.
func (f TokenSourceFunc) Token(ctx context.Context, scope string) (AccessToken, error) {
	return f(ctx, scope)
}

// tokenRefreshMargin: a cached token is renewed this long before it
// expires, or halfway through its life if that is shorter.
const tokenRefreshMargin = 2 * time.Minute

// tokenCache caches the current token of a source.
type tokenCache struct {
	src   TokenSource
	scope string
	clock clock.Clock

	mu      sync.Mutex
	tok     AccessToken
	renewAt time.Time // when tok is renewed
	refused bool      // the service refused the last token: ask for a fresh one
}

// get returns a token valid for a while, asking the source when needed.
func (c *tokenCache) get(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	if c.tok.Token != "" && !c.tok.ExpiresOn.IsZero() && now.Before(c.renewAt) {
		return c.tok.Token, nil
	}
	var (
		tok AccessToken
		err error
	)
	if r, ok := c.src.(TokenRefresher); ok && c.refused {
		tok, err = r.RefreshToken(ctx, c.scope)
	} else {
		tok, err = c.src.Token(ctx, c.scope)
	}
	if err != nil {
		return "", fmt.Errorf("%w: %w", errToken, err)
	}
	if tok.Token == "" {
		return "", fmt.Errorf("%w: empty token", errToken)
	}
	c.tok, c.refused = tok, false
	c.renewAt = tok.ExpiresOn.Add(-min(tokenRefreshMargin, tok.ExpiresOn.Sub(now)/2))
	return tok.Token, nil
}

// refuse forgets token after the service answered 401 to a request that
// carried it, so that the next request carries a fresh one. It reports
// whether token was the cached one (requests in flight with the same token
// get the same answer; only the first is news).
func (c *tokenCache) refuse(token string) bool {
	if c == nil || token == "" {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok.Token != token {
		return false
	}
	c.tok, c.renewAt, c.refused = AccessToken{}, time.Time{}, true
	return true
}
