package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aispool/aispool/chaos"
	"github.com/aispool/aispool/chaos/fakeingest"
)

func TestChaosRunCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end run")
	}
	dir := t.TempDir()
	html, js := filepath.Join(dir, "r.html"), filepath.Join(dir, "r.json")
	code, out, errOut := cli(t, nil, "chaos", "run", "--profile", "partial", "--envelopes", "800", "--seed", "7",
		"--report", html, "--json", js, "--progress-interval", "10ms")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"verdict: PASS", "PASS  nothing-lost", "dropped: status_400", "lost  ", "report: " + html} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "acknowledged") {
		t.Errorf("no progress lines on stderr:\n%s", errOut)
	}
	page, err := os.ReadFile(html)
	if err != nil || !bytes.Contains(page, []byte("<svg")) || !bytes.Contains(page, []byte("PASS")) {
		t.Fatalf("HTML report: %v, %d bytes", err, len(page))
	}
	raw, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var res chaos.Result
	if err := json.Unmarshal(raw, &res); err != nil || !res.Passed() || res.Acknowledged != 800 || res.Seed != 7 {
		t.Fatalf("JSON result: %v passed=%v acknowledged=%d seed=%d", err, res.Passed(), res.Acknowledged, res.Seed)
	}
}

func TestChaosCLIErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"statuses": {"500": 2}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no profile", []string{"chaos", "run"}, "--profile is required"},
		{"unknown profile", []string{"chaos", "run", "--profile", "stormy"}, `"stormy": want one of`},
		{"bad profile file", []string{"chaos", "run", "--profile", bad}, "statuses"},
		{"missing file", []string{"chaos", "run", "--profile", "/nonexistent/p.json"}, "/nonexistent/p.json"},
		{"negative envelopes", []string{"chaos", "run", "--profile", "healthy", "--envelopes", "-1"}, "Envelopes -1"},
		{"min kills without kills", []string{"chaos", "run", "--profile", "healthy", "--min-kills", "3"}, "MinKills needs KillEvery"},
		{"serve non-loopback", []string{"chaos", "serve", "--listen", "0.0.0.0:0"}, "loopback"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := cli(t, nil, tc.args...)
			if code != exitUsage || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, errOut, exitUsage, tc.want)
			}
		})
	}
}

// TestChaosServe runs `aispool chaos serve` as a process, sends it an
// envelope, stops it with SIGTERM and reads its report.
func TestChaosServe(t *testing.T) {
	cmd := exec.Command(os.Args[0], "chaos", "serve", "--profile", "healthy", "--listen", "127.0.0.1:0", "--log-level", "error")
	cmd.Env = append(os.Environ(), "AISPOOL_TEST_MAIN=1")
	var stdout bytes.Buffer
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(pr)
	var url string
	for sc.Scan() {
		line := sc.Text()
		stdout.WriteString(line + "\n")
		if u, ok := strings.CutPrefix(line, "chaos endpoint "); ok {
			url, _, _ = strings.Cut(u, " ")
			break
		}
	}
	if url == "" {
		t.Fatalf("no endpoint address in %q", stdout.String())
	}
	resp, err := http.Post(url+"/v2.1/track", "application/x-json-stream", bytes.NewReader(append(fakeingest.Envelope("served-1"), '\n')))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		for sc.Scan() {
			stdout.WriteString(sc.Text() + "\n")
		}
		done <- cmd.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, stdout.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("chaos serve did not stop on SIGTERM")
	}
	if !regexp.MustCompile(`distinct ids accepted\s+1\n`).MatchString(stdout.String()) {
		t.Fatalf("report does not count the envelope:\n%s", stdout.String())
	}
}
