package main

import (
	"bytes"
	stdgzip "compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"
	bolt "go.etcd.io/bbolt"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/aispool/aispool/benchmarks/internal/benchkit"
	"github.com/aispool/aispool/exporter/envelope"
	"github.com/aispool/aispool/sender"
)

// The limits of the machine, measured in the same run as aispool. Each is a
// few lines of plain code on the same data (the HTTP workload's spans and
// envelopes), so that the report can print aispool's figures as ratios to
// them instead of absolute numbers on a noisy machine. The SDK baseline
// runs in a child process like the scenarios (see runSDKBaseline); the
// others run here in the parent, which is otherwise idle.

// minBaselineTime is how long each in-process loop runs at least, so that
// tiny runs still measure something.
const minBaselineTime = 200 * time.Millisecond

// bodyEnvelopes is the envelopes per request body: the sender's default
// MaxBatchItems.
const bodyEnvelopes = 5000

// gzipFigure is one compressor on the request bodies.
type gzipFigure struct {
	Name          string
	NsPerEnvelope float64
	MBps          float64 // uncompressed MB/s
	Ratio         float64 // uncompressed / compressed
}

// httpFigure is the loopback HTTP ceiling: pre-gzip'd bodies posted by a
// plain net/http client to the endpoint process.
type httpFigure struct {
	Envelopes          int64
	Rate               float64 // envelopes/s
	ClientCPUPer100k   float64
	EndpointCPUPer100k float64
	WirePerEnvelope    float64
}

// baselineFigures are the in-process baselines.
type baselineFigures struct {
	Envelopes         int     // distinct envelopes (cycled by the loops)
	MeanEnvelopeBytes float64 // bytes per envelope record, newline included
	ConvertNs         float64 // aispool's converter, ns per span (not a baseline: the figure compared with JSON)
	JSONNs            float64 // encoding/json of the decoded envelope, ns per envelope
	JSONBytes         float64
	BoltItems         int
	BoltRate          float64 // items/s
	BoltCPUPer100k    float64
	BoltP50Ms         float64 // per synced transaction
	BoltP99Ms         float64
	Gzip              []gzipFigure
	HTTP              httpFigure
	// Ship: the sender's gzip and the loopback HTTP ceiling again, on the
	// ship runs' envelopes and endpoint, if they differ from the above
	// (-ship-envelope-bytes, -ship-discard); nil otherwise.
	Ship *shipBaseline
}

// shipBaseline is the baselines of the ship runs' own envelopes and
// endpoint.
type shipBaseline struct {
	MeanEnvelopeBytes float64
	Pad               int  // bytes of the detail attribute
	Discard           bool // the endpoint discards bodies
	Gzip              gzipFigure
	HTTP              httpFigure
}

// makeEnvelopes runs n units of the HTTP workload (padded by pad, see
// generate) through the SDK into a recorder and converts the spans with
// aispool's converter.
func makeEnvelopes(n, pad int) ([]sdktrace.ReadOnlySpan, [][]byte, *envelope.Converter, error) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(benchResource()), sdktrace.WithSpanProcessor(rec))
	if err := generate(context.Background(), tp, workloadHTTP, n, 1, pad); err != nil {
		return nil, nil, nil, err
	}
	_ = tp.Shutdown(context.Background())
	spans := rec.Ended()
	recs, conv, err := convertSpans(spans)
	return spans, recs, conv, err
}

// convertSpans converts spans with aispool's converter, one record (newline
// included) per span.
func convertSpans(spans []sdktrace.ReadOnlySpan) ([][]byte, *envelope.Converter, error) {
	conv, err := envelope.NewConverter(envelope.Config{InstrumentationKey: benchIKey})
	if err != nil {
		return nil, nil, err
	}
	var buf envelope.Buffer
	if got, skipped := conv.AppendSpans(&buf, spans); got != len(spans) || skipped != 0 {
		return nil, nil, fmt.Errorf("converter made %d envelopes of %d spans (%d skipped)", got, len(spans), skipped)
	}
	recs := make([][]byte, buf.Len())
	for i := range recs {
		recs[i] = bytes.Clone(buf.Record(i))
	}
	return recs, conv, nil
}

// padFor returns the length of the detail attribute (see httpUnit) that
// makes the HTTP workload's envelopes about envelopeBytes long, newline
// included: 0 (no attribute) if envelopeBytes is 0 or no longer than an
// unpadded envelope. It converts 1000 units numbered from 100000, whose
// numbers have as many digits as most of a run of a million.
func padFor(envelopeBytes int) (int, error) {
	if envelopeBytes <= 0 {
		return 0, nil
	}
	mean := func(pad int) (float64, error) {
		rec := tracetest.NewSpanRecorder()
		tp := sdktrace.NewTracerProvider(sdktrace.WithResource(benchResource()), sdktrace.WithSpanProcessor(rec))
		tr := tp.Tracer("github.com/aispool/aispool/benchmarks")
		var attrs [9]attribute.KeyValue
		var text []byte
		const first, n = 100_000, 1000
		for i := first; i < first+n; i++ {
			text = httpUnit(context.Background(), tr, i, &attrs, pad, text)
		}
		_ = tp.Shutdown(context.Background())
		recs, _, err := convertSpans(rec.Ended())
		if err != nil {
			return 0, err
		}
		total := 0
		for _, r := range recs {
			total += len(r)
		}
		return float64(total) / float64(len(recs)), nil
	}
	bare, err := mean(0)
	if err != nil || float64(envelopeBytes) <= bare {
		return 0, err
	}
	const probe = 100
	padded, err := mean(probe)
	if err != nil {
		return 0, err
	}
	// The envelope grows by one byte per byte of the attribute's value
	// (plain ASCII words, nothing to escape).
	return max(1, int(float64(envelopeBytes)-(padded-probe)+0.5)), nil
}

// loopFor calls f(i) for i = 0, 1, ... until at least n calls and
// minBaselineTime have passed; it returns the calls and the elapsed time.
func loopFor(n int, f func(i int)) (int, time.Duration) {
	t0 := time.Now()
	i := 0
	for ; i < n || time.Since(t0) < minBaselineTime; i++ {
		f(i)
	}
	return i, time.Since(t0)
}

// runBaselines measures the in-process baselines on about n envelopes.
func (h *harness) runBaselines(ctx context.Context, n int) (*baselineFigures, error) {
	const distinct = 20000
	spans, recs, conv, err := makeEnvelopes(min(max(n, 1000), distinct), 0)
	if err != nil {
		return nil, err
	}
	b := &baselineFigures{Envelopes: len(recs)}
	var total int
	for _, r := range recs {
		total += len(r)
	}
	b.MeanEnvelopeBytes = float64(total) / float64(len(recs))

	// aispool's converter on the same spans, for the JSON ratio.
	h.logf("baseline: converter and encoding/json")
	var buf envelope.Buffer
	const chunk = 512
	convSpans := 0
	_, d := loopFor((n+chunk-1)/chunk, func(i int) {
		lo := (i * chunk) % len(spans)
		hi := min(lo+chunk, len(spans))
		buf.Reset()
		conv.AppendSpans(&buf, spans[lo:hi])
		convSpans += hi - lo
	})
	b.ConvertNs = float64(d.Nanoseconds()) / float64(convSpans)

	// encoding/json of the same envelopes, decoded into the model structs.
	envs := make([]*envelope.Envelope, len(recs))
	for i, r := range recs {
		envs[i] = new(envelope.Envelope)
		if err := json.Unmarshal(r, envs[i]); err != nil {
			return nil, fmt.Errorf("decoding envelope %d: %w", i, err)
		}
	}
	var jsonBytes int
	calls, d := loopFor(n, func(i int) {
		out, _ := json.Marshal(envs[i%len(envs)])
		jsonBytes += len(out)
	})
	b.JSONNs = float64(d.Nanoseconds()) / float64(calls)
	b.JSONBytes = float64(jsonBytes) / float64(calls)

	h.logf("baseline: raw bbolt, 1000 puts per synced transaction")
	if err := h.boltBaseline(b, recs, n); err != nil {
		return nil, err
	}

	h.logf("baseline: gzip")
	bodies := makeBodies(recs)
	b.Gzip = gzipBaselines(bodies, n, false)

	h.logf("baseline: loopback HTTP ceiling")
	if b.HTTP, err = h.httpBaseline(ctx, bodies, n, false); err != nil {
		return nil, err
	}

	if h.pad > 0 || h.o.shipDiscard {
		h.logf("baseline: gzip and loopback HTTP on the ship's envelopes and endpoint")
		sb := &shipBaseline{Pad: h.pad, Discard: h.o.shipDiscard, MeanEnvelopeBytes: b.MeanEnvelopeBytes}
		shipBodies := bodies
		if h.pad > 0 {
			_, padded, _, err := makeEnvelopes(len(recs), h.pad)
			if err != nil {
				return nil, err
			}
			total := 0
			for _, r := range padded {
				total += len(r)
			}
			sb.MeanEnvelopeBytes = float64(total) / float64(len(padded))
			shipBodies = makeBodies(padded)
		}
		sb.Gzip = gzipBaselines(shipBodies, n, true)[0]
		if sb.HTTP, err = h.httpBaseline(ctx, shipBodies, n, h.o.shipDiscard); err != nil {
			return nil, err
		}
		b.Ship = sb
	}
	return b, nil
}

// boltBaseline: 1000 puts of the envelopes (about 1 KiB each) per synced
// bbolt transaction, sequential keys, default options; n puts at least, and
// minBaselineTime.
func (h *harness) boltBaseline(b *baselineFigures, recs [][]byte, n int) error {
	path := filepath.Join(h.work, "baseline.bolt")
	defer os.Remove(path)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return err
	}
	defer db.Close()
	txs := (n + 999) / 1000
	seq := uint64(0)
	var lat []time.Duration
	c0, t0 := benchkit.SelfCPU(), time.Now()
	for i := 0; i < txs || time.Since(t0) < minBaselineTime; i++ {
		t1 := time.Now()
		err := db.Update(func(tx *bolt.Tx) error {
			bk, err := tx.CreateBucketIfNotExists([]byte("records"))
			if err != nil {
				return err
			}
			for range 1000 {
				k := binary.BigEndian.AppendUint64(nil, seq)
				if err := bk.Put(k, recs[seq%uint64(len(recs))]); err != nil {
					return err
				}
				seq++
			}
			return nil
		})
		if err != nil {
			return err
		}
		lat = append(lat, time.Since(t1))
	}
	d, cpu := time.Since(t0), benchkit.SelfCPU()-c0
	slices.Sort(lat)
	b.BoltP50Ms, b.BoltP99Ms = ms(percentile(lat, 0.50)), ms(percentile(lat, 0.99))
	b.BoltItems = int(seq)
	b.BoltRate = float64(seq) / d.Seconds()
	b.BoltCPUPer100k = cpu.Seconds() * 1e5 / float64(seq)
	return nil
}

// body is one uncompressed request body and its envelope count.
type body struct {
	data  []byte
	items int
}

// makeBodies concatenates the envelopes into newline-delimited bodies of
// bodyEnvelopes each, as the sender does.
func makeBodies(recs [][]byte) []body {
	var out []body
	for lo := 0; lo < len(recs); lo += bodyEnvelopes {
		hi := min(lo+bodyEnvelopes, len(recs))
		out = append(out, body{data: bytes.Join(recs[lo:hi], nil), items: hi - lo})
	}
	return out
}

// gzipBaselines compresses the bodies with klauspost/compress at the
// sender's default level, and unless senderOnly with the standard library
// at level 1 and at its default level.
func gzipBaselines(bodies []body, n int, senderOnly bool) []gzipFigure {
	type compressor struct {
		name string
		w    interface {
			io.Writer
			Reset(io.Writer)
			Close() error
		}
	}
	var sink bytes.Buffer
	kw, _ := gzip.NewWriterLevel(&sink, sender.DefaultCompressionLevel)
	sw1, _ := stdgzip.NewWriterLevel(&sink, stdgzip.BestSpeed)
	sw6, _ := stdgzip.NewWriterLevel(&sink, stdgzip.DefaultCompression)
	var out []gzipFigure
	cs := []compressor{{fmt.Sprintf("klauspost/compress gzip, level %d (the sender's)", sender.DefaultCompressionLevel), kw}, {"compress/gzip (stdlib), level 1", sw1}, {"compress/gzip (stdlib), default level 6", sw6}}
	if senderOnly {
		cs = cs[:1]
	}
	for _, c := range cs {
		var in, zipped, items int
		_, d := loopFor((n+bodyEnvelopes-1)/bodyEnvelopes, func(i int) {
			bd := bodies[i%len(bodies)]
			sink.Reset()
			c.w.Reset(&sink)
			_, _ = c.w.Write(bd.data)
			_ = c.w.Close()
			in += len(bd.data)
			zipped += sink.Len()
			items += bd.items
		})
		out = append(out, gzipFigure{
			Name:          c.name,
			NsPerEnvelope: float64(d.Nanoseconds()) / float64(items),
			MBps:          float64(in) / d.Seconds() / 1e6,
			Ratio:         float64(in) / float64(zipped),
		})
	}
	return out
}

// httpBaseline posts pre-gzip'd bodies (klauspost, the sender's level) from two
// goroutines with a plain net/http client to an endpoint process (a
// discarding one if discard), until n envelopes are counted: the most a
// sender could ship over loopback to this endpoint, with no spool and no
// compression on the way. It runs for minBaselineTime at least.
func (h *harness) httpBaseline(ctx context.Context, bodies []body, n int, discard bool) (httpFigure, error) {
	zipped := make([][]byte, len(bodies))
	for i, bd := range bodies {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, sender.DefaultCompressionLevel)
		_, _ = zw.Write(bd.data)
		_ = zw.Close()
		zipped[i] = buf.Bytes()
	}
	ep, err := h.startEndpoint(ctx, false, discard)
	if err != nil {
		return httpFigure{}, err
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}, Timeout: time.Minute}
	defer client.CloseIdleConnections()
	var next, sent, posts atomic.Int64
	var wg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	c0, t0 := benchkit.SelfCPU(), time.Now()
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && (sent.Load() < int64(n) || time.Since(t0) < minBaselineTime) {
				i := int(next.Add(1)-1) % len(bodies)
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ep.url+"/v2.1/track", bytes.NewReader(zipped[i]))
				req.Header.Set("Content-Type", "application/x-json-stream")
				req.Header.Set("Content-Encoding", "gzip")
				resp, err := client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("endpoint answered %s", resp.Status)
					}
				}
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				sent.Add(int64(bodies[i].items))
				posts.Add(1)
			}
		}()
	}
	wg.Wait()
	d, cpu := time.Since(t0), benchkit.SelfCPU()-c0
	st, stErr := ep.stats(ctx)
	eu, _ := ep.stop()
	if firstErr != nil {
		return httpFigure{}, fmt.Errorf("http baseline: %w", firstErr)
	}
	if stErr != nil {
		return httpFigure{}, fmt.Errorf("http baseline: endpoint stats: %w", stErr)
	}
	items := st.Items
	if discard {
		// The endpoint cannot count items: it must have accepted every post.
		if st.Requests != posts.Load() {
			return httpFigure{}, fmt.Errorf("http baseline: endpoint accepted %d requests, %d posted", st.Requests, posts.Load())
		}
		items = sent.Load()
	}
	if items != sent.Load() {
		return httpFigure{}, fmt.Errorf("http baseline: endpoint counted %d envelopes, %d sent", st.Items, sent.Load())
	}
	return httpFigure{
		Envelopes:          items,
		Rate:               float64(items) / d.Seconds(),
		ClientCPUPer100k:   cpu.Seconds() * 1e5 / float64(items),
		EndpointCPUPer100k: eu.CPU.Seconds() * 1e5 / float64(items),
		WirePerEnvelope:    float64(st.BodyBytes) / float64(items),
	}, nil
}
