package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
