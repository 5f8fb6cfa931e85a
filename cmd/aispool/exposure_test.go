package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aispool/aispool/chaos/fakeingest"
	"github.com/aispool/aispool/internal/testkit"
)

// writeTestFile writes content to a new file of mode 0600 under the test's
// temporary directory and returns its path.
func writeTestFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestValidateRedactsEndpoint: aispool validate shows where telemetry goes
// without the credentials of the endpoint URL.
func TestValidateRedactsEndpoint(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	cs := "InstrumentationKey=11111111-2222-3333-4444-555555555555;IngestionEndpoint=https://someone:pa55word@ingest.example/x/?sig=s1gnature"
	code, out, errOut := cli(t, nil, "validate", "--spool-dir", dir, "--connection-string", cs)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, secret := range []string{"someone", "pa55word", "s1gnature", "11111111-2222"} {
		if strings.Contains(out+errOut, secret) {
			t.Errorf("validate shows %q: %s", secret, out)
		}
	}
	if !strings.Contains(out, "https://REDACTED@ingest.example/x/v2.1/track?REDACTED") {
		t.Errorf("validate does not show the redacted endpoint: %s", out)
	}
}

// TestConnectionStringFile: the connection string can come from a file
// (kept out of ps), whose problems name that flag.
func TestConnectionStringFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	good := writeTestFile(t, "cs", "\n  "+goodCS+"  \n")
	empty := writeTestFile(t, "empty", " \n")
	bad := writeTestFile(t, "bad", "InstrumentationKey=nope;Secret=hunter2")
	for _, tc := range []struct {
		name    string
		env     map[string]string
		args    []string
		code    int
		out     string
		errOut  string
		notEcho string
	}{
		{"from file", nil, []string{"--connection-string-file", good}, 0, "key 11111111…", "", ""},
		{"file beats env", map[string]string{"APPLICATIONINSIGHTS_CONNECTION_STRING": "garbage"}, []string{"--connection-string-file", good}, 0, "configuration is valid", "", ""},
		{"both", nil, []string{"--connection-string-file", good, "--connection-string", goodCS}, 78, "", "give one, not both", ""},
		{"missing file", nil, []string{"--connection-string-file", good + ".nope"}, 78, "", "--connection-string-file: open", ""},
		{"empty file", nil, []string{"--connection-string-file", empty}, 78, "", "empty", ""},
		{"bad content", nil, []string{"--connection-string-file", bad}, 78, "", "--connection-string-file " + bad + ": connstring", "hunter2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := cli(t, tc.env, append([]string{"validate", "--spool-dir", dir}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit code %d, want %d; stderr: %s", code, tc.code, errOut)
			}
			if !strings.Contains(out, tc.out) || !strings.Contains(errOut, tc.errOut) {
				t.Errorf("stdout %q, stderr %q; want %q and %q", out, errOut, tc.out, tc.errOut)
			}
			if tc.notEcho != "" && strings.Contains(out+errOut, tc.notEcho) {
				t.Errorf("output echoes %q: %s %s", tc.notEcho, out, errOut)
			}
		})
	}
	// The help says why the file is better.
	_, out, _ := cli(t, nil, "run", "--help")
	if !strings.Contains(out, "visible to every user in ps") || !strings.Contains(out, "--connection-string-file") {
		t.Errorf("run --help does not explain --connection-string-file:\n%s", out)
	}
}

const testPathSecret = "9d1e7a23f9c2a7e51b04d88a6e2c0f4b"

// TestValidateExposure: validate checks the exposure flags and warns about
// an endpoint reachable beyond this machine without TLS or authentication.
func TestValidateExposure(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	certFile, keyFile, _ := testkit.SelfSignedCert(t, t.TempDir())
	secret := writeTestFile(t, "secret", testPathSecret+"\n")
	base := []string{"validate", "--spool-dir", dir, "--connection-string", goodCS}

	code, out, errOut := cli(t, nil, append(base, "--listen", "0.0.0.0:4320")...)
	if code != 0 || !strings.Contains(errOut, "warning: --listen 0.0.0.0:4320 is reachable beyond this machine without TLS") ||
		!strings.Contains(errOut, "without authentication") || !strings.Contains(out, "(auth none)") {
		t.Errorf("open listener: exit %d, stdout %q, stderr %q; want 0 with two warnings", code, out, errOut)
	}
	code, out, errOut = cli(t, nil, append(base, "--listen", "0.0.0.0:4320", "--tls-cert", certFile, "--tls-key", keyFile,
		"--path-secret-file", secret, "--tls-client-ca", certFile, "--allow-network", "10.0.0.0/8,127.0.0.1")...)
	if code != 0 || strings.Contains(errOut, "warning") || !strings.Contains(out, "(auth path-secret,client-cert; networks 10.0.0.0/8,127.0.0.1)") {
		t.Errorf("guarded listener: exit %d, stdout %q, stderr %q; want 0 without warnings", code, out, errOut)
	}
	if strings.Contains(out+errOut, testPathSecret) {
		t.Errorf("validate shows the secret: %s %s", out, errOut)
	}
	code, _, errOut = cli(t, nil, append(base, "--path-secret-file", writeTestFile(t, "short", "short"),
		"--tls-client-ca", certFile, "--allow-network", "10.0.0.0/99")...)
	for _, want := range []string{"--path-secret-file", "--tls-client-ca: needs --tls-cert", `--allow-network "10.0.0.0/99"`} {
		if code != 78 || !strings.Contains(errOut, want) {
			t.Errorf("bad exposure flags: exit %d, stderr %q; want 78 naming %s", code, errOut, want)
		}
	}
}

// TestRunWithPathSecret: aispool run with TLS, a secret path prefix and an
// allowed network, started as a user would: an SDK-style post to
// https://<addr>/<secret>/v2.1/track reaches upstream, one without the
// secret is answered 404 saying why, and the start line names the methods
// without the secret.
func TestRunWithPathSecret(t *testing.T) {
	ep := startEndpoint(t, "healthy")
	tmp := t.TempDir()
	certFile, keyFile, _ := testkit.SelfSignedCert(t, tmp)
	secret := writeTestFile(t, "secret", testPathSecret)
	d := startDaemon(t, filepath.Join(tmp, "spool"), ep.ConnectionString(""), "--tls-cert", certFile, "--tls-key", keyFile,
		"--path-secret-file", secret, "--allow-network", "127.0.0.0/8")
	t.Cleanup(func() {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		_ = d.cmd.Wait()
	})
	pem, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	postTo := func(url string, body []byte) (int, string) {
		resp, err := client.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, body := postTo(d.ingest+"/"+testPathSecret+"//v2.1/track", fakeingest.Envelope("via-secret")); status != 200 {
		t.Fatalf("with the secret prefix: %d %s", status, body)
	}
	if status, body := postTo(d.ingest+"/v2.1/track", fakeingest.Envelope("without")); status != 404 || !strings.Contains(body, "secret prefix") {
		t.Errorf("without the secret prefix: %d %s, want 404 saying why", status, body)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		rep := ep.Report()
		if len(rep.Unaccounted([]string{"via-secret"})) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the envelope sent with the secret prefix did not reach upstream")
		}
		time.Sleep(20 * time.Millisecond)
	}
	logs := d.logs.String()
	if !strings.Contains(logs, `"auth":"path-secret"`) || strings.Contains(logs, testPathSecret) {
		t.Errorf("start line does not name the method, or the log shows the secret:\n%s", logs)
	}
}

// TestDaemonSetIsGuarded: the arguments of the shipped DaemonSet, with its
// files replaced by test files, are a valid configuration that listens
// beyond loopback with TLS and a secret path prefix, so aispool validate
// does not warn.
func TestDaemonSetIsGuarded(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/kubernetes/daemonset.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	certFile, keyFile, _ := testkit.SelfSignedCert(t, tmp)
	files := map[string]string{
		"--tls-cert":         certFile,
		"--tls-key":          keyFile,
		"--path-secret-file": writeTestFile(t, "secret", testPathSecret),
		"--spool-dir":        filepath.Join(tmp, "spool"),
	}
	args := []string{"validate", "--connection-string", goodCS}
	seen := map[string]bool{}
	inArgs := false
	for line := range strings.Lines(string(raw)) {
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "args:":
			inArgs = true
			continue
		case !inArgs:
			continue
		case !strings.HasPrefix(trimmed, "- "):
			inArgs = false
			continue
		}
		arg := strings.TrimPrefix(trimmed, "- ")
		if arg == "run" {
			continue
		}
		name, value, _ := strings.Cut(arg, "=")
		seen[name] = true
		if f, ok := files[name]; ok {
			value = f
		}
		args = append(args, name+"="+value)
	}
	for _, want := range []string{"--listen", "--tls-cert", "--tls-key", "--path-secret-file"} {
		if !seen[want] {
			t.Errorf("the DaemonSet's aispool does not use %s", want)
		}
	}
	code, out, errOut := cli(t, nil, args...)
	if code != 0 || strings.Contains(errOut, "warning") || !strings.Contains(out, "auth path-secret") {
		t.Fatalf("validate %q: exit %d, stdout %q, stderr %q; want valid, guarded, without warnings", args, code, out, errOut)
	}
}

// TestValidateWarnsAboutKeyMode: validate warns about a --tls-key that
// others can read, and not about one of mode 0600.
func TestValidateWarnsAboutKeyMode(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := testkit.SelfSignedCert(t, dir)
	args := []string{"validate", "--spool-dir", filepath.Join(dir, "spool"), "--connection-string", goodCS,
		"--tls-cert", certFile, "--tls-key", keyFile}
	if code, _, errOut := cli(t, nil, args...); code != 0 || strings.Contains(errOut, "warning") {
		t.Fatalf("key of mode 0600: exit %d, stderr %q; want no warning", code, errOut)
	}
	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	want := "warning: --tls-key " + keyFile + ": mode 0644 lets users other than its owner read or change it"
	if code, _, errOut := cli(t, nil, args...); code != 0 || !strings.Contains(errOut, want) {
		t.Fatalf("key of mode 0644: exit %d, stderr %q; want %q", code, errOut, want)
	}
}
