package exporter

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/aispool/aispool/spool"
)

// referenceDJB2 is the Python exporter's algorithm written out plainly:
// DJB2 over the lower-case hex string in 64-bit arithmetic, wrapped to a
// signed 32-bit integer after each step; |hash| / MaxInt32.
func referenceDJB2(hex string) float64 {
	h := int64(5381)
	for _, c := range hex {
		h = (h << 5) + h + int64(c)
		h = int64(int32(uint32(h)))
	}
	if h == math.MinInt32 {
		h = math.MaxInt32
	}
	return math.Abs(float64(h)) / math.MaxInt32
}

func traceID(r *rand.Rand) trace.TraceID {
	var id trace.TraceID
	binary.BigEndian.PutUint64(id[:8], r.Uint64())
	binary.BigEndian.PutUint64(id[8:], r.Uint64())
	return id
}

func TestDJB2ScoreMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ids := []trace.TraceID{{}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	for range 1000 {
		ids = append(ids, traceID(r))
	}
	for _, id := range ids {
		got, want := djb2Score(id), referenceDJB2(fmt.Sprintf("%032x", id[:]))
		if got != want || got < 0 || got > 1 {
			t.Fatalf("trace %x: score %v, reference %v", id[:], got, want)
		}
	}
}

func TestSamplerDecisions(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const n = 20000
	ids := make([]trace.TraceID, n)
	for i := range ids {
		ids[i] = traceID(r)
	}
	for _, tc := range []struct {
		ratio, want float64 // want: the recorded percentage
	}{{0, 0}, {0.1, 10}, {0.25, 25}, {0.5, 50}, {1, 100}, {-3, 0}, {7, 100}} {
		t.Run(fmt.Sprint(tc.ratio), func(t *testing.T) {
			s := NewSampler(tc.ratio)
			kept := 0
			for _, id := range ids {
				res := s.ShouldSample(sdktrace.SamplingParameters{ParentContext: context.Background(), TraceID: id, Name: "x"})
				again := s.ShouldSample(sdktrace.SamplingParameters{ParentContext: context.Background(), TraceID: id, Name: "child"})
				if res.Decision != again.Decision {
					t.Fatalf("trace %x: decisions differ within a trace", id[:])
				}
				if res.Decision != sdktrace.RecordAndSample {
					if len(res.Attributes) != 0 {
						t.Fatalf("a dropped span carries attributes %v", res.Attributes)
					}
					continue
				}
				kept++
				if len(res.Attributes) != 1 || string(res.Attributes[0].Key) != SampleRateKey || res.Attributes[0].Value.AsFloat64() != tc.want {
					t.Fatalf("attributes %v, want %s=%v", res.Attributes, SampleRateKey, tc.want)
				}
			}
			if frac := float64(kept) / n; math.Abs(frac-tc.want/100) > 0.015 {
				t.Fatalf("kept %.3f of the traces, want about %.3f", frac, tc.want/100)
			}
		})
	}
}

func TestSamplerKeepsParentTraceState(t *testing.T) {
	ts, err := trace.ParseTraceState("vendor=x")
	if err != nil {
		t.Fatal(err)
	}
	parent := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, TraceState: ts, TraceFlags: trace.FlagsSampled,
	}))
	res := NewSampler(1).ShouldSample(sdktrace.SamplingParameters{ParentContext: parent, TraceID: trace.TraceID{1}})
	if res.Tracestate.String() != "vendor=x" {
		t.Fatalf("tracestate %q", res.Tracestate.String())
	}
}

// The recorded percentage reaches the envelope's sampleRate.
func TestSamplerRateReachesEnvelope(t *testing.T) {
	e := newTestExporter(t)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(NewSampler(0.25)), sdktrace.WithBatcher(e))
	kept := 0
	for range 200 {
		_, span := tp.Tracer("test").Start(context.Background(), "op", trace.WithSpanKind(trace.SpanKindServer))
		if span.SpanContext().IsSampled() {
			kept++
		}
		span.End()
	}
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	s, err := spool.Open(context.Background(), e.Spool().Dir(), &spool.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var rates []string
	for _, env := range readBack(t, s) {
		if props, _ := env.Data.BaseData["properties"].(map[string]any); props != nil {
			if _, leaked := props[SampleRateKey]; leaked {
				t.Fatalf("the rate leaked into properties: %+v", env)
			}
		}
		rates = append(rates, fmt.Sprint(env.SampleRate))
	}
	if kept == 0 || kept == 200 || len(rates) != kept {
		t.Fatalf("%d spans kept of 200, %d envelopes", kept, len(rates))
	}
	if got := strings.Join(rates, ","); strings.Trim(got, "25,") != "" {
		t.Fatalf("sampleRates %s, want 25 each", got)
	}
}
