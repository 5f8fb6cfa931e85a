package sender

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aispool/aispool/internal/testkit"
)

// issuingTokens hands out a new token on every call ("tok-1", "tok-2", ...)
// valid for life, and records which method was called.
type issuingTokens struct {
	clk  *fakeClock
	life time.Duration

	mu    sync.Mutex
	calls []string // "Token" or "RefreshToken", in order
}

func (s *issuingTokens) issue(method string) AccessToken {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, method)
	return AccessToken{Token: fmt.Sprintf("tok-%d", len(s.calls)), ExpiresOn: s.clk.Now().Add(s.life)}
}

func (s *issuingTokens) Token(context.Context, string) (AccessToken, error) {
	return s.issue("Token"), nil
}

func (s *issuingTokens) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.calls, " ")
}

// refreshingTokens is an issuingTokens that is also a TokenRefresher.
type refreshingTokens struct{ issuingTokens }

func (s *refreshingTokens) RefreshToken(context.Context, string) (AccessToken, error) {
	return s.issue("RefreshToken"), nil
}

// A 401 keeps the batch, backs off, and makes the next request carry a new
// token: asked with RefreshToken from a source that caches its own tokens,
// with Token from one that does not.
func TestUnauthorizedRenewsToken(t *testing.T) {
	for _, tc := range []struct {
		name    string
		src     interface{ log() string }
		wantLog string
	}{
		{"plain source", &issuingTokens{life: time.Hour}, "Token Token"},
		{"refresher", &refreshingTokens{issuingTokens{life: time.Hour}}, "Token RefreshToken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			switch s := tc.src.(type) {
			case *issuingTokens:
				s.clk = clk
			case *refreshingTokens:
				s.clk = clk
			}
			e := newEndpoint(t, clk, reply{status: 401, body: `{"itemsReceived":2,"itemsAccepted":0,"errors":[]}`})
			logs := &testkit.SyncBuffer{}
			cfg := testConfig(e, clk, logs)
			cfg.ConnectionString = azureCS + ";Authorization=AAD"
			cfg.Transport = routeTo(t, e.URL())
			cfg.TokenSource = tc.src.(TokenSource)
			s := mustNew(t, cfg)

			out := s.send(context.Background(), lines(2))
			if len(out.retry) != 2 || out.ndropped() != 0 {
				t.Fatalf("401: retry %v, dropped %d; want both kept", out.retry, out.ndropped())
			}
			if s.tx.endpoint(s.tx.target()).wait(clk.Now()) == 0 {
				t.Error("401 did not back off")
			}
			clk.Advance(time.Hour - 5*time.Minute) // past any back-off, the first token still valid
			out = s.send(context.Background(), lines(2))
			if len(out.retry) != 0 || out.ndropped() != 0 {
				t.Fatalf("after the 401: retry %v, dropped %d; want delivered", out.retry, out.ndropped())
			}
			reqs := e.requests()
			if len(reqs) != 2 {
				t.Fatalf("%d requests, want 2", len(reqs))
			}
			for i, want := range []string{"Bearer tok-1", "Bearer tok-2"} {
				if got := reqs[i].header.Get("Authorization"); got != want {
					t.Errorf("request %d Authorization %q, want %q", i, got, want)
				}
			}
			if got := tc.src.log(); got != tc.wantLog {
				t.Errorf("token source calls %q, want %q", got, tc.wantLog)
			}
			if !strings.Contains(logs.String(), "refused the bearer token") {
				t.Errorf("no log line for the refused token:\n%s", logs)
			}
			if strings.Contains(logs.String(), "tok-") {
				t.Error("token in logs")
			}
			// The next request reuses tok-2.
			s.send(context.Background(), lines(1))
			if got := tc.src.log(); got != tc.wantLog {
				t.Errorf("token source calls %q after a success, want %q (cached)", got, tc.wantLog)
			}
		})
	}
}

// Refusing a token that is no longer the cached one (a request in flight
// with the token a concurrent 401 already replaced) changes nothing.
func TestRefuseOnlyTheCachedToken(t *testing.T) {
	clk := newFakeClock()
	src := &refreshingTokens{issuingTokens{clk: clk, life: time.Hour}}
	c := &tokenCache{src: src, scope: "s", clock: clk}
	first, err := c.get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !c.refuse(first) {
		t.Fatal("refusing the cached token: not news")
	}
	if c.refuse(first) {
		t.Error("refusing it twice: news twice")
	}
	second, err := c.get(context.Background())
	if err != nil || second == first {
		t.Fatalf("after refusal: %q, %v; want a new token", second, err)
	}
	if c.refuse(first) || c.refuse("") {
		t.Error("a stale refusal dropped the new token")
	}
	if got, _ := c.get(context.Background()); got != second {
		t.Errorf("token %q, want %q kept", got, second)
	}
	if got := src.log(); got != "Token RefreshToken" {
		t.Errorf("calls %q", got)
	}
	var nilCache *tokenCache
	if nilCache.refuse("x") {
		t.Error("nil cache refused")
	}
}

// A token that lives less than twice the refresh margin is renewed halfway
// through its life, not requested for every request.
func TestShortLivedTokenRenewedHalfway(t *testing.T) {
	clk := newFakeClock()
	src := &issuingTokens{clk: clk, life: 10 * time.Second}
	c := &tokenCache{src: src, scope: "s", clock: clk}
	for _, step := range []struct {
		advance time.Duration
		want    string
	}{
		{0, "tok-1"},
		{4 * time.Second, "tok-1"},
		{time.Second, "tok-2"}, // 5 s: half of 10 s
		{4 * time.Second, "tok-2"},
		{20 * time.Second, "tok-3"}, // long expired
	} {
		clk.Advance(step.advance)
		got, err := c.get(context.Background())
		if err != nil || got != step.want {
			t.Fatalf("at %v: %q, %v; want %q", clk.Now().Sub(testEpoch), got, err, step.want)
		}
	}
}

// A token source given with a connection string that does not say
// Authorization=AAD is used all the same.
func TestTokenSourceWithoutAADInConnectionString(t *testing.T) {
	clk := newFakeClock()
	e := newEndpoint(t, clk)
	cfg := testConfig(e, clk, &testkit.SyncBuffer{})
	cfg.TokenSource = &issuingTokens{clk: clk, life: time.Hour}
	s := mustNew(t, cfg)
	s.send(context.Background(), lines(1))
	if got := e.requests()[0].header.Get("Authorization"); got != "Bearer tok-1" {
		t.Errorf("Authorization %q", got)
	}
}
