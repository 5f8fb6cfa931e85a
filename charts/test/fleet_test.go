package charttest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// syncBuffer is a bytes.Buffer safe for a process writing and a test
// reading.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// process is a subprocess of the test, stopped with SIGTERM at cleanup.
type process struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan error
}

func start(t *testing.T, name string, env []string, bin string, args ...string) *process {
	t.Helper()
	p := &process{name: name, cmd: exec.Command(bin, args...), out: &syncBuffer{}, done: make(chan error, 1)}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// stop sends SIGTERM and waits at most 30 s, then kills.
func (p *process) stop(t *testing.T) {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			t.Logf("%s exited: %v", p.name, err)
		}
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Errorf("%s did not stop within 30 s of SIGTERM", p.name)
	}
}

// waitFor polls the process's output until re matches, for at most 30 s.
func (p *process) waitFor(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(p.out.String()); m != nil {
			return m
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("%s exited (%v) before printing %s:\n%s", p.name, err, re, p.out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("%s did not print %s within 30 s:\n%s", p.name, re, p.out.String())
	return nil
}

// startedURLs returns the ingestion and admin URLs of the "aispool
// running" JSON log line.
func (p *process) startedURLs(t *testing.T) (ingest, admin string) {
	t.Helper()
	line := p.waitFor(t, regexp.MustCompile(`\{[^\n]*"msg":"aispool running"[^\n]*\}`))[0]
	var v struct {
		Listen string `json:"listen"`
		Admin  string `json:"admin"`
	}
	if err := json.Unmarshal([]byte(line), &v); err != nil {
		t.Fatalf("%s: %v: %s", p.name, err, line)
	}
	return v.Listen, v.Admin
}

// podArgs returns the rendered arguments of a pod's aispool container
// with the pod's paths moved under dir and both listeners on loopback
// ports of the system's choosing.
func podArgs(t *testing.T, pod *corev1.PodTemplateSpec, dir string) []string {
	t.Helper()
	var args []string
	for _, a := range container(t, pod, "aispool").Args {
		switch {
		case strings.HasPrefix(a, "--listen="), strings.HasPrefix(a, "--admin-listen="):
			a = a[:strings.Index(a, "=")+1] + "127.0.0.1:0"
		case strings.HasPrefix(a, "--log-format="):
			a = "--log-format=json"
		}
		a = strings.ReplaceAll(a, "/run/aispool/", dir+"/run/")
		a = strings.ReplaceAll(a, "=/spool/", "="+dir+"/spool/")
		args = append(args, a)
	}
	return args
}

func writeFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o400); err != nil {
			t.Fatal(err)
		}
	}
}

// metric reads one sample of an unlabelled metric from an admin endpoint.
func metric(t *testing.T, admin, name string) float64 {
	t.Helper()
	resp, err := http.Get(admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("%s has no %s", admin, name)
	return 0
}

// TestFleetChain runs the fleet example's two tiers for real, on loopback:
// an application posts to the agent over TLS under the path secret, the
// agent forwards to the gateway over TLS (trusting the chart's generated CA
// through SSL_CERT_FILE, as the rendered agent does), and the gateway
// delivers to a fake ingestion service (aispool chaos serve). Every
// envelope must arrive, once.
func TestFleetChain(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four processes")
	}
	bin := aispoolBinary(t)
	// The certificate must also name localhost, the name the processes
	// dial here instead of the Services' names.
	manifest, err := render(t, []string{example("fleet.yaml")}, "intake.tls.extraDNSNames={localhost}")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decode(manifest)
	if err != nil {
		t.Fatal(err)
	}
	var tlsSecret *corev1.Secret
	for _, s := range objs.Secrets {
		if s.Type == corev1.SecretTypeTLS {
			tlsSecret = s
		}
	}
	if tlsSecret == nil || len(objs.DaemonSets) != 1 || len(objs.StatefulSets) != 1 {
		t.Fatal("the fleet example does not render a generated certificate, an agent and a gateway")
	}
	pathSecret := "fleet-chain-path-secret-0123456789abcdef"
	secrets := map[string][]byte{"tls.crt": tlsSecret.Data["tls.crt"], "tls.key": tlsSecret.Data["tls.key"], "path-secret": []byte(pathSecret)}
	root := t.TempDir()
	caFile := filepath.Join(root, "ca.crt")
	if err := os.WriteFile(caFile, tlsSecret.Data["ca.crt"], 0o444); err != nil {
		t.Fatal(err)
	}

	// The fake ingestion service.
	report := filepath.Join(root, "report.json")
	azure := start(t, "chaos serve", os.Environ(), bin, "chaos", "serve", "--profile", "healthy", "--listen", "127.0.0.1:0", "--json", report)
	connString := azure.waitFor(t, regexp.MustCompile(`connection string: (\S+)`))[1]
	ikey := regexp.MustCompile(`InstrumentationKey=([^;]+)`).FindStringSubmatch(connString)[1]

	// The gateway, with the rendered StatefulSet's arguments.
	gwDir := filepath.Join(root, "gateway")
	writeFiles(t, gwDir+"/run", secrets)
	gateway := start(t, "gateway", []string{"APPLICATIONINSIGHTS_CONNECTION_STRING=" + connString}, bin,
		podArgs(t, &objs.StatefulSets[0].Spec.Template, gwDir)...)
	gwIngest, gwAdmin := gateway.startedURLs(t)
	gwPort := gwIngest[strings.LastIndex(gwIngest, ":")+1:]

	// The agent, with the rendered DaemonSet's arguments and environment:
	// its connection string points at the gateway, SSL_CERT_FILE at the CA.
	agentDir := filepath.Join(root, "agent")
	writeFiles(t, agentDir+"/run", secrets)
	env := []string{"APPLICATIONINSIGHTS_CONNECTION_STRING=InstrumentationKey=" + ikey + ";IngestionEndpoint=https://localhost:" + gwPort + "/" + pathSecret + "/"}
	for _, e := range container(t, &objs.DaemonSets[0].Spec.Template, "aispool").Env {
		if e.Name == "SSL_CERT_FILE" {
			if e.Value != "/etc/aispool/ca/ca.crt" {
				t.Fatalf("SSL_CERT_FILE=%s, not the CA's mount", e.Value)
			}
			env = append(env, "SSL_CERT_FILE="+caFile)
		}
	}
	if len(env) != 2 {
		t.Fatal("the rendered agent does not set SSL_CERT_FILE")
	}
	agent := start(t, "agent", env, bin, podArgs(t, &objs.DaemonSets[0].Spec.Template, agentDir)...)
	agentIngest, agentAdmin := agent.startedURLs(t)
	agentURL := strings.Replace(agentIngest, "127.0.0.1", "localhost", 1)

	// An application: 2 posts of 100 envelopes, trusting the CA.
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(tlsSecret.Data["ca.crt"])
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	const n = 200
	post := func(path string, body []byte) (int, string) {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, agentURL+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-json-stream")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post("/v2.1/track", envelopes(ikey, 0, 1)); code != http.StatusNotFound {
		t.Errorf("a post without the path secret: %d %s, want 404", code, body)
	}
	for batch := range 2 {
		if code, body := post("/"+pathSecret+"/v2.1/track", envelopes(ikey, batch*n/2, n/2)); code != http.StatusOK {
			t.Fatalf("post %d: %d %s", batch, code, body)
		}
	}

	deadline := time.Now().Add(60 * time.Second)
	for metric(t, gwAdmin, "aispool_envelopes_sent_total") < n {
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s: agent sent %v, gateway sent %v of %d\nagent:\n%s\ngateway:\n%s", metric(t, agentAdmin, "aispool_envelopes_sent_total"),
				metric(t, gwAdmin, "aispool_envelopes_sent_total"), n, agent.out.String(), gateway.out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := metric(t, agentAdmin, "aispool_envelopes_sent_total"); got != n {
		t.Errorf("the agent sent %v envelopes to the gateway, want %d", got, n)
	}
	agent.stop(t)
	gateway.stop(t)
	azure.stop(t)
	raw, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		ItemsAccepted int `json:"itemsAccepted"`
		Accepted      int `json:"accepted"`
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Accepted != n || rep.ItemsAccepted != n {
		t.Errorf("the ingestion service accepted %d items, %d distinct, want %d once each", rep.ItemsAccepted, rep.Accepted, n)
	}
}

// envelopes returns count valid event envelopes, newline-delimited, with
// the ids chain-<from>… in their chaos.id property.
func envelopes(ikey string, from, count int) []byte {
	var b bytes.Buffer
	now := time.Now().UTC().Format("2006-01-02T15:04:05.0000000Z")
	for i := from; i < from+count; i++ {
		fmt.Fprintf(&b, `{"ver":1,"name":"Microsoft.ApplicationInsights.Event","time":%q,"sampleRate":100,"iKey":%q,`+
			`"tags":{"ai.cloud.role":"fleet-chain"},"data":{"baseType":"EventData","baseData":{"ver":2,"name":"chain","properties":{"chaos.id":"chain-%d"}}}}`+"\n",
			now, ikey, i)
	}
	return b.Bytes()
}
