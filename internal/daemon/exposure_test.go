package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aispool/aispool/chaos/fakeingest"
	"github.com/aispool/aispool/internal/connstring"
	"github.com/aispool/aispool/internal/testkit"
)

// runDaemon starts a daemon for cfg and stops it at the end of the test,
// checking that Run returned nil.
func runDaemon(t *testing.T, cfg Config) *Daemon {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d, err := New(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run = %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after ctx ended")
		}
	})
	return d
}

// trackAnswer is the intake's TrackResponse.
type trackAnswer struct {
	ItemsReceived int `json:"itemsReceived"`
	ItemsAccepted int `json:"itemsAccepted"`
	Errors        []struct {
		Index      int    `json:"index"`
		StatusCode int    `json:"statusCode"`
		Message    string `json:"message"`
	} `json:"errors"`
}

// post sends body to url with client (http.DefaultClient if nil) and
// returns the status and the raw answer.
func post(t *testing.T, client *http.Client, url, body string, hdr ...string) (int, string) {
	t.Helper()
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestIntakeKeysAreCaseSensitive: an envelope whose keys are spelled in
// another case is refused with an error naming the key as found; the
// valid envelope of the same request is stored and delivered.
func TestIntakeKeysAreCaseSensitive(t *testing.T) {
	up := startUpstream(t)
	d := runDaemon(t, testConfig(t, up.ConnectionString("")))
	misCased := `{"nAme":"Microsoft.ApplicationInsights.Message","tIme":"2026-01-02T03:04:05Z",` +
		`"iKeY":"11111111-2222-3333-4444-555555555555","dAtA":{"BAseTYpe":"MessageData","bAsEdAtA":{"message":"m"}}}`
	stack := `{"name":"Microsoft.ApplicationInsights.Exception","time":"2026-01-02T03:04:05Z",` +
		`"iKey":"11111111-2222-3333-4444-555555555555","data":{"baseType":"ExceptionData",` +
		`"baseData":{"exceptions":[{"message":"m","StACk":false}]}}}`
	body := "[" + string(fakeingest.Envelope("kept")) + "," + misCased + "," + stack + "]"
	status, raw := post(t, nil, d.IngestURL()+"/v2.1/track", body)
	var ans trackAnswer
	if err := json.Unmarshal([]byte(raw), &ans); err != nil {
		t.Fatalf("answer %d %q: %v", status, raw, err)
	}
	if status != http.StatusPartialContent || ans.ItemsReceived != 3 || ans.ItemsAccepted != 1 || len(ans.Errors) != 2 {
		t.Fatalf("answer %d %s, want 206 with 1 of 3 accepted and 2 errors", status, raw)
	}
	for i, want := range []struct {
		index int
		words []string
	}{
		{1, []string{"name", `"nAme"`, "case-sensitive"}},
		{2, []string{"exceptions[0].stack", `"StACk"`, "case-sensitive"}},
	} {
		e := ans.Errors[i]
		if e.Index != want.index || e.StatusCode != 400 {
			t.Errorf("error %d = %+v, want index %d status 400", i, e, want.index)
		}
		for _, w := range want.words {
			if !strings.Contains(e.Message, w) {
				t.Errorf("error %d message %q lacks %s", i, e.Message, w)
			}
		}
	}
	waitDelivered(t, up, []string{"kept"})
}

// waitLog waits until the log holds want.
func waitLog(t *testing.T, logs *testkit.SyncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(logs.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("log never said %q:\n%s", want, logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestEndpointCredentialsNotLogged: user information and the query string
// of the IngestionEndpoint appear neither in the start line nor in the
// sender's errors; the host and path do.
func TestEndpointCredentialsNotLogged(t *testing.T) {
	var logs testkit.SyncBuffer
	cfg := testConfig(t, "InstrumentationKey=11111111-2222-3333-4444-555555555555;"+
		"IngestionEndpoint=http://someone:pa55word@127.0.0.1:1/prefix/?sig=s1gnature&se=2030")
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	cfg.Sender.TransportRetries = -1
	d := runDaemon(t, cfg)
	if status, raw := post(t, nil, d.IngestURL()+"/v2.1/track", string(fakeingest.Envelope("x"))); status != 200 {
		t.Fatalf("post: %d %s", status, raw)
	}
	waitLog(t, &logs, "endpoint unavailable")
	out := logs.String()
	for _, secret := range []string{"someone", "pa55word", "s1gnature", "2030"} {
		if strings.Contains(out, secret) {
			t.Errorf("log shows %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, `"ingestion":"http://REDACTED@127.0.0.1:1/prefix/v2.1/track?REDACTED"`) {
		t.Errorf("start line does not show the redacted endpoint:\n%s", out)
	}
}

// TestConnectionStringFile: the daemon and the drain read the connection
// string from ConnectionStringFile; a missing or empty file is a
// configuration error naming the flag.
func TestConnectionStringFile(t *testing.T) {
	up := startUpstream(t)
	file := filepath.Join(t.TempDir(), "cs")
	if err := os.WriteFile(file, []byte(up.ConnectionString("")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, "")
	cfg.ConnectionStringFile = file
	d := runDaemon(t, cfg)
	if status, raw := post(t, nil, d.IngestURL()+"/v2.1/track", string(fakeingest.Envelope("from-file"))); status != 200 {
		t.Fatalf("post: %d %s", status, raw)
	}
	waitDelivered(t, up, []string{"from-file"})

	for _, tc := range []struct{ content, want string }{{"", "empty"}, {"x", "--connection-string-file " + file}} {
		if err := os.WriteFile(file, []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Drain(context.Background(), cfg, time.Millisecond, nil); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Drain with %q in the file = %v, want ErrInvalidConfig naming %q", tc.content, err, tc.want)
		}
	}
}

// writeSecret writes a secret file of mode 0600 and returns its path.
func writeSecret(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const (
	pathSecret  = "3f9c2a7e51b04d88a6e2c0f4b9d1e7a2"
	bearerToken = "tok_7Hq2Vn9Lx4Rz8Kp1Ws6Dy3Fb5Mc0Jt"
)

// TestExposureWarnings: serving beyond loopback without TLS or without
// authentication is logged at start, one warning each; with both, or on
// loopback, there is none.
func TestExposureWarnings(t *testing.T) {
	pki := newTestPKI(t, "warn")
	for _, tc := range []struct {
		name   string
		edit   func(*Config)
		warned []string
	}{
		{"loopback", func(*Config) {}, nil},
		{"every interface, nothing", func(c *Config) { c.Listen = "0.0.0.0:0" }, []string{"without TLS", "without authentication"}},
		{"every interface, TLS only", func(c *Config) {
			c.Listen, c.TLSCert, c.TLSKey = "0.0.0.0:0", pki.CertFile, pki.KeyFile
		}, []string{"without authentication"}},
		{"every interface, secret only", func(c *Config) {
			c.Listen, c.Exposure.PathSecretFile = "0.0.0.0:0", writeSecret(t, pathSecret)
		}, []string{"without TLS"}},
		{"every interface, TLS and secret", func(c *Config) {
			c.Listen, c.TLSCert, c.TLSKey = "0.0.0.0:0", pki.CertFile, pki.KeyFile
			c.Exposure.PathSecretFile = writeSecret(t, pathSecret)
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs testkit.SyncBuffer
			cfg := testConfig(t, cs)
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			tc.edit(&cfg)
			runDaemon(t, cfg)
			waitLog(t, &logs, "aispool running")
			out := logs.String()
			if got := strings.Count(out, "level=WARN msg=\"ingest: --listen"); got != len(tc.warned) {
				t.Errorf("%d exposure warnings, want %d:\n%s", got, len(tc.warned), out)
			}
			for _, w := range tc.warned {
				if !strings.Contains(out, w) {
					t.Errorf("no warning %q:\n%s", w, out)
				}
			}
		})
	}
	for addr, loopback := range map[string]bool{
		"127.0.0.1:4320": true, "[::1]:4320": true, "localhost:4320": true, "127.8.9.10:1": true,
		"0.0.0.0:4320": false, ":4320": false, "[::]:4320": false, "10.1.2.3:4320": false, "node.example:4320": false,
	} {
		if got := len(DefaultConfig().ExposureWarnings(addr)) == 0; got != loopback {
			t.Errorf("ExposureWarnings(%s) empty = %v, want %v", addr, got, loopback)
		}
	}
}

// TestPathSecret: with --path-secret-file the intake serves
// /<secret>/v2.1/track (also with the doubled slashes SDKs produce), which
// an SDK reaches from its connection string alone, and answers any other
// path 404 saying why; the secret is never logged.
func TestPathSecret(t *testing.T) {
	up := startUpstream(t)
	pki := newTestPKI(t, "path")
	var logs testkit.SyncBuffer
	cfg := testConfig(t, up.ConnectionString(""))
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.TLSCert, cfg.TLSKey = pki.CertFile, pki.KeyFile
	cfg.Exposure.PathSecretFile = writeSecret(t, pathSecret)
	d := runDaemon(t, cfg)
	client := pki.httpsClient(nil)

	endpoint := d.IngestionEndpoint()
	if want := d.IngestURL() + "/" + pathSecret + "/"; endpoint != want {
		t.Fatalf("IngestionEndpoint = %q, want %q", endpoint, want)
	}
	// What an SDK does: IngestionEndpoint from the connection string, then
	// v2.1/track.
	sdk, err := connstring.Parse("InstrumentationKey=" + fakeingest.DefaultIKey + ";IngestionEndpoint=" + endpoint)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i, url := range []string{sdk.TrackURL, endpoint + "v2.1/track", d.IngestURL() + "//" + pathSecret + "//v2/track"} {
		id := fmt.Sprint("secret-path-", i)
		ids = append(ids, id)
		if status, raw := post(t, client, url, string(fakeingest.Envelope(id))); status != 200 {
			t.Fatalf("POST %s: %d %s", url, status, raw)
		}
	}
	waitDelivered(t, up, ids)

	for _, path := range []string{"/v2.1/track", "/" + pathSecret[:31] + "/v2.1/track", "/" + pathSecret + "x/v2.1/track", "/x/" + pathSecret + "/v2.1/track"} {
		status, raw := post(t, client, d.IngestURL()+path, string(fakeingest.Envelope("refused")))
		if status != http.StatusNotFound || !strings.Contains(raw, "secret prefix") || !strings.Contains(raw, `"itemsAccepted":0`) {
			t.Errorf("POST %s: %d %s, want 404 saying a secret prefix is needed", path, status, raw)
		}
	}
	if rep := up.Report(); rep.Unaccounted([]string{"refused"}) == nil {
		t.Error("a refused envelope reached upstream")
	}
	waitLog(t, &logs, "refused_path")
	if strings.Contains(logs.String(), pathSecret) || strings.Contains(logs.String(), pathSecret[:16]) {
		t.Errorf("the log shows the secret:\n%s", logs.String())
	}
}

// TestBearerToken: with --bearer-token-file a request is accepted with the
// token and answered 401 (with WWW-Authenticate) without it or with
// another.
func TestBearerToken(t *testing.T) {
	up := startUpstream(t)
	pki := newTestPKI(t, "bearer")
	cfg := testConfig(t, up.ConnectionString(""))
	cfg.TLSCert, cfg.TLSKey = pki.CertFile, pki.KeyFile
	cfg.Exposure.BearerTokenFile = writeSecret(t, bearerToken)
	d := runDaemon(t, cfg)
	client := pki.httpsClient(nil)
	url := d.IngestURL() + "/v2.1/track"

	if status, raw := post(t, client, url, string(fakeingest.Envelope("bearer")), "Authorization", "Bearer "+bearerToken); status != 200 {
		t.Fatalf("with the token: %d %s", status, raw)
	}
	waitDelivered(t, up, []string{"bearer"})
	for _, tc := range []struct{ auth, want string }{
		{"", "authentication required: a bearer token"},
		{"Bearer " + bearerToken[:len(bearerToken)-1], "bearer token is not the one"},
		{"Basic dXNlcjpwYXNz", "authentication required"},
	} {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(string(fakeingest.Envelope("no"))))
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), tc.want) ||
			!strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("Authorization %q: %d %s (WWW-Authenticate %q), want 401 saying %q",
				tc.auth, resp.StatusCode, body, resp.Header.Get("WWW-Authenticate"), tc.want)
		}
	}
}

// TestClientCertificate: with --tls-client-ca a client certificate from
// that CA authenticates; a client without one is answered 401 saying so;
// one from another CA fails the handshake.
func TestClientCertificate(t *testing.T) {
	up := startUpstream(t)
	pki := newTestPKI(t, "mtls")
	rogue := newTestPKI(t, "rogue")
	cfg := testConfig(t, up.ConnectionString(""))
	cfg.TLSCert, cfg.TLSKey = pki.CertFile, pki.KeyFile
	cfg.Exposure.TLSClientCA = pki.CAFile
	d := runDaemon(t, cfg)
	url := d.IngestURL() + "/v2.1/track"

	if status, raw := post(t, pki.httpsClient(&pki.client), url, string(fakeingest.Envelope("mtls"))); status != 200 {
		t.Fatalf("with a client certificate: %d %s", status, raw)
	}
	waitDelivered(t, up, []string{"mtls"})
	if status, raw := post(t, pki.httpsClient(nil), url, string(fakeingest.Envelope("no"))); status != http.StatusUnauthorized ||
		!strings.Contains(raw, "client certificate") {
		t.Errorf("without a client certificate: %d %s, want 401 naming client certificates", status, raw)
	}
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(string(fakeingest.Envelope("rogue"))))
	if resp, err := pki.httpsClient(&rogue.client).Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("a certificate from another CA was answered %d", resp.StatusCode)
	}
}

// TestAllowNetworks: a client outside --allow-network is answered 403
// naming its address, even with valid credentials; inside, it is served.
func TestAllowNetworks(t *testing.T) {
	up := startUpstream(t)
	for _, tc := range []struct {
		allow  []string
		status int
	}{
		{[]string{"10.0.0.0/8", "192.0.2.7"}, http.StatusForbidden},
		{[]string{"10.0.0.0/8", "127.0.0.0/8"}, http.StatusOK},
		{[]string{"127.0.0.1"}, http.StatusOK},
	} {
		cfg := testConfig(t, up.ConnectionString(""))
		cfg.Exposure.AllowNetworks = tc.allow
		cfg.Exposure.PathSecretFile = writeSecret(t, pathSecret)
		d := runDaemon(t, cfg)
		status, raw := post(t, nil, d.IngestionEndpoint()+"v2.1/track", string(fakeingest.Envelope("net")))
		if status != tc.status {
			t.Errorf("allow %v: %d %s, want %d", tc.allow, status, raw, tc.status)
		}
		if status == http.StatusForbidden && !strings.Contains(raw, "client address 127.0.0.1 is not in the networks allowed") {
			t.Errorf("allow %v: 403 body %s does not say why", tc.allow, raw)
		}
	}
}

// TestExposureValidate: every exposure problem is reported at once, each
// naming its flag, never showing a secret.
func TestExposureValidate(t *testing.T) {
	pki := newTestPKI(t, "validate")
	notPEM := writeSecret(t, "not a certificate")
	cfg := testConfig(t, cs)
	cfg.Exposure = Exposure{
		PathSecretFile:  writeSecret(t, "short-secret"),
		BearerTokenFile: writeSecret(t, "has spaces in the bearer token"),
		TLSClientCA:     notPEM,
		AllowNetworks:   []string{"10.0.0.0/8", "10.0.0.0/33", "somewhere"},
	}
	err := cfg.Validate()
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("Validate = %v, want ErrInvalidConfig", err)
	}
	for _, want := range []string{
		"--path-secret-file: ", "fewer than 16", "--bearer-token-file: ", "character 4 of the secret",
		"--tls-client-ca: needs --tls-cert", "--tls-client-ca: " + notPEM + ": no PEM certificate",
		`--allow-network "10.0.0.0/33"`, `--allow-network "somewhere"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	for _, secret := range []string{"short-secret", "has spaces"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error shows the secret %q: %v", secret, err)
		}
	}
	if strings.Contains(err.Error(), `"10.0.0.0/8"`) {
		t.Errorf("a valid network is reported: %v", err)
	}

	cfg = testConfig(t, cs)
	cfg.TLSCert, cfg.TLSKey = pki.CertFile, pki.KeyFile
	cfg.Exposure = Exposure{PathSecretFile: writeSecret(t, pathSecret), BearerTokenFile: writeSecret(t, bearerToken+"=="),
		TLSClientCA: pki.CAFile, AllowNetworks: []string{"10.0.0.0/8", "fd00::/8", "192.0.2.1"}}
	if err := cfg.Validate(); err != nil {
		t.Errorf("valid exposure settings: %v", err)
	}
}

// TestSecretFileWarnings: a --tls-key (or a secret file) that other users
// than its owner can read or change is logged at start, naming the flag,
// the file and its mode; one of mode 0600 or 0400 is not.
func TestSecretFileWarnings(t *testing.T) {
	pki := newTestPKI(t, "perm")
	for _, tc := range []struct {
		mode   os.FileMode
		warned bool
	}{{0o600, false}, {0o400, false}, {0o640, true}, {0o644, true}, {0o604, true}, {0o620, true}} {
		t.Run(fmt.Sprintf("%04o", tc.mode), func(t *testing.T) {
			if err := os.Chmod(pki.KeyFile, tc.mode); err != nil {
				t.Fatal(err)
			}
			secret := writeSecret(t, pathSecret)
			if err := os.Chmod(secret, tc.mode); err != nil {
				t.Fatal(err)
			}
			var logs testkit.SyncBuffer
			cfg := testConfig(t, cs)
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			cfg.TLSCert, cfg.TLSKey = pki.CertFile, pki.KeyFile
			cfg.Exposure.PathSecretFile = secret
			runDaemon(t, cfg)
			waitLog(t, &logs, "aispool running")
			out := logs.String()
			for _, want := range []string{"--tls-key " + pki.KeyFile, "--path-secret-file " + secret} {
				line := want + fmt.Sprintf(": mode %04o lets users other than its owner", tc.mode)
				if got := strings.Contains(out, "level=WARN") && strings.Contains(out, line); got != tc.warned {
					t.Errorf("warned about %q: %v, want %v:\n%s", line, got, tc.warned, out)
				}
			}
		})
	}
	if err := os.Chmod(pki.KeyFile, 0o600); err != nil {
		t.Fatal(err)
	}
}
