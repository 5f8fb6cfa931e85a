package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aispool/aispool/chaos/fakeingest"
	"github.com/aispool/aispool/internal/testkit"
)

// nodeOTLPClientDir holds the Node.js OTLP fixture: the OpenTelemetry
// SDK's OTLP trace exporters and send.js. CI installs it with npm ci (see
// .ci/run).
const nodeOTLPClientDir = "testdata/node-otlp-client"

// TestNodeOTLPExportersThroughDaemon is a real-client test of the OTLP
// intake: the Node.js OpenTelemetry SDK's OTLP trace exporters,
// @opentelemetry/exporter-trace-otlp-proto (protobuf) and
// @opentelemetry/exporter-trace-otlp-http (OTLP JSON), export server spans
// to the daemon over HTTPS; every span whose export succeeded arrives
// upstream as a RequestData.
func TestNodeOTLPExportersThroughDaemon(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not on PATH: skipping the Node.js OTLP exporter test")
	}
	for _, pkg := range []string{"exporter-trace-otlp-proto", "exporter-trace-otlp-http"} {
		if _, err := os.Stat(filepath.Join(nodeOTLPClientDir, "node_modules", "@opentelemetry", pkg)); err != nil {
			t.Skipf("%s/node_modules is not installed (run: cd cmd/aispool/%s && npm ci): skipping the Node.js OTLP exporter test",
				nodeOTLPClientDir, nodeOTLPClientDir)
		}
	}
	script, err := filepath.Abs(filepath.Join(nodeOTLPClientDir, "send.js"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	certFile, keyFile, _ := testkit.SelfSignedCert(t, tmp)
	p, _ := fakeingest.ProfileByName("healthy")
	ep, err := fakeingest.New(fakeingest.Config{Profile: p, Seed: 1, ID: otlpID, Logger: slog.New(slog.DiscardHandler)})
	must(t, err)
	must(t, ep.Start())
	t.Cleanup(func() { _ = ep.Close() })
	d := startDaemon(t, filepath.Join(tmp, "spool"), ep.ConnectionString(""), "--tls-cert", certFile, "--tls-key", keyFile)
	exited := false
	t.Cleanup(func() {
		if !exited {
			_ = d.cmd.Process.Kill()
			_ = d.cmd.Wait()
		}
	})
	base := otlpHTTPURL(t, d)
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("the OTLP/HTTP intake with --tls-cert serves %q, want an https URL", base)
	}
	const spans = 50
	var want []string
	for _, protocol := range []string{"proto", "json"} {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		cmd := exec.CommandContext(ctx, node, script, protocol, strconv.Itoa(spans))
		cmd.Dir = filepath.Dir(script)
		cmd.Env = append(os.Environ(), "OTLP_URL="+base+"/v1/traces", "NODE_EXTRA_CA_CERTS="+certFile)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		runErr := cmd.Run()
		cancel()
		t.Logf("node send.js %s %d: %v\n%s", protocol, spans, errOrOK(runErr), strings.TrimSpace(stderr.String()))
		if runErr != nil {
			t.Fatalf("the Node.js OTLP exporter (%s) failed to export to the daemon (%v)\ndaemon metrics:\n%s", protocol, runErr, daemonMetrics(d))
		}
		var ids []string
		for line := range strings.Lines(stdout.String()) {
			if line = strings.TrimSpace(line); line != "" {
				ids = append(ids, "RequestData:"+line)
			}
		}
		if len(ids) != spans {
			t.Fatalf("send.js %s printed %d ids, want %d:\n%s", protocol, len(ids), spans, stdout.String())
		}
		want = append(want, ids...)
	}
	var lost []string
	if !testkit.Poll(20*time.Second, 20*time.Millisecond, func() bool {
		rep := ep.Report()
		lost = rep.Unaccounted(want)
		return len(lost) == 0
	}) {
		t.Fatalf("%d of %d spans not delivered upstream (first missing %s)\ndaemon metrics:\n%s", len(lost), len(want), lost[0], daemonMetrics(d))
	}
	t.Logf("all %d spans of both Node.js exporters delivered upstream as requests", len(want))
	must(t, d.cmd.Process.Signal(syscall.SIGTERM))
	waitErr := d.cmd.Wait()
	exited = true
	if waitErr != nil {
		t.Fatalf("daemon exit after SIGTERM: %v", waitErr)
	}
}

// otlpHTTPURL returns the OTLP/HTTP intake's base URL from the daemon's
// start line.
func otlpHTTPURL(t *testing.T, d *daemonProc) string {
	t.Helper()
	for line := range strings.Lines(d.logs.String()) {
		var rec struct {
			Msg      string `json:"msg"`
			OTLPHTTP string `json:"otlp_http"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "aispool running" {
			return rec.OTLPHTTP
		}
	}
	t.Fatalf("no start line in the daemon's log:\n%s", d.logs)
	return ""
}
