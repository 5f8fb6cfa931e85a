package sender

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aispool/aispool/internal/breeze"
	"github.com/aispool/aispool/internal/testkit"
)

const azureCS = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://westus2-0.in.applicationinsights.azure.com/"

type countingTokens struct {
	calls atomic.Int32
	scope atomic.Value
	err   error
	tok   AccessToken
}

func (c *countingTokens) Token(_ context.Context, scope string) (AccessToken, error) {
	c.calls.Add(1)
	c.scope.Store(scope)
	return c.tok, c.err
}

func TestRequestHeadersAndBody(t *testing.T) {
	clk := newFakeClock()
	e := newEndpoint(t, clk)
	logs := &testkit.SyncBuffer{}
	cfg := testConfig(e, clk, logs)
	cfg.UserAgent = "aispool-test/1"
	s := mustNew(t, cfg)
	recs := lines(3)
	recs[1].Data = []byte(`{"no":"newline"}`)
	out := s.send(context.Background(), recs)
	if len(out.retry) != 0 || out.ndropped() != 0 {
		t.Fatalf("outcome %+v", out)
	}
	r := e.requests()[0]
	for k, want := range map[string]string{
		"Content-Type": breeze.ContentType, "Content-Encoding": "gzip", "User-Agent": "aispool-test/1", "Authorization": "",
	} {
		if got := r.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if r.path != "/v2.1/track" {
		t.Errorf("path %q", r.path)
	}
	if got := strings.Join(r.lines, "|"); got != `{"i":0}|{"no":"newline"}|{"i":2}` {
		t.Errorf("body lines %q", got)
	}
	st := s.Stats()
	if st.Requests[200] != 1 || st.BytesSent == 0 || st.BytesUncompressed != uint64(len(`{"i":0}`+"\n"+`{"no":"newline"}`+"\n"+`{"i":2}`+"\n")) || st.RequestDuration.Count != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestBearerToken(t *testing.T) {
	clk := newFakeClock()
	e := newEndpoint(t, clk)
	logs := &testkit.SyncBuffer{}
	cfg := testConfig(e, clk, logs)
	cfg.ConnectionString = azureCS + ";Authorization=AAD;AADAudience=https://monitor.azure.us/"
	cfg.Transport = routeTo(t, e.URL())
	src := &countingTokens{tok: AccessToken{Token: "secret-token-value", ExpiresOn: clk.Now().Add(time.Hour)}}
	cfg.TokenSource = src
	s := mustNew(t, cfg)
	for range 3 {
		s.send(context.Background(), lines(1))
	}
	for i, r := range e.requests() {
		if got := r.header.Get("Authorization"); got != "Bearer secret-token-value" {
			t.Errorf("request %d Authorization %q", i, got)
		}
	}
	if src.calls.Load() != 1 || src.scope.Load() != "https://monitor.azure.us//.default" {
		t.Errorf("token source called %d times with scope %v; want once, cached", src.calls.Load(), src.scope.Load())
	}
	clk.Advance(59 * time.Minute) // within the refresh margin
	s.send(context.Background(), lines(1))
	if src.calls.Load() != 2 {
		t.Errorf("token not refreshed before expiry: %d calls", src.calls.Load())
	}
	if strings.Contains(logs.String(), "secret-token-value") {
		t.Error("token in logs")
	}

	// A failing token source keeps the batch and backs off, without a request.
	src.err = errors.New("imds unreachable")
	src.tok = AccessToken{}
	clk.Advance(2 * time.Hour)
	before := len(e.requests())
	out := s.send(context.Background(), lines(2))
	if len(out.retry) != 2 || len(e.requests()) != before || s.Stats().TokenErrors != 1 {
		t.Errorf("token failure: kept %v, requests %d→%d, stats %d", out.retry, before, len(e.requests()), s.Stats().TokenErrors)
	}
	if s.tx.endpoint(s.tx.target()).wait(clk.Now()) == 0 {
		t.Error("token failure did not back off")
	}

	// AAD without a token source is a configuration error.
	cfg.TokenSource = nil
	if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "TokenSource") {
		t.Errorf("New without TokenSource: %v", err)
	}
}

func TestRedirects(t *testing.T) {
	redirect := func(loc string, extra ...string) reply {
		h := map[string]string{"Location": loc}
		for i := 0; i+1 < len(extra); i += 2 {
			h[extra[i]] = extra[i+1]
		}
		return reply{status: 307, header: h}
	}
	ok := reply{status: 200, body: `{"itemsReceived":1,"itemsAccepted":1}`}
	tests := []struct {
		name      string
		aad       bool
		script    []reply
		wantHosts []string // hosts the requests were addressed to
		kept      bool
		ttl       time.Duration // how long the redirect is remembered (0: not)
		target    string
	}{
		{
			name:      "308 relative location, default TTL 12h",
			script:    []reply{{status: 308, header: map[string]string{"Location": "/other/v2.1/track"}}, ok},
			wantHosts: []string{"westus2-0.in.applicationinsights.azure.com", "westus2-0.in.applicationinsights.azure.com"},
			ttl:       12 * time.Hour,
			target:    "https://westus2-0.in.applicationinsights.azure.com/other/v2.1/track",
		},
		{
			name:      "max-age=0 is not remembered",
			script:    []reply{redirect("https://b.in.applicationinsights.azure.com/v2.1/track", "Cache-Control", "max-age=0"), ok},
			wantHosts: []string{"westus2-0.in.applicationinsights.azure.com", "b.in.applicationinsights.azure.com"},
		},
		{
			name: "chain of two, final target remembered",
			script: []reply{
				redirect("https://b.in.applicationinsights.azure.com/v2.1/track", "Cache-Control", "public, max-age=300"),
				redirect("https://c.in.applicationinsights.azure.com/v2.1/track", "Cache-Control", "max-age=60"), ok,
			},
			wantHosts: []string{"westus2-0.in.applicationinsights.azure.com", "b.in.applicationinsights.azure.com", "c.in.applicationinsights.azure.com"},
			ttl:       60 * time.Second,
			target:    "https://c.in.applicationinsights.azure.com/v2.1/track",
		},
		{
			name:      "token follows to an Azure Monitor host of the same cloud",
			aad:       true,
			script:    []reply{redirect("https://westus-1.in.applicationinsights.azure.com/v2.1/track"), ok},
			wantHosts: []string{"westus2-0.in.applicationinsights.azure.com", "westus-1.in.applicationinsights.azure.com"},
			ttl:       12 * time.Hour,
			target:    "https://westus-1.in.applicationinsights.azure.com/v2.1/track",
		},
		{
			name:      "token never goes to a foreign host",
			aad:       true,
			script:    []reply{redirect("https://evil.example/v2.1/track")},
			wantHosts: []string{"westus2-0.in.applicationinsights.azure.com"},
			kept:      true,
		},
		{
			name:      "token never goes to another cloud",
			aad:       true,
			script:    []reply{redirect("https://x.in.applicationinsights.azure.cn/v2.1/track")},
			wantHosts: []string{"westus2-0.in.applicationinsights.azure.com"},
			kept:      true,
		},
		{
			name:      "without a token any host is fine",
			script:    []reply{redirect("http://elsewhere.example:8080/v2.1/track"), ok},
			wantHosts: []string{"westus2-0.in.applicationinsights.azure.com", "elsewhere.example:8080"},
			ttl:       12 * time.Hour,
			target:    "http://elsewhere.example:8080/v2.1/track",
		},
		{
			name:      "no Location",
			script:    []reply{{status: 307}},
			wantHosts: []string{"westus2-0.in.applicationinsights.azure.com"},
			kept:      true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			e := newEndpoint(t, clk, tc.script...)
			logs := &testkit.SyncBuffer{}
			cfg := testConfig(e, clk, logs)
			cfg.ConnectionString = azureCS
			cfg.Transport = routeTo(t, e.URL())
			if tc.aad {
				cfg.ConnectionString += ";Authorization=AAD"
				cfg.TokenSource = TokenSourceFunc(func(context.Context, string) (AccessToken, error) {
					return AccessToken{Token: "tok"}, nil
				})
			}
			s := mustNew(t, cfg)
			out := s.send(context.Background(), lines(1))
			var hosts []string
			for _, r := range e.requests() {
				hosts = append(hosts, r.host)
				if tc.aad && r.header.Get("Authorization") != "Bearer tok" {
					t.Errorf("request to %s without the token", r.host)
				}
			}
			if strings.Join(hosts, " ") != strings.Join(tc.wantHosts, " ") {
				t.Errorf("hosts %v, want %v", hosts, tc.wantHosts)
			}
			if (len(out.retry) == 1) != tc.kept {
				t.Errorf("kept %v, want kept=%v", out.retry, tc.kept)
			}
			if tc.kept && s.tx.endpoint(s.tx.target()).wait(clk.Now()) == 0 {
				t.Error("refused redirect did not back off")
			}
			if tc.ttl == 0 {
				if got := s.tx.target(); got != s.Endpoint() {
					t.Errorf("target %q remembered", got)
				}
				return
			}
			if got := s.tx.target(); got != tc.target {
				t.Errorf("target %q, want %q", got, tc.target)
			}
			clk.Advance(tc.ttl - time.Second)
			if got := s.tx.target(); got != tc.target {
				t.Errorf("target forgotten before its max-age: %q", got)
			}
			clk.Advance(time.Second)
			if got := s.tx.target(); got != s.Endpoint() {
				t.Errorf("target %q remembered past its max-age", got)
			}
		})
	}
}

func TestRedirectLoopBounded(t *testing.T) {
	clk := newFakeClock()
	var script []reply
	for range 20 {
		script = append(script, reply{status: 307, header: map[string]string{"Location": "/v2.1/track"}})
	}
	e := newEndpoint(t, clk, script...)
	s := mustNew(t, testConfig(e, clk, &testkit.SyncBuffer{}))
	out := s.send(context.Background(), lines(2))
	if n := len(e.requests()); n != 1+DefaultMaxRedirects {
		t.Errorf("%d requests, want %d", n, 1+DefaultMaxRedirects)
	}
	if len(out.retry) != 2 || s.tx.endpoint(s.tx.target()).wait(clk.Now()) == 0 {
		t.Errorf("redirect loop: kept %v, gate %v", out.retry, s.tx.endpoint(s.tx.target()).until())
	}
}

func TestTransportRetryLayer(t *testing.T) {
	t.Run("connection reset before a response is retried quickly", func(t *testing.T) {
		clk := newFakeClock()
		e := newEndpoint(t, clk, reply{reset: true})
		s := mustNew(t, testConfig(e, clk, &testkit.SyncBuffer{}))
		out := s.send(context.Background(), lines(2))
		if len(out.retry) != 0 {
			t.Fatalf("kept %v", out.retry)
		}
		if st := s.Stats(); st.TransportRetries != 1 || len(e.requests()) != 2 || st.Requests[200] != 1 {
			t.Errorf("retries %d, requests %d, by status %v", st.TransportRetries, len(e.requests()), st.Requests)
		}
		if s.tx.endpoint(s.tx.target()).wait(clk.Now()) != 0 {
			t.Error("a hiccup absorbed by the transport layer armed the back-off")
		}
	})
	t.Run("responses are never retried by the transport layer", func(t *testing.T) {
		for _, status := range []int{429, 439, 500, 503} {
			clk := newFakeClock()
			e := newEndpoint(t, clk, reply{status: status, header: map[string]string{"Retry-After": "1"}})
			s := mustNew(t, testConfig(e, clk, &testkit.SyncBuffer{}))
			s.send(context.Background(), lines(1))
			if n := len(e.requests()); n != 1 || s.Stats().TransportRetries != 0 {
				t.Errorf("status %d: %d requests", status, n)
			}
		}
	})
	t.Run("retries are bounded", func(t *testing.T) {
		clk := newFakeClock()
		e := newEndpoint(t, clk, reply{reset: true}, reply{reset: true}, reply{reset: true}, reply{reset: true})
		s := mustNew(t, testConfig(e, clk, &testkit.SyncBuffer{}))
		out := s.send(context.Background(), lines(1))
		if n := len(e.requests()); n != 1+DefaultTransportRetries || len(out.retry) != 1 {
			t.Errorf("%d attempts, kept %v", n, out.retry)
		}
	})
}

func TestTrustedRedirect(t *testing.T) {
	tests := []struct {
		from, to string
		want     bool
	}{
		{"https://a.in.applicationinsights.azure.com/", "https://b.in.applicationinsights.azure.com/x", true},
		{"https://a.in.applicationinsights.azure.com/", "https://b.monitor.azure.com/", true},
		{"https://dc.services.visualstudio.com/", "https://b.in.applicationinsights.azure.com/", true},
		{"https://a.in.applicationinsights.azure.com/", "http://b.in.applicationinsights.azure.com/", false},
		{"https://a.in.applicationinsights.azure.com/", "https://b.in.applicationinsights.azure.com:8443/", false},
		{"https://a.in.applicationinsights.azure.com/", "https://b.in.applicationinsights.azure.com:443/", true},
		{"https://a.in.applicationinsights.azure.com/", "https://applicationinsights.azure.com.evil.example/", false},
		{"https://a.applicationinsights.us/", "https://b.monitor.azure.us/", true},
		{"https://a.applicationinsights.us/", "https://b.monitor.azure.com/", false},
		{"http://127.0.0.1:8787/", "http://127.0.0.1:8787/other", true},
		{"http://127.0.0.1:8787/", "http://127.0.0.1:8788/", false},
		{"https://x.example/", "https://y.example/", false},
	}
	for _, tc := range tests {
		from, _ := url.Parse(tc.from)
		to, _ := url.Parse(tc.to)
		if got := trustedRedirect(from, to); got != tc.want {
			t.Errorf("trustedRedirect(%s → %s) = %v", tc.from, tc.to, got)
		}
	}
}

func TestRedirectTTL(t *testing.T) {
	tests := []struct {
		cc   []string
		want time.Duration
	}{
		{nil, 12 * time.Hour},
		{[]string{"max-age=60"}, time.Minute},
		{[]string{"public, MAX-AGE=120"}, 2 * time.Minute},
		{[]string{"max-age=0"}, 0},
		{[]string{"no-store"}, 0},
		{[]string{"max-age=bogus"}, 12 * time.Hour},
		{[]string{"private", "max-age=5"}, 5 * time.Second},
		{[]string{"max-age=99999999999"}, 30 * 24 * time.Hour},
	}
	for _, tc := range tests {
		h := http.Header{}
		for _, v := range tc.cc {
			h.Add("Cache-Control", v)
		}
		if got := redirectTTL(h, 12*time.Hour); got != tc.want {
			t.Errorf("redirectTTL(%q) = %v, want %v", tc.cc, got, tc.want)
		}
	}
}

// A redirect into an endpoint whose Retry-After is still running waits for
// it: the redirected request goes out only once the gate has passed.
func TestRedirectWaitsForTargetGate(t *testing.T) {
	clk := newFakeClock()
	const target = "https://b.in.applicationinsights.azure.com/v2.1/track"
	e := newEndpoint(t, clk,
		reply{status: 307, header: map[string]string{"Location": target, "Cache-Control": "max-age=0"}},
		reply{status: 200, body: `{"itemsReceived":1,"itemsAccepted":1}`})
	cfg := testConfig(e, clk, &testkit.SyncBuffer{})
	cfg.ConnectionString = azureCS
	cfg.Transport = routeTo(t, e.URL())
	s := mustNew(t, cfg)
	gate := s.tx.endpoint(target)
	until := gate.done(gate.begin(), true, 30*time.Second, clk.Now()) // b answered Retry-After: 30
	done := make(chan *outcome, 1)
	go func() { done <- s.send(context.Background(), lines(1)) }()
	if at := clk.waitTimer(t, until); !at.Equal(until) {
		t.Fatalf("the sender waits until %v, want b's gate %v", at.Sub(testEpoch), until.Sub(testEpoch))
	}
	if n := len(e.requests()); n != 1 {
		t.Fatalf("%d requests before b's Retry-After ended, want only the redirected one", n)
	}
	clk.Advance(30 * time.Second)
	out := <-done
	reqs := e.requests()
	if len(reqs) != 2 || reqs[1].host != "b.in.applicationinsights.azure.com" || len(out.retry) != 0 {
		t.Fatalf("after the gate: %d requests, kept %v", len(reqs), out.retry)
	}
}
