package exporter

import (
	"fmt"
	"math"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// SampleRateKey is the span attribute the Sampler records its percentage
// in, and that the converter reads into the envelope's sampleRate (the
// JavaScript and Java exporters' key).
const SampleRateKey = "microsoft.sample_rate"

// Sampler is the Application Insights sampler: it keeps a trace with the
// configured probability, decided from its trace id with the DJB2 hash the
// classic Application Insights SDKs and the Python exporter use, so that
// every span of a trace (and every service using such a sampler at the same
// rate) makes the same decision; and it records the percentage in the span
// attribute SampleRateKey, so that the envelope's sampleRate tells the
// backend to count each kept item as 100/sampleRate items.
//
// The OpenTelemetry SDK's TraceIDRatioBased sampler records nothing on the
// span, so with it the exporter cannot know the probability and sends
// sampleRate 100: counts then under-report. Use this sampler instead.
type Sampler struct {
	ratio float64
	desc  string
	// recordDropped: RecordOnly instead of Drop (NewRecordingSampler).
	recordDropped bool
}

var _ sdktrace.Sampler = Sampler{}

// NewSampler returns a Sampler keeping the fraction ratio of traces (0 to
// 1; values outside are clamped).
func NewSampler(ratio float64) Sampler {
	if math.IsNaN(ratio) || ratio < 0 {
		ratio = 0
	}
	ratio = min(ratio, 1)
	return Sampler{ratio: ratio, desc: fmt.Sprintf("ApplicationInsightsSampler{%g}", ratio)}
}

// ShouldSample implements sdktrace.Sampler.
func (s Sampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	ts := trace.SpanContextFromContext(p.ParentContext).TraceState()
	decision := sdktrace.Drop
	switch {
	case s.ratio >= 1:
		decision = sdktrace.RecordAndSample
	case s.ratio > 0 && djb2Score(p.TraceID) < s.ratio:
		decision = sdktrace.RecordAndSample
	}
	if decision == sdktrace.Drop {
		if s.recordDropped {
			decision = sdktrace.RecordOnly
		}
		return sdktrace.SamplingResult{Decision: decision, Tracestate: ts}
	}
	return sdktrace.SamplingResult{
		Decision:   decision,
		Attributes: []attribute.KeyValue{attribute.Float64(SampleRateKey, s.ratio*100)},
		Tracestate: ts,
	}
}

// Description implements sdktrace.Sampler.
func (s Sampler) Description() string { return s.desc }

// djb2Score hashes the trace id's lower-case hex form with DJB2 in 32-bit
// arithmetic (seed 5381, wrapping) and maps it to [0, 1]: |hash| / MaxInt32.
func djb2Score(id trace.TraceID) float64 {
	const hexDigits = "0123456789abcdef"
	h := int32(5381)
	for _, b := range id {
		for _, c := range [2]byte{hexDigits[b>>4], hexDigits[b&0x0f]} {
			h = (h << 5) + h + int32(c)
		}
	}
	if h == math.MinInt32 {
		h = math.MaxInt32
	} else if h < 0 {
		h = -h
	}
	return float64(h) / math.MaxInt32
}
