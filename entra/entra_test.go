package entra_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/aispool/aispool/chaos/fakeingest"
	"github.com/aispool/aispool/entra"
	"github.com/aispool/aispool/internal/testkit"
	"github.com/aispool/aispool/internal/testkit/fakeentra"
	"github.com/aispool/aispool/sender"
	"github.com/aispool/aispool/spool"
)

// clientSeq makes a client id per test: azidentity keeps managed identity
// tokens in a process-wide cache keyed by identity, and each test wants its
// own tokens.
var clientSeq atomic.Int32

func newClientID() string {
	return fmt.Sprintf("00000000-0000-0000-0000-%012d", clientSeq.Add(1))
}

// world is a fake managed identity endpoint, and the fake ingestion
// endpoint behind the service's token check.
type world struct {
	entra  *fakeentra.Server
	ingest *fakeingest.Endpoint
	cs     string // connection string with Authorization=AAD
}

func newWorld(t *testing.T, cfg fakeentra.Config) *world {
	t.Helper()
	fe, err := fakeentra.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fe.Close() })
	for k, v := range fe.Env() {
		t.Setenv(k, v)
	}
	ep, err := fakeingest.New(fakeingest.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := ep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ep.Close() })
	u, err := url.Parse(ep.URL())
	if err != nil {
		t.Fatal(err)
	}
	gate := httptest.NewServer(fe.Gate(httputil.NewSingleHostReverseProxy(u)))
	t.Cleanup(gate.Close)
	return &world{entra: fe, ingest: ep,
		cs: "InstrumentationKey=00000000-0000-0000-0000-000000000001;IngestionEndpoint=" + gate.URL + "/;Authorization=AAD"}
}

// pipe is a real spool drained by a running sender.
type pipe struct {
	sp  *spool.Spool
	snd *sender.Sender
	ids []string
}

func newPipe(t *testing.T, w *world, src sender.TokenSource, logs *testkit.SyncBuffer) *pipe {
	t.Helper()
	ctx := context.Background()
	sp, err := spool.Open(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	if logs != nil {
		logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	snd, err := sender.New(sender.Config{
		Queue:            sender.SpoolQueue(sp),
		ConnectionString: w.cs,
		TokenSource:      src,
		BackoffInitial:   50 * time.Millisecond,
		BackoffMax:       200 * time.Millisecond,
		PollInterval:     20 * time.Millisecond,
		Logger:           logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- snd.Run(ctx) }()
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := snd.Close(cctx); err != nil {
			t.Errorf("sender close: %v", err)
		}
		<-done
		if err := sp.Close(); err != nil {
			t.Errorf("spool close: %v", err)
		}
	})
	return &pipe{sp: sp, snd: snd}
}

func (p *pipe) append(t *testing.T, n int) {
	t.Helper()
	recs := make([][]byte, n)
	for i := range recs {
		id := fmt.Sprintf("rec-%05d", len(p.ids))
		p.ids = append(p.ids, id)
		recs[i] = fakeingest.Envelope(id)
	}
	if err := p.sp.Append(context.Background(), recs...); err != nil {
		t.Fatal(err)
	}
}

func (p *pipe) flush(t *testing.T, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := p.snd.Flush(ctx); err != nil {
		t.Fatalf("flush: %v (stats %+v)", err, p.snd.Stats())
	}
}

// delivered checks that every record reached the ingestion endpoint and
// none was dropped.
func (p *pipe) delivered(t *testing.T, w *world) {
	t.Helper()
	rep := w.ingest.Report()
	if lost := rep.Unaccounted(p.ids); len(lost) > 0 {
		t.Errorf("%d of %d records never accepted, first %s", len(lost), len(p.ids), lost[0])
	}
	st := p.snd.Stats()
	if len(st.Dropped) != 0 {
		t.Errorf("dropped %v", st.Dropped)
	}
	if st.Sent < uint64(len(p.ids)) {
		t.Errorf("sent %d of %d", st.Sent, len(p.ids))
	}
}

// Tokens that live 2 s expire while records keep coming for 4 s: the
// sender renews them halfway through their life; when the service's clock
// runs ahead (it holds a token expired 1.5 s early), requests carry tokens
// the service finds expired, it answers 401, and the sender fetches a new
// token at once. Every record arrives either way.
func TestManagedIdentityTokensExpireDuringRun(t *testing.T) {
	for _, tc := range []struct {
		name        string
		skew        time.Duration
		wantRefused bool
	}{
		{"clocks agree", 0, false},
		{"service clock ahead", 1500 * time.Millisecond, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := newClientID()
			w := newWorld(t, fakeentra.Config{Lifetime: 2 * time.Second, Skew: tc.skew, ClientIDs: []string{id}})
			src, err := entra.NewSource(entra.Options{Credential: entra.ManagedIdentity, ClientID: id})
			if err != nil {
				t.Fatal(err)
			}
			p := newPipe(t, w, src, nil)
			start := time.Now()
			for time.Since(start) < 4*time.Second {
				p.append(t, 10)
				time.Sleep(100 * time.Millisecond)
			}
			p.flush(t, 30*time.Second)
			p.delivered(t, w)

			issued := w.entra.Issued()
			if len(issued) < 3 {
				t.Errorf("%d tokens issued in a run of 4 s with tokens of 2 s; want them renewed", len(issued))
			}
			for _, tok := range issued {
				if tok.Identity != id || tok.Resource != fakeentra.DefaultResource {
					t.Errorf("token for identity %q resource %q; want %q, %q", tok.Identity, tok.Resource, id, fakeentra.DefaultResource)
				}
			}
			_, authorized, unauthorized := w.entra.Counts()
			if authorized == 0 {
				t.Error("no request passed the token check")
			}
			// With agreeing clocks a refusal needs a request that outlives
			// half a token's life (1 s): not asserted, that is timing.
			if got := p.snd.Stats().Requests[401]; tc.wantRefused && got == 0 || uint64(unauthorized) != got {
				t.Errorf("sender saw %d refusals, the gate gave %d; want refusals: %v", got, unauthorized, tc.wantRefused)
			}
			t.Logf("%d records, %d tokens, %d requests authorized, %d refused", len(p.ids), len(issued), authorized, unauthorized)
		})
	}
}

// A token the service refuses before it expires (revoked) is replaced at
// once, though azidentity still caches it for an hour: the records of the
// refused request stay in the spool and arrive with the new token.
func TestRefusedTokenIsReplaced(t *testing.T) {
	id := newClientID()
	w := newWorld(t, fakeentra.Config{Lifetime: time.Hour, ClientIDs: []string{id}})
	src, err := entra.NewSource(entra.Options{Credential: entra.ManagedIdentity, ClientID: id})
	if err != nil {
		t.Fatal(err)
	}
	logs := &testkit.SyncBuffer{}
	p := newPipe(t, w, src, logs)
	p.append(t, 20)
	p.flush(t, 10*time.Second)
	if n := len(w.entra.Issued()); n != 1 {
		t.Fatalf("%d tokens before the revocation, want 1 (cached)", n)
	}

	w.entra.Revoke(w.entra.Issued()[0].Token)
	p.append(t, 20)
	p.flush(t, 10*time.Second)
	p.delivered(t, w)
	issued := w.entra.Issued()
	if len(issued) != 2 {
		t.Errorf("%d tokens issued, want 2: the refused one and its replacement", len(issued))
	}
	if _, _, unauthorized := w.entra.Counts(); unauthorized == 0 {
		t.Error("the gate never refused the revoked token")
	}
	st := p.snd.Stats()
	if st.Requests[401] == 0 || st.TokenErrors != 0 {
		t.Errorf("requests %v, token errors %d", st.Requests, st.TokenErrors)
	}
	if !strings.Contains(logs.String(), "refused the bearer token") {
		t.Errorf("no log of the refusal:\n%s", logs)
	}
	for _, tok := range issued {
		if strings.Contains(logs.String(), tok.Token) {
			t.Error("a token in the logs")
		}
	}
}

// Without RefreshToken (a source that only asks azidentity, which caches),
// a revoked token is asked for again and again: the records stay in the
// spool, none is dropped, and the refusals go on until the token expires.
// This is why Source is a TokenRefresher.
func TestRefusedTokenWithoutRefreshKeepsRecords(t *testing.T) {
	id := newClientID()
	w := newWorld(t, fakeentra.Config{Lifetime: time.Hour, ClientIDs: []string{id}})
	src, err := entra.NewSource(entra.Options{Credential: entra.ManagedIdentity, ClientID: id})
	if err != nil {
		t.Fatal(err)
	}
	plain := sender.TokenSourceFunc(src.Token) // hides RefreshToken
	p := newPipe(t, w, plain, nil)
	p.append(t, 1)
	p.flush(t, 10*time.Second)
	w.entra.Revoke(w.entra.Issued()[0].Token)
	p.append(t, 30)
	testkit.Eventually(t, 10*time.Second, "three refusals", func() bool { return p.snd.Stats().Requests[401] >= 3 })
	st := p.snd.Stats()
	if len(st.Dropped) != 0 {
		t.Errorf("dropped %v during the refusals", st.Dropped)
	}
	if left := p.sp.Stats().Records; left != 30 {
		t.Errorf("%d records in the spool, want the 30 refused", left)
	}
	if n := len(w.entra.Issued()); n != 1 {
		t.Errorf("%d tokens issued; azidentity's cache should have kept the first", n)
	}
}

// When the token endpoint fails, nothing is sent and nothing is lost: the
// records wait in the spool, counted as token errors, and go once it
// answers again.
func TestTokenEndpointFailureKeepsRecords(t *testing.T) {
	id := newClientID()
	w := newWorld(t, fakeentra.Config{Lifetime: time.Hour, ClientIDs: []string{id}})
	w.entra.FailNext(500, 503, 500)
	src, err := entra.NewSource(entra.Options{Credential: entra.ManagedIdentity, ClientID: id,
		ClientOptions: azcore.ClientOptions{Retry: policy.RetryOptions{MaxRetries: -1}}})
	if err != nil {
		t.Fatal(err)
	}
	p := newPipe(t, w, src, nil)
	p.append(t, 25)
	p.flush(t, 20*time.Second)
	p.delivered(t, w)
	if st := p.snd.Stats(); st.TokenErrors < 3 {
		t.Errorf("token errors %d, want the 3 failures counted", st.TokenErrors)
	}
	if _, authorized, unauthorized := w.entra.Counts(); unauthorized != 0 || authorized == 0 {
		t.Errorf("gate: %d authorized, %d refused; want no request without a token", authorized, unauthorized)
	}
}

// The system-assigned identity, chosen by APPLICATIONINSIGHTS_AUTHENTICATION_STRING=Authorization=AAD.
func TestFromEnvironmentSystemAssigned(t *testing.T) {
	w := newWorld(t, fakeentra.Config{Lifetime: 3 * time.Second}) // short: not cached across tests
	env := map[string]string{entra.EnvAuthenticationString: "Authorization=AAD"}
	src, err := entra.FromEnvironment(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil || src == nil {
		t.Fatalf("FromEnvironment: %v, %v", src, err)
	}
	if got := src.String(); got != "managed-identity (system-assigned)" {
		t.Errorf("String() = %q", got)
	}
	p := newPipe(t, w, src, nil)
	p.append(t, 5)
	p.flush(t, 10*time.Second)
	p.delivered(t, w)
	issued := w.entra.Issued()
	if len(issued) == 0 || issued[0].Identity != fakeentra.SystemAssigned {
		t.Errorf("issued %+v; want the system-assigned identity's", issued)
	}
}

// A user-assigned identity that the machine does not have fails with the
// endpoint's answer, counted, and nothing is sent.
func TestUnknownClientIDFails(t *testing.T) {
	newWorld(t, fakeentra.Config{ClientIDs: []string{newClientID()}})
	src, err := entra.NewSource(entra.Options{Credential: entra.ManagedIdentity, ClientID: newClientID(),
		ClientOptions: azcore.ClientOptions{Retry: policy.RetryOptions{MaxRetries: -1}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = src.Token(ctx, "https://monitor.azure.com//.default")
	if err == nil || !strings.Contains(err.Error(), "managed-identity") {
		t.Errorf("Token for an identity the machine lacks: %v", err)
	}
	if _, err := src.RefreshToken(ctx, "https://monitor.azure.com//.default"); err == nil {
		t.Error("RefreshToken for an identity the machine lacks: no error")
	}
}

// probe makes sure the gate is what answers 401 (not the ingestion endpoint).
func TestGateRefusesMissingToken(t *testing.T) {
	w := newWorld(t, fakeentra.Config{})
	u := strings.TrimSuffix(strings.Split(strings.Split(w.cs, "IngestionEndpoint=")[1], ";")[0], "/")
	resp, err := http.Post(u+"/v2.1/track", "application/x-json-stream", strings.NewReader("{}\n"))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("status %d without a token, want 401", resp.StatusCode)
	}
}
