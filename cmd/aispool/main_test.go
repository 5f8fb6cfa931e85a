package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aispool/aispool/chaos/fakeingest"
	"github.com/aispool/aispool/internal/testkit"
	"github.com/aispool/aispool/spool"
)

// TestMain lets the test binary act as the aispool binary for the
// subprocess tests (run, SIGTERM, SIGKILL).
func TestMain(m *testing.M) {
	if os.Getenv("AISPOOL_TEST_MAIN") == "1" {
		limitFileSize()
		os.Exit(Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

const goodCS = "InstrumentationKey=11111111-2222-3333-4444-555555555555;IngestionEndpoint=http://127.0.0.1:1"

// cli runs the CLI in process with the given environment.
func cli(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return cliContext(context.Background(), t, env, args...)
}

// cliContext is cli with a context.
func cliContext(ctx context.Context, t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	var environ []string
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	code = run(ctx, args, &out, &errb, environ)
	return code, out.String(), errb.String()
}

func TestCLIContract(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	unsafeDir := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(unsafeDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(unsafeDir, 0o777); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		env     map[string]string
		args    []string
		code    int
		out     string // substring of stdout
		errOut  string // substring of stderr
		notEcho string // must not appear in stderr (a secret, or what a rejected command must not start)
	}{
		{"version", nil, []string{"version"}, 0, "aispool ", "", ""},
		{"version flag", nil, []string{"--version"}, 0, "aispool ", "", ""},
		{"version short flag", nil, []string{"-v"}, 0, "aispool ", "", ""},
		{"no command", nil, nil, 0, "Available Commands", "", ""},
		{"unknown command", nil, []string{"frobnicate"}, 2, "", "unknown command", ""},
		{"unknown subcommand", nil, []string{"chaos", "frobnicate"}, 2, "", `unknown command "frobnicate" for "aispool chaos"`, ""},
		{"misspelt command", nil, []string{"inspekt"}, 2, "", "did you mean inspect?", ""},
		{"bad flag value", nil, []string{"validate", "--max-in-flight", "many"}, 2, "", "--max-in-flight", ""},
		{"bad log level", nil, []string{"version", "--log-level", "loud"}, 2, "", "--log-level", ""},
		{"unknown flag", nil, []string{"validate", "--nope"}, 2, "", "unknown flag: --nope", ""},
		{"positional args", nil, []string{"version", "extra"}, 2, "", "takes no arguments", ""},
		{"bad log format", nil, []string{"validate", "--log-format", "xml", "--spool-dir", dir, "--connection-string", goodCS}, 2, "", "--log-format", ""},
		{"validate ok", nil, []string{"validate", "--spool-dir", dir, "--connection-string", goodCS}, 0, "configuration is valid", "", ""},
		{"validate from env", map[string]string{"APPLICATIONINSIGHTS_CONNECTION_STRING": goodCS}, []string{"validate", "--spool-dir", dir}, 0, "configuration is valid", "", ""},
		{"flag beats env", map[string]string{"APPLICATIONINSIGHTS_CONNECTION_STRING": "garbage"}, []string{"validate", "--spool-dir", dir, "--connection-string", goodCS}, 0, "111111", "", ""},
		{"missing connection string", nil, []string{"validate", "--spool-dir", dir}, 78, "", "--connection-string", ""},
		{"bad connection string", nil, []string{"validate", "--spool-dir", dir, "--connection-string", "InstrumentationKey=nope;Secret=hunter2"}, 78, "", "InstrumentationKey", "hunter2"},
		{"missing spool dir", nil, []string{"validate", "--connection-string", goodCS}, 78, "", "--spool-dir: required", ""},
		{"every problem at once", nil, []string{"validate", "--listen", "nope", "--tls-cert", "/x"}, 78, "", "--listen", ""},
		{"run with bad config", nil, []string{"run", "--spool-dir", dir}, 78, "", "--connection-string", ""},
		{"drain with bad config", nil, []string{"drain", "--spool-dir", dir}, 78, "", "--connection-string", ""},
		{"inspect without dir", nil, []string{"inspect"}, 78, "", "--spool-dir: required", ""},
		{"run without dir", nil, []string{"run", "--connection-string", goodCS}, 78, "", "--spool-dir: required", ""},
		{"drain without dir", nil, []string{"drain", "--connection-string", goodCS}, 78, "", "--spool-dir: required", ""},
		{"validate unsafe dir", nil, []string{"validate", "--spool-dir", unsafeDir, "--connection-string", goodCS}, 78, "", "writable by group or others", ""},
		{"run unsafe dir", nil, []string{"run", "--spool-dir", unsafeDir, "--connection-string", goodCS}, 78, "", "writable by group or others", ""},
		{"drain unsafe dir", nil, []string{"drain", "--spool-dir", unsafeDir, "--connection-string", goodCS}, 78, "", "writable by group or others", ""},
		{"inspect unsafe dir", nil, []string{"inspect", "--spool-dir", unsafeDir}, 78, "", "writable by group or others", ""},
		{"inspect bad peek", nil, []string{"inspect", "--spool-dir", dir, "--peek", "-1"}, 2, "", "--peek", ""},
		{"inspect missing dir", nil, []string{"inspect", "--spool-dir", filepath.Join(dir, "nope")}, 1, "", "no such file", ""},
		{"demo bad spans", nil, []string{"demo", "--spans", "-1"}, 2, "", "--spans", ""},
		{"demo bad profile", nil, []string{"demo", "--faults", "nosuch"}, 2, "", `--faults "nosuch": want one of burst, flaky, garbage-200, healthy, hostile, outage, partial, poison, steady-partial, throttled, wrong-endpoint`, "sending"},
		{"poison attempts zero", nil, []string{"validate", "--spool-dir", dir, "--connection-string", goodCS, "--poison-attempts", "0"}, 2, "", `invalid argument "0" for "--poison-attempts" flag: 0: want at least 1, or -1`, ""},
		{"poison attempts off", nil, []string{"validate", "--spool-dir", dir, "--connection-string", goodCS, "--poison-attempts", "-1"}, 0, "configuration is valid", "", ""},
		{"demo zero spans", nil, []string{"demo", "--spans", "0"}, 2, "", "--spans 0: must be positive", "sending"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := cli(t, tc.env, tc.args...)
			if code != tc.code {
				t.Fatalf("exit code %d, want %d; stderr: %s", code, tc.code, errOut)
			}
			if !strings.Contains(out, tc.out) {
				t.Errorf("stdout %q lacks %q", out, tc.out)
			}
			if !strings.Contains(errOut, tc.errOut) {
				t.Errorf("stderr %q lacks %q", errOut, tc.errOut)
			}
			if tc.notEcho != "" && strings.Contains(errOut, tc.notEcho) {
				t.Errorf("stderr has %q: %q", tc.notEcho, errOut)
			}
		})
	}
}

// fillSpool appends n synthetic envelopes with ids prefix-0..n-1.
func fillSpool(t *testing.T, dir, prefix string, n int) []string {
	t.Helper()
	s, err := spool.Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ids := make([]string, n)
	recs := make([][]byte, n)
	for i := range n {
		ids[i] = fmt.Sprintf("%s-%d", prefix, i)
		recs[i] = append(fakeingest.Envelope(ids[i]), '\n')
	}
	if err := s.Append(context.Background(), recs...); err != nil {
		t.Fatal(err)
	}
	return ids
}

func startEndpoint(t *testing.T, profile string) *fakeingest.Endpoint {
	t.Helper()
	p, err := fakeingest.ProfileByName(profile)
	if err != nil {
		t.Fatal(err)
	}
	return fakeingest.StartForTest(t, fakeingest.Config{Profile: p, Seed: 1})
}

func TestInspectAndDrain(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	ids := fillSpool(t, dir, "d", 250)

	code, out, errOut := cli(t, nil, "inspect", "--spool-dir", dir, "--json", "--peek", "2")
	if code != 0 {
		t.Fatalf("inspect: %d %s", code, errOut)
	}
	var rep inspectOutput
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("inspect --json is not JSON: %v\n%s", err, out)
	}
	if rep.Records != 250 || len(rep.Peek) != 2 || rep.Peek[0].Type != "EventData" {
		t.Fatalf("inspect: %+v", rep)
	}
	code, out, _ = cli(t, nil, "inspect", "--spool-dir", dir, "--peek", "1")
	if code != 0 || !strings.Contains(out, "records") || !strings.Contains(out, "250") {
		t.Fatalf("inspect text: %d\n%s", code, out)
	}

	ep := startEndpoint(t, "healthy")
	code, out, errOut = cli(t, nil, "drain", "--spool-dir", dir, "--connection-string", ep.ConnectionString(""), "--progress-interval", "10ms")
	if code != 0 {
		t.Fatalf("drain: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if !strings.Contains(out, "sent 250 envelopes") {
		t.Fatalf("drain summary: %s", out)
	}
	rep2 := ep.Report()
	if lost := rep2.Unaccounted(ids); len(lost) > 0 {
		t.Fatalf("%d envelopes not delivered", len(lost))
	}
	if code, out, _ := cli(t, nil, "inspect", "--spool-dir", dir, "--json"); code != 0 || !strings.Contains(out, `"records": 0`) {
		t.Fatalf("after drain: %s", out)
	}
}

func TestInspectShowsLifetimeDrops(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	fillSpool(t, dir, "x", 5)
	// 402 (daily cap) drops a whole batch; a 400 without errors[] keeps it.
	srv := newStubEndpoint(t, http.StatusPaymentRequired, `{"itemsReceived":5,"itemsAccepted":0,"errors":[]}`)
	if code, _, _ := cli(t, nil, "drain", "--spool-dir", dir, "--connection-string",
		"InstrumentationKey=11111111-2222-3333-4444-555555555555;IngestionEndpoint="+srv); code != 1 {
		t.Fatalf("drain exit %d", code)
	}
	code, out, _ := cli(t, nil, "inspect", "--spool-dir", dir)
	if code != 0 || !strings.Contains(out, "dropped: status_402") || !strings.Contains(out, "5") {
		t.Fatalf("inspect after drops:\n%s", out)
	}
}

func TestDrainReportsUndelivered(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	fillSpool(t, dir, "u", 20)
	// Every item refused permanently: the daily cap (402) for each.
	srv := newStubEndpoint(t, http.StatusPaymentRequired, `{"itemsReceived":20,"itemsAccepted":0,"errors":[]}`)
	code, out, errOut := cli(t, nil, "drain", "--spool-dir", dir, "--connection-string",
		"InstrumentationKey=11111111-2222-3333-4444-555555555555;IngestionEndpoint="+srv)
	if code != 1 {
		t.Fatalf("exit %d, want 1; %s %s", code, out, errOut)
	}
	if !strings.Contains(out, "dropped 20: status_402") || !strings.Contains(errOut, "not everything was delivered") {
		t.Fatalf("summary:\n%s\n%s", out, errOut)
	}
}

func TestDemo(t *testing.T) {
	code, out, errOut := cli(t, nil, "demo", "--spans", "500")
	if code != 0 {
		t.Fatalf("demo: %d %s %s", code, out, errOut)
	}
	for _, want := range []string{"spans generated", "500", "lost                                 0", "dropped (refused for good, counted)  0"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}

// daemonProc is `aispool run` as a child process (the test binary).
type daemonProc struct {
	cmd    *exec.Cmd
	ingest string // base URL of the local endpoint
	admin  string
	logs   *testkit.SyncBuffer // the child's stderr, line by line
	eof    chan struct{}       // closed when the child's stderr is at its end
}

func startDaemon(t *testing.T, dir, cs string, extra ...string) *daemonProc {
	t.Helper()
	args := append([]string{"run", "--spool-dir", dir, "--connection-string", cs, "--listen", "127.0.0.1:0",
		"--admin-listen", "127.0.0.1:0", "--otlp-http-listen", "127.0.0.1:0", "--otlp-grpc-listen", "127.0.0.1:0",
		"--log-format", "json", "--shutdown-timeout", "2s"}, extra...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "AISPOOL_TEST_MAIN=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &daemonProc{cmd: cmd, logs: &testkit.SyncBuffer{}, eof: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		defer close(d.eof)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			_, _ = d.logs.WriteString(line + "\n")
			var rec struct {
				Msg    string `json:"msg"`
				Listen string `json:"listen"`
				Admin  string `json:"admin"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "aispool running" {
				d.ingest, d.admin = rec.Listen, rec.Admin
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-d.eof
		_ = cmd.Wait()
		t.Fatalf("daemon did not start:\n%s", d.logs)
	}
	return d
}

func TestRunServesAndStopsOnSIGTERM(t *testing.T) {
	ep := startEndpoint(t, "healthy")
	dir := filepath.Join(t.TempDir(), "spool")
	d := startDaemon(t, dir, ep.ConnectionString(""))
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := http.Get(d.admin + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
		if path == "/metrics" && !strings.Contains(string(body), "aispool_spool_records") {
			t.Fatalf("/metrics lacks aispool metrics")
		}
	}
	ids := postEnvelopes(t, http.DefaultClient, d.ingest, "t", 20, 10)
	var missing []string
	if !testkit.Poll(20*time.Second, 20*time.Millisecond, func() bool {
		rep := ep.Report()
		missing = rep.Unaccounted(ids)
		return len(missing) == 0
	}) {
		t.Fatalf("%d of %d not delivered upstream", len(missing), len(ids))
	}
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Wait(); err != nil {
		t.Fatalf("daemon exit after SIGTERM: %v\n%s", err, d.logs)
	}
}

// postEnvelopes posts batches of synthetic envelopes (ids "<prefix>-<batch>-<i>")
// to a local ingestion endpoint, failing the test unless each is answered
// 200 (durable), and returns the ids.
func postEnvelopes(t *testing.T, client *http.Client, base, prefix string, batches, per int) []string {
	t.Helper()
	var ids []string
	for i := range batches {
		var body bytes.Buffer
		for j := range per {
			id := fmt.Sprintf("%s-%d-%d", prefix, i, j)
			ids = append(ids, id)
			body.Write(fakeingest.Envelope(id))
			body.WriteByte('\n')
		}
		resp, err := client.Post(base+"/v2.1/track", "application/x-json-stream", &body)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("post: %d", resp.StatusCode)
		}
	}
	return ids
}
