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

// TokenSource supplies bearer tokens for connection strings with
// Authorization=AAD. It is asked only then, with the scope derived from the
// connection string ("https://monitor.azure.com//.default" or
// "<AADAudience>/.default"). An azidentity credential fits with a small
// adapter around GetToken. Implementations must be safe for concurrent use.
type TokenSource interface {
	Token(ctx context.Context, scope string) (AccessToken, error)
}

// TokenSourceFunc adapts a function to TokenSource.
type TokenSourceFunc func(ctx context.Context, scope string) (AccessToken, error)

// Token calls f.
func (f TokenSourceFunc) Token(ctx context.Context, scope string) (AccessToken, error) {
	return f(ctx, scope)
}

// tokenRefreshMargin: a cached token is renewed this long before it expires.
const tokenRefreshMargin = 2 * time.Minute

// tokenCache caches the current token of a source.
type tokenCache struct {
	src   TokenSource
	scope string
	clock clock.Clock

	mu  sync.Mutex
	tok AccessToken
}

// get returns a token valid for a while, asking the source when needed.
func (c *tokenCache) get(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok.Token != "" && !c.tok.ExpiresOn.IsZero() && c.clock.Now().Before(c.tok.ExpiresOn.Add(-tokenRefreshMargin)) {
		return c.tok.Token, nil
	}
	tok, err := c.src.Token(ctx, c.scope)
	if err != nil {
		return "", fmt.Errorf("%w: %w", errToken, err)
	}
	if tok.Token == "" {
		return "", fmt.Errorf("%w: empty token", errToken)
	}
	c.tok = tok
	return tok.Token, nil
}
