package ingest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/aispool/aispool/internal/testkit"
)

// TestGuard runs the guard in front of a real intake over HTTP on
// loopback: which requests pass, with which path, and what the others are
// answered.
func TestGuard(t *testing.T) {
	const secret = "0123456789abcdef-secret"
	const token = "tokentokentoken.42"
	body := string(testkit.NDJSON(envs("guard", 1)...))
	loopback := netip.MustParsePrefix("127.0.0.0/8")
	elsewhere := netip.MustParsePrefix("192.0.2.0/24")
	for _, tc := range []struct {
		name   string
		cfg    GuardConfig
		path   string
		auth   string
		status int
		says   string
	}{
		{"no settings", GuardConfig{}, "/v2.1/track", "", 200, ""},
		{"secret path", GuardConfig{PathSecret: secret}, "/" + secret + "/v2.1/track", "", 200, ""},
		{"secret path, doubled slashes", GuardConfig{PathSecret: secret}, "//" + secret + "//v2/track", "", 200, ""},
		{"secret path, escaped", GuardConfig{PathSecret: secret}, "/%30123456789abcdef-secret/v2.1/track", "", 200, ""},
		{"secret path, other path under it", GuardConfig{PathSecret: secret}, "/" + secret + "/v2.1/other", "", 404, ""}, // the intake's own 404
		{"no secret", GuardConfig{PathSecret: secret}, "/v2.1/track", "", 404, "secret prefix"},
		{"secret as a suffix", GuardConfig{PathSecret: secret}, "/v2.1/track/" + secret, "", 404, "secret prefix"},
		{"secret prefix of the segment", GuardConfig{PathSecret: secret}, "/" + secret + "0/v2.1/track", "", 404, "secret prefix"},
		{"bearer", GuardConfig{BearerToken: token}, "/v2.1/track", "Bearer " + token, 200, ""},
		{"bearer, scheme in lower case", GuardConfig{BearerToken: token}, "/v2.1/track", "bearer " + token, 200, ""},
		{"bearer wrong", GuardConfig{BearerToken: token}, "/v2.1/track", "Bearer x" + token, 401, "not the one"},
		{"bearer missing", GuardConfig{BearerToken: token}, "/v2.1/track", "", 401, "a bearer token (Authorization: Bearer <token>)"},
		{"either: secret", GuardConfig{PathSecret: secret, BearerToken: token}, "/" + secret + "/v2.1/track", "", 200, ""},
		{"either: bearer", GuardConfig{PathSecret: secret, BearerToken: token}, "/v2.1/track", "Bearer " + token, 200, ""},
		{"either: neither", GuardConfig{PathSecret: secret, BearerToken: token}, "/v2.1/track", "", 401, "the secret path prefix (IngestionEndpoint=https://<host>:<port>/<secret>/), or a bearer token"},
		{"client certs over plain HTTP", GuardConfig{ClientCerts: true}, "/v2.1/track", "", 401, "client certificate"},
		{"network allowed", GuardConfig{AllowNetworks: []netip.Prefix{elsewhere, loopback}}, "/v2.1/track", "", 200, ""},
		{"network refused", GuardConfig{AllowNetworks: []netip.Prefix{elsewhere}}, "/v2.1/track", "", 403, "client address 127.0.0.1 is not in the networks"},
		{"network refused before credentials", GuardConfig{PathSecret: secret, AllowNetworks: []netip.Prefix{elsewhere}}, "/" + secret + "/v2.1/track", "", 403, "--allow-network"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Logger = quietLogger()
			g, err := NewGuard(newHandler(t, Config{}), tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			srv := startHTTP(t, g)
			req, err := http.NewRequest(http.MethodPost, srv.URL+tc.path, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var ans struct {
				ItemsAccepted int    `json:"itemsAccepted"`
				Message       string `json:"message"`
			}
			if err := json.Unmarshal(raw, &ans); err != nil {
				t.Fatalf("answer %d %q: %v", resp.StatusCode, raw, err)
			}
			if resp.StatusCode != tc.status || !strings.Contains(string(raw), tc.says) {
				t.Fatalf("%s: %d %s, want %d saying %q", tc.path, resp.StatusCode, raw, tc.status, tc.says)
			}
			if tc.status != 200 && ans.ItemsAccepted != 0 {
				t.Fatalf("refused, yet %d accepted", ans.ItemsAccepted)
			}
			if gd, ok := g.(*Guard); ok && tc.status != 200 && tc.says != "" {
				var n uint64
				for _, c := range gd.Refused() {
					n += c
				}
				if n != 1 {
					t.Fatalf("Refused = %v, want one refusal", gd.Refused())
				}
			}
		})
	}
	if _, err := NewGuard(http.NotFoundHandler(), GuardConfig{PathSecret: "a/b"}); err == nil {
		t.Error("a path secret with '/' was accepted")
	}
}
