// Command otlpload measures the daemon's OTLP/HTTP intake next to its
// Breeze intake (issue 15's figures; see docs/benchmarks.md): spans per
// second through a real "aispool run" in a child process (clients in this
// process → the daemon decodes, converts, fsyncs → its sender → a loopback
// upstream in this process), the daemon's CPU seconds per 100k spans and
// its peak RSS.
//
// Each phase starts a fresh daemon and sends -spans spans, -batch per
// request, from -clients concurrent clients; bodies are encoded before the
// clock starts, so the clients cost little. The phases:
//
//   - otlp-proto: OTLP/HTTP, application/x-protobuf, uncompressed (what the
//     Go SDK's otlptracehttp sends by default);
//   - otlp-proto-gzip: the same, gzip-compressed (the Collector's default);
//   - breeze: the same spans as the envelopes the daemon makes of them,
//     newline-delimited JSON, gzip-compressed, to /v2.1/track (what an
//     Application Insights SDK sends).
//
// The span is the benchmarks' HTTP workload: an HTTP server span with 8
// attributes of a resource with 3.
//
// Usage, from the module's root:
//
//	go run ./benchmarks/otlpload                       # builds ./cmd/aispool
//	go run ./benchmarks/otlpload -spans 1000000 -batch 2048 -phases otlp-proto,breeze
//
// Nothing listens beyond 127.0.0.1.
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/aispool/aispool/benchmarks/internal/benchkit"
	"github.com/aispool/aispool/exporter/envelope"
	"github.com/aispool/aispool/internal/otlpconv"
)

const ikey = "11111111-2222-3333-4444-555555555555"

type options struct {
	aispool  string
	spans    int
	batch    int
	clients  string
	rounds   int
	phases   string
	runArgs  string
	profile  string
	profSecs int
}

// aispoolBin is one aispool binary to measure, named for the tables.
type aispoolBin struct{ name, path string }

func main() {
	var o options
	fs := flag.NewFlagSet("otlpload", flag.ExitOnError)
	fs.StringVar(&o.aispool, "aispool", "", "aispool binary to measure, or several to compare as name=path,name=path (measured alternately, the first is the reference of the ratios; default: build ./cmd/aispool into a temporary directory)")
	fs.IntVar(&o.spans, "spans", 300000, "spans (for breeze: envelopes) per run")
	fs.IntVar(&o.batch, "batch", 1024, "spans (envelopes) per request")
	fs.StringVar(&o.clients, "clients", "4", "concurrent clients, or several counts to run each phase with, comma-separated (2,4,8)")
	fs.IntVar(&o.rounds, "rounds", 1, "rounds: each runs every phase with every client count and every binary once, binaries alternating")
	fs.StringVar(&o.phases, "phases", "otlp-proto,otlp-proto-gzip,breeze", "phases to run, comma-separated")
	fs.StringVar(&o.runArgs, "run-args", "", "extra flags for aispool run, space-separated")
	fs.StringVar(&o.profile, "profile", "", "directory for the daemon's profiles of each run (its admin endpoint with --admin-pprof; empty: none): CPU for -profile-seconds from the start, the heap in use at its end, allocations over the whole run")
	fs.IntVar(&o.profSecs, "profile-seconds", 10, "length of each CPU profile, from the start of the run")
	_ = fs.Parse(os.Args[1:])
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "otlpload:", err)
		os.Exit(1)
	}
}

// phase is one way of sending the spans.
type phase struct {
	name    string
	path    string
	ctype   string
	gzip    bool
	body    []byte // one request of batch spans
	plain   int    // bytes of body before compression
	records int    // envelopes per request
}

func run(o options) error {
	counts, err := parseCounts(o.clients)
	if err != nil {
		return err
	}
	if o.spans < o.batch || o.batch < 1 || o.rounds < 1 {
		return errors.New("want -spans >= -batch >= 1 and -rounds >= 1")
	}
	tmp, err := os.MkdirTemp("", "otlpload-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bins, err := binaries(o.aispool, tmp)
	if err != nil {
		return err
	}
	if o.profile != "" {
		if err := os.MkdirAll(o.profile, 0o755); err != nil {
			return err
		}
	}
	phases, err := makePhases(o)
	if err != nil {
		return err
	}
	up, err := benchkit.StartUpstream()
	if err != nil {
		return err
	}
	defer up.Close()
	fmt.Printf("otlpload: %d spans per run, %d per request, clients %s, %d round(s); %s %s/%s, %d CPUs; load average before: %s\n\n",
		o.spans, o.batch, o.clients, o.rounds, runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), benchkit.LoadAvg())
	for _, ph := range phases {
		if strings.Contains(","+o.phases+",", ","+ph.name+",") {
			fmt.Printf("%s: %d bytes per request body (%d envelopes, %.0f bytes each before compression)\n",
				ph.name, len(ph.body), ph.records, float64(ph.plain)/float64(ph.records))
		}
	}
	fmt.Println()
	fmt.Println("| round | aispool | phase | clients | body bytes / span | spans/s acknowledged (fsynced) | spans/s delivered upstream | daemon CPU s / 100k spans | daemon cores busy | daemon peak RSS (highest anonymous + file-backed sampled) | requests (non-200) |")
	fmt.Println("| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	var all []result
	for round := 1; round <= o.rounds; round++ {
		for _, ph := range phases {
			if !strings.Contains(","+o.phases+",", ","+ph.name+",") {
				continue
			}
			for _, c := range counts {
				// Alternate the binaries, and their order from round to
				// round, so that neither always runs first.
				order := slices.Clone(bins)
				if round%2 == 0 {
					slices.Reverse(order)
				}
				for _, b := range order {
					name := fmt.Sprintf("%s-%s-c%d-r%d", ph.name, b.name, c, round)
					r, err := measure(o, b, ph, c, filepath.Join(tmp, name), up, name)
					if err != nil {
						return fmt.Errorf("%s: %w", name, err)
					}
					r.round = round
					all = append(all, r)
					fmt.Printf("| %d | %s | %s | %d | %.0f | %.1fk | %.1fk | %.3f | %.2f | %.1f MiB (%.0f + %.0f) | %d (%d) |\n", round, b.name, ph.name, c,
						float64(len(ph.body))/float64(o.batch), r.ackedRate/1000, r.deliveredRate/1000, r.cpuPer100k(), r.cpu/r.wall.Seconds(),
						float64(r.hwm)/1024, float64(r.anon)/1024, float64(r.file)/1024, r.requests, r.refused)
				}
			}
		}
	}
	if o.rounds > 1 || len(bins) > 1 {
		summarize(all, bins)
	}
	fmt.Printf("\nload average after: %s\n", benchkit.LoadAvg())
	return nil
}

// parseCounts parses -clients.
func parseCounts(s string) ([]int, error) {
	var counts []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-clients %q: want positive counts, comma-separated", s)
		}
		counts = append(counts, n)
	}
	return counts, nil
}

// binaries parses -aispool, building ./cmd/aispool when it is empty.
func binaries(spec, tmp string) ([]aispoolBin, error) {
	if spec == "" {
		path := filepath.Join(tmp, "aispool")
		if err := benchkit.BuildAispool(path, os.Stderr); err != nil {
			return nil, fmt.Errorf("building aispool (run from the module's root, or give -aispool): %w", err)
		}
		return []aispoolBin{{"aispool", path}}, nil
	}
	if !strings.Contains(spec, "=") {
		return []aispoolBin{{"aispool", spec}}, nil
	}
	var bins []aispoolBin
	for f := range strings.SplitSeq(spec, ",") {
		name, path, ok := strings.Cut(f, "=")
		if !ok || name == "" || path == "" {
			return nil, fmt.Errorf("-aispool %q: want a path or name=path,name=path", spec)
		}
		bins = append(bins, aispoolBin{name, path})
	}
	return bins, nil
}

// summarize prints the medians and ranges of the runs, by phase, client
// count and binary, with the ratios of the medians to the first binary's.
func summarize(all []result, bins []aispoolBin) {
	type key struct {
		phase   string
		clients int
		bin     string
	}
	groups := map[key][]result{}
	var keys []key
	for _, r := range all {
		k := key{r.phase, r.clients, r.bin}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], r)
	}
	med := func(rs []result, f func(result) float64) (m, lo, hi float64) {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		m = v[len(v)/2]
		if len(v)%2 == 0 {
			m = (v[len(v)/2-1] + v[len(v)/2]) / 2
		}
		return m, v[0], v[len(v)-1]
	}
	rate := func(r result) float64 { return r.ackedRate / 1000 }
	cpu := func(r result) float64 { return r.cpuPer100k() }
	rss := func(r result) float64 { return float64(r.hwm) / 1024 }
	fmt.Println()
	fmt.Println("Medians (ranges) over the rounds; ratios are to the first binary's medians.")
	fmt.Println()
	fmt.Println("| phase | clients | aispool | runs | spans/s acknowledged | daemon CPU s / 100k | daemon peak RSS MiB | ratio spans/s | ratio CPU |")
	fmt.Println("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
	slices.SortStableFunc(keys, func(a, b key) int {
		if c := strings.Compare(a.phase, b.phase); c != 0 {
			return c
		}
		return a.clients - b.clients
	})
	for _, k := range keys {
		rs := groups[k]
		rm, rlo, rhi := med(rs, rate)
		cm, clo, chi := med(rs, cpu)
		mm, mlo, mhi := med(rs, rss)
		ref := groups[key{k.phase, k.clients, bins[0].name}]
		refRate, _, _ := med(ref, rate)
		refCPU, _, _ := med(ref, cpu)
		fmt.Printf("| %s | %d | %s | %d | %.1fk (%.1f–%.1f) | %.3f (%.3f–%.3f) | %.1f (%.1f–%.1f) | %.2f | %.2f |\n",
			k.phase, k.clients, k.bin, len(rs), rm, rlo, rhi, cm, clo, chi, mm, mlo, mhi, rm/refRate, cm/refCPU)
	}
}

// benchSpans makes n spans of the HTTP workload, with random trace and
// span ids (as real spans have: they are what compresses least).
func benchSpans(n int) ptrace.Traces {
	rng := rand.New(rand.NewPCG(1, 2))
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	ra := rs.Resource().Attributes()
	ra.PutStr("service.name", "checkout")
	ra.PutStr("service.instance.id", "bench-1")
	ra.PutStr("service.version", "1.4.2")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("github.com/aispool/aispool/benchmarks")
	now := time.Now()
	for i := range n {
		s := ss.Spans().AppendEmpty()
		var tid [16]byte
		var sid [8]byte
		binary.LittleEndian.PutUint64(tid[:], rng.Uint64())
		binary.LittleEndian.PutUint64(tid[8:], rng.Uint64())
		binary.LittleEndian.PutUint64(sid[:], rng.Uint64())
		s.SetTraceID(tid)
		s.SetSpanID(sid)
		s.SetName("GET /api/users/{id}")
		s.SetKind(ptrace.SpanKindServer)
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(now))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(3 * time.Millisecond)))
		a := s.Attributes()
		a.PutStr("http.request.method", "GET")
		a.PutStr("http.route", "/api/users/{id}")
		a.PutStr("url.scheme", "https")
		a.PutStr("server.address", "api.example.com")
		a.PutStr("url.path", "/api/users/"+strconv.Itoa(i))
		a.PutInt("http.response.status_code", 200)
		a.PutStr("client.address", "203.0.113.7")
		a.PutStr("app.tenant", "contoso")
	}
	return td
}

func makePhases(o options) ([]phase, error) {
	td := benchSpans(o.batch)
	proto, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		return nil, err
	}
	conv, err := envelope.NewConverter(envelope.Config{InstrumentationKey: ikey})
	if err != nil {
		return nil, err
	}
	var buf envelope.Buffer
	if _, err := otlpconv.New(conv).AppendTraces(&buf, td, nil); err != nil {
		return nil, err
	}
	return []phase{
		{name: "otlp-proto", path: "/v1/traces", ctype: "application/x-protobuf", body: proto, plain: len(proto), records: o.batch},
		{name: "otlp-proto-gzip", path: "/v1/traces", ctype: "application/x-protobuf", gzip: true, body: gz(proto), plain: len(proto), records: o.batch},
		{name: "breeze", path: "/v2.1/track", ctype: "application/x-json-stream", gzip: true, body: gz(buf.Bytes()), plain: len(buf.Bytes()), records: buf.Len()},
	}, nil
}

func gz(b []byte) []byte {
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return out.Bytes()
}

type result struct {
	phase, bin               string
	clients, round           int
	spans                    int
	wall                     time.Duration
	ackedRate, deliveredRate float64
	cpu                      float64 // daemon seconds
	hwm                      int64   // KiB
	anon, file               int64   // KiB: the highest RssAnon and RssFile sampled
	requests, refused        int
}

func (r result) cpuPer100k() float64 { return r.cpu / float64(r.spans) * 100000 }

func measure(o options, bin aispoolBin, ph phase, clients int, dir string, up *benchkit.Upstream, name string) (result, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	d, err := startDaemon(o, bin.path, dir, up.URL)
	if err != nil {
		return result{}, err
	}
	defer d.Stop()
	up.ResetItems()
	requests := o.spans / o.batch
	want := int64(requests * ph.records)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}, Timeout: time.Minute}
	defer client.CloseIdleConnections()
	var next, refused atomic.Int64
	profDone := make(chan error, 1)
	if o.profile != "" {
		go func() {
			err := fetchProfile(d.admin+fmt.Sprintf("/debug/pprof/profile?seconds=%d", o.profSecs),
				filepath.Join(o.profile, name+".cpu.pprof"))
			if err == nil { // the heap in use then, while the load lasts
				err = fetchProfile(d.admin+"/debug/pprof/heap", filepath.Join(o.profile, name+".heap.pprof"))
			}
			profDone <- err
		}()
	}
	// Sample the daemon's resident memory by kind: anonymous (the Go
	// heap) and file-backed (the spool's mapped segments).
	stopSampling := make(chan struct{})
	sampled := make(chan [2]int64, 1)
	go func() {
		var peak [2]int64
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			a, f := rss(d.Pid())
			peak[0], peak[1] = max(peak[0], a), max(peak[1], f)
			select {
			case <-tick.C:
			case <-stopSampling:
				sampled <- peak
				return
			}
		}
	}()
	cpu0 := cpuSeconds(d.Pid())
	start := time.Now()
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(requests) {
				for {
					status, err := post(client, d.base[ph.path]+ph.path, ph)
					if err != nil {
						firstErr.CompareAndSwap(nil, err)
						return
					}
					if status == http.StatusOK {
						break
					}
					refused.Add(1) // 429/503: the client sends it again, as OTLP clients do
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return result{}, err
	}
	acked := time.Since(start)
	deadline := time.Now().Add(5 * time.Minute)
	for up.Items() < want {
		if time.Now().After(deadline) {
			return result{}, fmt.Errorf("upstream got %d of %d envelopes", up.Items(), want)
		}
		time.Sleep(2 * time.Millisecond)
	}
	delivered := time.Since(start)
	cpu := cpuSeconds(d.Pid()) - cpu0
	if o.profile != "" {
		if err := <-profDone; err != nil {
			return result{}, err
		}
		if err := fetchProfile(d.admin+"/debug/pprof/allocs", filepath.Join(o.profile, name+".allocs.pprof")); err != nil {
			return result{}, err
		}
	}
	close(stopSampling)
	peak := <-sampled
	spans := requests * o.batch
	return result{anon: peak[0], file: peak[1], phase: ph.name, bin: bin.name, clients: clients, spans: spans, wall: delivered, ackedRate: float64(spans) / acked.Seconds(),
		deliveredRate: float64(spans) / delivered.Seconds(), cpu: cpu, hwm: hwm(d.Pid()),
		requests: requests + int(refused.Load()), refused: int(refused.Load())}, nil
}

// fetchProfile saves a profile from the daemon's admin endpoint.
func fetchProfile(url, path string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: answer %d (does this aispool have --admin-pprof?)", url, resp.StatusCode)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func post(client *http.Client, url string, ph phase) (int, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(ph.body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", ph.ctype)
	if ph.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK, http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return resp.StatusCode, nil
	}
	return 0, fmt.Errorf("%s: answer %d", url, resp.StatusCode)
}

// daemon is "aispool run" as a child process, with the addresses it
// listens on.
type daemon struct {
	*benchkit.Daemon
	base  map[string]string // base URL by path
	admin string            // admin endpoint's base URL, with -profile
}

func startDaemon(o options, path, dir, upURL string) (*daemon, error) {
	cs := "InstrumentationKey=" + ikey + ";IngestionEndpoint=" + upURL
	args := []string{"run", "--spool-dir", filepath.Join(dir, "spool"), "--connection-string", cs,
		"--listen", "127.0.0.1:0", "--otlp-http-listen", "127.0.0.1:0", "--otlp-grpc-listen", "",
		"--log-format", "json"}
	if o.profile != "" {
		args = append(args, "--admin-listen", "127.0.0.1:0", "--admin-pprof")
	} else {
		args = append(args, "--admin-listen", "")
	}
	args = append(args, strings.Fields(o.runArgs)...)
	d, ready, err := benchkit.StartDaemon(path, args)
	if err != nil {
		return nil, err
	}
	var rec struct {
		Listen   string `json:"listen"`
		OTLPHTTP string `json:"otlp_http"`
		Admin    string `json:"admin"`
	}
	if err := json.Unmarshal(ready, &rec); err != nil {
		d.Stop()
		return nil, err
	}
	return &daemon{Daemon: d, base: map[string]string{"/v1/traces": rec.OTLPHTTP, "/v2.1/track": rec.Listen}, admin: rec.Admin}, nil
}

// cpuSeconds returns the user and system CPU time of a process.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces) start at ") ".
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100 // USER_HZ
}

// rss returns a process's resident anonymous and file-backed memory
// (RssAnon, RssFile), in KiB.
func rss(pid int) (anon, file int64) {
	v := benchkit.ProcStatusKiB(pid, "RssAnon", "RssFile")
	return v[0], v[1]
}

// hwm returns a process's peak RSS (VmHWM), in KiB.
func hwm(pid int) int64 { return benchkit.ProcStatusKiB(pid, "VmHWM")[0] }
