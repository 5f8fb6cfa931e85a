// Command intakeload measures the daemon's local ingestion endpoint under
// hostile load, against a real "aispool run" in a child process, and prints
// the figures (issue 13, items 1 to 3; see docs/intake.md):
//
//   - memory: -concurrent requests at once (default 10), each a gzip body
//     of -envelopes valid envelopes of -envelope-bytes (60,000 × 2.2 KB,
//     some 256 KB on the wire) in a JSON array that ends in garbage, while
//     a normal client posts a small batch every 50 ms. It reports the
//     daemon's peak RSS (VmHWM of /proc/<pid>/status), how long after the
//     burst its RSS took to fall under -rss-settled (96 MiB), and every
//     answer (a normal client must get 200, or 503 with Retry-After).
//   - slow: -slow connections (default 50) send their headers, then one
//     body byte per second, while a normal client posts; it reports the
//     normal posts' latencies and how the slow connections ended.
//   - flood: -flood plain-HTTP connections (default 2,000) to the
//     endpoint served over HTTPS; it reports the warning lines logged.
//
// Usage, from the module's root:
//
//	go run ./benchmarks/intakeload                      # builds ./cmd/aispool, runs every scenario
//	go run ./benchmarks/intakeload -scenario memory -aispool /path/to/aispool
//	go run ./benchmarks/intakeload -run-args "--memory-limit=128MiB"
//
// The upstream is a loopback endpoint in this process that counts items
// and answers 200. Nothing listens beyond 127.0.0.1.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aispool/aispool/benchmarks/internal/benchkit"
)

type options struct {
	aispool       string
	scenario      string
	runArgs       string
	concurrent    int
	envelopes     int
	envelopeBytes int
	rssSettled    int64 // KiB
	settle        time.Duration
	slow          int
	slowFor       time.Duration
	flood         int
}

func main() {
	var o options
	fs := flag.NewFlagSet("intakeload", flag.ExitOnError)
	fs.StringVar(&o.aispool, "aispool", "", "aispool binary to measure (default: build ./cmd/aispool into a temporary directory)")
	fs.StringVar(&o.scenario, "scenario", "all", "memory, slow, flood or all")
	fs.StringVar(&o.runArgs, "run-args", "", "extra flags for aispool run, space-separated")
	fs.IntVar(&o.concurrent, "concurrent", 10, "memory: requests at once")
	fs.IntVar(&o.envelopes, "envelopes", 60000, "memory: envelopes per request")
	fs.IntVar(&o.envelopeBytes, "envelope-bytes", 2200, "memory: bytes per envelope")
	rssSettled := fs.Int64("rss-settled", 96, "memory: RSS (MiB) the daemon must fall under after the burst")
	fs.DurationVar(&o.settle, "settle", 20*time.Second, "memory: how long to watch the RSS after the burst")
	fs.IntVar(&o.slow, "slow", 50, "slow: slow-body connections")
	fs.DurationVar(&o.slowFor, "slow-for", 20*time.Second, "slow: how long the normal client posts while the slow connections are open")
	fs.IntVar(&o.flood, "flood", 2000, "flood: plain-HTTP connections to the HTTPS endpoint")
	_ = fs.Parse(os.Args[1:])
	o.rssSettled = *rssSettled << 10
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "intakeload:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	tmp, err := os.MkdirTemp("", "intakeload-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if o.aispool == "" {
		o.aispool = filepath.Join(tmp, "aispool")
		if err := benchkit.BuildAispool(o.aispool, os.Stderr); err != nil {
			return fmt.Errorf("building aispool (run from the module's root, or give -aispool): %w", err)
		}
	}
	up, err := benchkit.StartUpstream()
	if err != nil {
		return err
	}
	defer up.Close()
	scenarios := map[string]func(options, string, string) error{"memory": memoryScenario, "slow": slowScenario, "flood": floodScenario}
	names := []string{"memory", "slow", "flood"}
	if o.scenario != "all" {
		if scenarios[o.scenario] == nil {
			return fmt.Errorf("unknown scenario %q", o.scenario)
		}
		names = []string{o.scenario}
	}
	for _, name := range names {
		dir := filepath.Join(tmp, name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		fmt.Printf("## %s\n\n", name)
		if err := scenarios[name](o, dir, up.URL); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		fmt.Println()
	}
	return nil
}

// daemon is "aispool run" as a child process, with the address of its
// Breeze intake.
type daemon struct {
	*benchkit.Daemon
	ingest string
}

func startDaemon(o options, dir, upURL string, extra ...string) (*daemon, error) {
	cs := "InstrumentationKey=11111111-2222-3333-4444-555555555555;IngestionEndpoint=" + upURL
	args := []string{"run", "--spool-dir", filepath.Join(dir, "spool"), "--connection-string", cs,
		"--listen", "127.0.0.1:0", "--admin-listen", "", "--log-format", "json"}
	args = append(args, extra...)
	args = append(args, strings.Fields(o.runArgs)...)
	d, ready, err := benchkit.StartDaemon(o.aispool, args)
	if err != nil {
		return nil, err
	}
	var rec struct {
		Listen string `json:"listen"`
	}
	if err := json.Unmarshal(ready, &rec); err != nil {
		d.Stop()
		return nil, err
	}
	return &daemon{Daemon: d, ingest: rec.Listen}, nil
}

// status returns VmRSS and VmHWM of the process, in KiB.
func status(pid int) (rss, hwm int64) {
	v := benchkit.ProcStatusKiB(pid, "VmRSS", "VmHWM")
	return v[0], v[1]
}

func mib(kib int64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }

// answer is one request's outcome.
type answer struct {
	at         time.Duration // since the scenario's start
	status     int           // 0: no answer
	retryAfter string
	message    string
	err        string
	took       time.Duration
}

func post(client *http.Client, url string, body []byte, gz bool, start time.Time) answer {
	t0 := time.Now()
	a := answer{at: t0.Sub(start)}
	req, err := http.NewRequest(http.MethodPost, url+"/v2.1/track", bytes.NewReader(body))
	if err != nil {
		a.err = err.Error()
		return a
	}
	req.Header.Set("Content-Type", "application/json")
	if gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := client.Do(req)
	a.took = time.Since(t0)
	if err != nil {
		a.err = err.Error()
		return a
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	a.status, a.retryAfter = resp.StatusCode, resp.Header.Get("Retry-After")
	var m struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(raw, &m)
	a.message = m.Message
	return a
}

// envelope returns a valid MessageData envelope of about size bytes.
func envelope(id string, size int) []byte {
	head := `{"ver":1,"name":"Microsoft.ApplicationInsights.Message","time":"2026-11-25T11:58:41.8330000Z",` +
		`"iKey":"11111111-2222-3333-4444-555555555555","tags":{"ai.cloud.role":"intakeload"},` +
		`"data":{"baseType":"MessageData","baseData":{"ver":2,"severityLevel":"Information","message":"` + id + " "
	tail := `"}}}`
	pad := max(size-len(head)-len(tail), 0)
	return []byte(head + strings.Repeat("x", pad) + tail)
}

// attackBody is a gzip JSON array of n valid envelopes that ends in
// garbage, compressed as it is written.
func attackBody(n, size int) ([]byte, int64, error) {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	var raw int64
	w := func(p []byte) {
		raw += int64(len(p))
		_, _ = zw.Write(p)
	}
	w([]byte("["))
	for i := range n {
		if i > 0 {
			w([]byte(","))
		}
		w(envelope("attack", size))
	}
	w([]byte(",garbage"))
	if err := zw.Close(); err != nil {
		return nil, 0, err
	}
	return b.Bytes(), raw, nil
}

func normalBody(seq int) []byte {
	var b bytes.Buffer
	for i := range 10 {
		b.Write(envelope(fmt.Sprintf("normal-%d-%d", seq, i), 700))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// normalClient posts a small batch every interval until stop is closed.
func normalClient(url string, interval time.Duration, start time.Time, stop <-chan struct{}) func() []answer {
	client := &http.Client{Timeout: 30 * time.Second}
	var (
		mu  sync.Mutex
		out []answer
		wg  sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for seq := 0; ; seq++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			wg.Add(1)
			go func() { // one at a time would hide a slow answer behind the next tick
				defer wg.Done()
				a := post(client, url, normalBody(seq), false, start)
				mu.Lock()
				out = append(out, a)
				mu.Unlock()
			}()
		}
	}()
	return func() []answer {
		wg.Wait()
		client.CloseIdleConnections()
		return out
	}
}

// summarize prints the answers by outcome and the latencies.
func summarize(what string, as []answer) (bad int) {
	counts := map[string]int{}
	var took []time.Duration
	for _, a := range as {
		k := strconv.Itoa(a.status)
		switch {
		case a.status == 0:
			k = "no answer (" + firstWords(a.err, 6) + ")"
			bad++
		case a.status == 503 && a.retryAfter != "":
			k = "503 with Retry-After"
		case a.status == 503:
			k = "503 without Retry-After"
			bad++
		case a.status != 200:
			bad++
		}
		counts[k]++
		took = append(took, a.took)
	}
	slices.Sort(took)
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s × %d", k, counts[k]))
	}
	fmt.Printf("- %s: %d requests: %s", what, len(as), strings.Join(parts, ", "))
	if len(took) > 0 {
		fmt.Printf("; latency p50 %v, p99 %v, max %v", took[len(took)/2].Round(time.Millisecond),
			took[len(took)*99/100].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond))
	}
	fmt.Println()
	return bad
}

func firstWords(s string, n int) string {
	f := strings.Fields(s)
	if len(f) > n {
		f = f[len(f)-n:]
	}
	return strings.Join(f, " ")
}

func memoryScenario(o options, dir, upURL string) error {
	body, raw, err := attackBody(o.envelopes, o.envelopeBytes)
	if err != nil {
		return err
	}
	d, err := startDaemon(o, dir, upURL)
	if err != nil {
		return err
	}
	defer d.Stop()
	pid := d.Pid()
	time.Sleep(time.Second)
	baseRSS, _ := status(pid)
	fmt.Printf("- attack body: %d envelopes of %d bytes, %.1f MB decoded, %.0f KB gzip, ending in garbage; %d at once\n",
		o.envelopes, o.envelopeBytes, float64(raw)/1e6, float64(len(body))/1e3, o.concurrent)
	fmt.Printf("- daemon RSS before: %s\n", mib(baseRSS))

	start := time.Now()
	stopSampling := make(chan struct{})
	var samples sync.Map // time → rss
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		for {
			rss, _ := status(pid)
			samples.Store(time.Since(start), rss)
			select {
			case <-stopSampling:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	stopNormal := make(chan struct{})
	normal := normalClient(d.ingest, 50*time.Millisecond, start, stopNormal)
	time.Sleep(500 * time.Millisecond)

	attackClient := &http.Client{Timeout: 120 * time.Second}
	attacks := make([]answer, o.concurrent)
	var wg sync.WaitGroup
	for i := range attacks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			attacks[i] = post(attackClient, d.ingest, body, true, start)
		}()
	}
	wg.Wait()
	burstEnd := time.Since(start)
	_, hwmBurst := status(pid)
	// Watch the RSS come down while the normal client keeps posting.
	var settledAt time.Duration = -1
	for time.Since(start) < burstEnd+o.settle {
		rss, _ := status(pid)
		if rss < o.rssSettled && settledAt < 0 {
			settledAt = time.Since(start) - burstEnd
		}
		if rss >= o.rssSettled {
			settledAt = -1
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(stopNormal)
	normals := normal()
	close(stopSampling)
	sampler.Wait()
	endRSS, hwm := status(pid)

	var maxRSS int64
	samples.Range(func(_, v any) bool { maxRSS = max(maxRSS, v.(int64)); return true })
	fmt.Printf("- peak RSS (VmHWM): %s (%s at the end of the burst; highest sampled VmRSS %s)\n", mib(hwm), mib(hwmBurst), mib(maxRSS))
	if settledAt >= 0 {
		fmt.Printf("- RSS under %s %v after the burst ended (burst: %v); %s at the end\n", mib(o.rssSettled), settledAt.Round(10*time.Millisecond), (burstEnd - 500*time.Millisecond).Round(10*time.Millisecond), mib(endRSS))
	} else {
		fmt.Printf("- RSS not under %s within %v after the burst (burst: %v); %s at the end\n", mib(o.rssSettled), o.settle, (burstEnd - 500*time.Millisecond).Round(10*time.Millisecond), mib(endRSS))
	}
	summarize("attack requests", attacks)
	for _, a := range attacks {
		if a.message != "" {
			fmt.Printf("  - e.g. %d: %s\n", a.status, a.message)
			break
		}
	}
	if bad := summarize("normal client (every 50 ms)", normals); bad > 0 {
		fmt.Printf("  - %d normal requests were not answered 200 or 503 with Retry-After\n", bad)
	}
	return nil
}

func slowScenario(o options, dir, upURL string) error {
	d, err := startDaemon(o, dir, upURL)
	if err != nil {
		return err
	}
	defer d.Stop()
	addr := strings.TrimPrefix(d.ingest, "http://")
	start := time.Now()
	type slowEnd struct {
		status string
		after  time.Duration
	}
	ends := make(chan slowEnd, o.slow)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var opened atomic.Int32
	for range o.slow {
		go func() {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				ends <- slowEnd{status: "dial: " + err.Error()}
				return
			}
			defer c.Close()
			opened.Add(1)
			t0 := time.Now()
			fmt.Fprintf(c, "POST /v2.1/track HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n[", addr)
			answered := make(chan string, 1)
			go func() {
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					answered <- "closed (" + firstWords(err.Error(), 3) + ")"
					return
				}
				resp.Body.Close()
				answered <- strconv.Itoa(resp.StatusCode)
			}()
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case s := <-answered:
					ends <- slowEnd{status: s, after: time.Since(t0)}
					return
				case <-ctx.Done():
					ends <- slowEnd{status: "still open at the end"}
					return
				case <-tick.C:
					if _, err := c.Write([]byte(" ")); err != nil {
						ends <- slowEnd{status: "write failed", after: time.Since(t0)}
						return
					}
				}
			}
		}()
	}
	time.Sleep(2 * time.Second)
	fmt.Printf("- %d slow-body connections open (headers, then one byte per second of a 100,000-byte body)\n", opened.Load())
	stop := make(chan struct{})
	normal := normalClient(d.ingest, 100*time.Millisecond, start, stop)
	time.Sleep(o.slowFor)
	close(stop)
	normals := normal()
	cancel()
	summarize(fmt.Sprintf("normal client (every 100 ms for %v)", o.slowFor), normals)
	counts := map[string]int{}
	var latest time.Duration
	for range o.slow {
		e := <-ends
		counts[e.status]++
		latest = max(latest, e.after)
	}
	fmt.Printf("- slow connections ended: %v (the last after %v)\n", counts, latest.Round(100*time.Millisecond))
	return nil
}

func floodScenario(o options, dir, upURL string) error {
	cert, key, err := selfSigned(dir)
	if err != nil {
		return err
	}
	d, err := startDaemon(o, dir, upURL, "--tls-cert", cert, "--tls-key", key)
	if err != nil {
		return err
	}
	addr := strings.TrimPrefix(d.ingest, "https://")
	before := len(d.Logs())
	start := time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 50)
	for range o.flood {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprintf(c, "POST /v2.1/track HTTP/1.1\r\nHost: %s\r\nContent-Length: 2\r\n\r\n[]", addr)
			_, _ = io.Copy(io.Discard, c)
		}()
	}
	wg.Wait()
	took := time.Since(start)
	// A normal HTTPS client still gets through.
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // loopback, self-signed
	a := post(client, d.ingest, normalBody(0), false, start)
	time.Sleep(12 * time.Second) // past a summary interval
	d.Stop()
	var warn int
	var examples []string
	for _, l := range d.Logs()[before:] {
		var rec struct {
			Level string `json:"level"`
		}
		if json.Unmarshal([]byte(l), &rec) == nil && rec.Level == "WARN" {
			warn++
			if len(examples) < 3 {
				examples = append(examples, l)
			}
		}
	}
	fmt.Printf("- %d plain-HTTP connections to the HTTPS endpoint in %v; then an HTTPS post: %d %s\n", o.flood, took.Round(time.Millisecond), a.status, a.err)
	fmt.Printf("- WARN lines logged: %d\n", warn)
	for _, e := range examples {
		fmt.Printf("  - `%s`\n", e)
	}
	return nil
}

// selfSigned writes a self-signed certificate for 127.0.0.1 into dir.
func selfSigned(dir string) (certFile, keyFile string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "intakeload"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", err
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}
