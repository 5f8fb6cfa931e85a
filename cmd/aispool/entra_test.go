package main

import (
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aispool/aispool/internal/testkit/fakeentra"
)

// entraWorld starts a fake managed identity endpoint (pointed at through
// the process environment, which azidentity reads) and a healthy fake
// ingestion endpoint behind the service's token check; it returns the
// token endpoint and the gate's connection string (without Authorization).
func entraWorld(t *testing.T, cfg fakeentra.Config) (*fakeentra.Server, string, func(ids []string) []string) {
	t.Helper()
	fe, err := fakeentra.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fe.Close() })
	for k, v := range fe.Env() {
		t.Setenv(k, v)
	}
	ep := startEndpoint(t, "healthy")
	u, err := url.Parse(ep.URL())
	if err != nil {
		t.Fatal(err)
	}
	gate := httptest.NewServer(fe.Gate(httputil.NewSingleHostReverseProxy(u)))
	t.Cleanup(gate.Close)
	unaccounted := func(ids []string) []string { r := ep.Report(); return r.Unaccounted(ids) }
	return fe, "InstrumentationKey=11111111-2222-3333-4444-555555555555;IngestionEndpoint=" + gate.URL + "/", unaccounted
}

// drain with Entra ID: chosen by APPLICATIONINSIGHTS_AUTHENTICATION_STRING
// (a user-assigned identity) or by Authorization=AAD in the connection
// string with --entra-credential; every record arrives with a token of the
// right identity.
func TestDrainWithEntraID(t *testing.T) {
	const clientID = "00000000-0000-0000-0000-0000000000c1"
	for _, tc := range []struct {
		name         string
		env          map[string]string
		csSuffix     string
		flags        []string
		wantIdentity string
	}{
		{"authentication string", map[string]string{"APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "Authorization=AAD;ClientId=" + clientID},
			"", nil, clientID},
		{"connection string and flag", nil, ";Authorization=AAD", []string{"--entra-credential", "managed-identity"}, fakeentra.SystemAssigned},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Short-lived tokens: azidentity's process-wide cache does not
			// carry them from one case to the next.
			fe, cs, unaccounted := entraWorld(t, fakeentra.Config{Lifetime: 3 * time.Second, ClientIDs: []string{clientID}})
			dir := filepath.Join(t.TempDir(), "spool")
			ids := fillSpool(t, dir, "e", 120)
			args := append([]string{"drain", "--spool-dir", dir, "--connection-string", cs + tc.csSuffix, "--progress-interval", "10ms"}, tc.flags...)
			code, out, errOut := cli(t, tc.env, args...)
			if code != 0 {
				t.Fatalf("drain: exit %d\n%s\n%s", code, out, errOut)
			}
			if lost := unaccounted(ids); len(lost) > 0 {
				t.Errorf("%d records not delivered", len(lost))
			}
			issued := fe.Issued()
			if len(issued) == 0 {
				t.Fatal("no token issued")
			}
			for _, tok := range issued {
				if tok.Identity != tc.wantIdentity {
					t.Errorf("token for %q, want %q", tok.Identity, tc.wantIdentity)
				}
				if strings.Contains(out+errOut, tok.Token) {
					t.Error("a token in the output")
				}
			}
			if _, _, refused := fe.Counts(); refused != 0 {
				t.Errorf("%d requests refused by the token check", refused)
			}
			if !strings.Contains(errOut, "Entra ID bearer tokens") {
				t.Errorf("no log line naming the credential:\n%s", errOut)
			}
		})
	}
}

// Entra ID configuration errors are configuration errors (exit 78) that name
// the flag or variable, for validate as for run.
func TestEntraConfigErrors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	t.Setenv("AZURE_FEDERATED_TOKEN_FILE", "")
	for _, tc := range []struct {
		name   string
		env    map[string]string
		flags  []string
		errOut string
	}{
		{"bad authentication string", map[string]string{"APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "Authorization=Basic"}, nil,
			"APPLICATIONINSIGHTS_AUTHENTICATION_STRING"},
		{"unknown credential", nil, []string{"--entra-credential", "browser"}, "--entra-credential"},
		{"workload identity without its environment", nil, []string{"--entra-credential", "workload-identity"}, "workload-identity"},
		{"client id with the default chain", nil, []string{"--entra-credential", "default", "--entra-client-id", "x"}, "AZURE_CLIENT_ID"},
	} {
		for _, cmd := range []string{"validate", "run"} {
			t.Run(tc.name+"/"+cmd, func(t *testing.T) {
				args := append([]string{cmd, "--spool-dir", dir, "--connection-string", goodCS}, tc.flags...)
				code, _, errOut := cli(t, tc.env, args...)
				if code != exitConfig || !strings.Contains(errOut, tc.errOut) {
					t.Errorf("exit %d, want %d; stderr lacks %q:\n%s", code, exitConfig, tc.errOut, errOut)
				}
			})
		}
	}
	// Without Entra ID asked for, none of it is looked at.
	if code, out, errOut := cli(t, nil, "validate", "--spool-dir", dir, "--connection-string", goodCS); code != 0 || strings.Contains(errOut, "Entra") {
		t.Errorf("validate without Entra ID: %d\n%s\n%s", code, out, errOut)
	}
}
