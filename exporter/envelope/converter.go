package envelope

import (
	"fmt"
	"sync/atomic"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Converter turns spans into encoded envelopes.
//
// A Converter keeps scratch space between calls so that converting a span
// allocates nothing beyond the output buffer's growth. Hence AppendSpan and
// AppendSpans must be called from one goroutine at a time (an exporter's
// ExportSpans, which the SDK already serialises, or under a mutex); Stats
// may be called concurrently from any goroutine.
type Converter struct {
	cfg        Config
	ikey       []byte // `,"iKey":"…"`
	sdkVersion string

	// resources caches the encoded resource tags per resource.
	resources map[resourceKey][]byte

	// Scratch space, reused for every span.
	attrs   spanAttrs
	keep    []bool // per span attribute: copied into properties
	span    spanItem
	item    item
	scratch []byte
	trim    trimState
	times   timeCache
	opName  [2]int        // where appendEnvelope wrote the ai.operation.name tag's string, when it did
	sig     signalScratch // log records and metric points

	converted atomic.Uint64
	envelopes atomic.Uint64
	trimmed   atomic.Uint64
	skipped   [numSkipReasons]atomic.Uint64
}

// SkipReason says why a span or an envelope was not emitted.
type SkipReason int

// Skip reasons, as counted in Stats.Skipped.
const (
	// SkipInvalidSpan: a nil span, or one without valid trace and span ids.
	SkipInvalidSpan SkipReason = iota
	// SkipTooLarge: an envelope still over MaxEnvelopeBytes after trimming.
	SkipTooLarge
	// SkipInternal: conversion hit an unexpected failure (a bug).
	SkipInternal
	// SkipInvalidPoint: a metric data point whose value JSON cannot carry
	// (NaN or infinite) or whose count exceeds the schema's int32.
	SkipInvalidPoint
	numSkipReasons
)

// String returns a short label, suitable as a metric label value.
func (r SkipReason) String() string {
	switch r {
	case SkipInvalidSpan:
		return "invalid_span"
	case SkipTooLarge:
		return "too_large"
	case SkipInternal:
		return "internal_error"
	case SkipInvalidPoint:
		return "invalid_point"
	}
	return "unknown"
}

// Stats are cumulative counters of a Converter.
type Stats struct {
	// Converted counts spans that produced their main envelope.
	Converted uint64
	// Envelopes counts records emitted (requests, dependencies, exceptions
	// and messages).
	Envelopes uint64
	// Trimmed counts envelopes that were over MaxEnvelopeBytes and were
	// emitted after dropping their largest properties (or, failing that,
	// shortening their long text fields).
	Trimmed uint64
	// Skipped counts items not emitted, by reason: whole spans for
	// SkipInvalidSpan and SkipInternal, single envelopes for SkipTooLarge.
	Skipped map[SkipReason]uint64
}

// Stats returns a snapshot of the counters. It is safe to call
// concurrently with conversion.
func (c *Converter) Stats() Stats {
	s := Stats{
		Converted: c.converted.Load(),
		Envelopes: c.envelopes.Load(),
		Trimmed:   c.trimmed.Load(),
		Skipped:   make(map[SkipReason]uint64, numSkipReasons),
	}
	for r := SkipReason(0); r < numSkipReasons; r++ {
		s.Skipped[r] = c.skipped[r].Load()
	}
	return s
}

// AppendSpans converts spans into buf, skipping (and counting) those that
// cannot be converted; it never stops early. It returns the number of
// records appended and the number of spans or envelopes skipped.
func (c *Converter) AppendSpans(buf *Buffer, spans []sdktrace.ReadOnlySpan) (records, skipped int) {
	for _, s := range spans {
		n, err := c.AppendSpan(buf, s)
		records += n
		if err != nil {
			skipped++
		}
	}
	return records, skipped
}

// AppendSpan converts one span (an sdktrace.ReadOnlySpan, or any other
// [Span]) into buf: one RequestData (server and
// consumer spans) or RemoteDependencyData (other kinds) envelope, followed
// by one ExceptionData per "exception" event and one MessageData per other
// event. It returns the number of records appended.
//
// On error the span, or the one envelope that failed, is counted in Stats
// and left out; n still counts the records that were appended, and buf
// holds no partial record. Errors wrap ErrInvalidSpan, ErrTooLarge or
// ErrConversion.
func (c *Converter) AppendSpan(buf *Buffer, span Span) (n int, err error) {
	mark, records := len(buf.data), len(buf.ends)
	defer func() {
		if r := recover(); r != nil {
			buf.truncate(mark, records)
			c.skipped[SkipInternal].Add(1)
			n, err = 0, fmt.Errorf("%w: %v", ErrConversion, r)
		}
	}()
	if span == nil {
		c.skipped[SkipInvalidSpan].Add(1)
		return 0, fmt.Errorf("%w: nil span", ErrInvalidSpan)
	}
	sc := span.SpanContext()
	if !sc.TraceID().IsValid() || !sc.SpanID().IsValid() {
		c.skipped[SkipInvalidSpan].Add(1)
		return 0, fmt.Errorf("%w: invalid trace or span id", ErrInvalidSpan)
	}

	c.loadSpan(span, &sc)
	var tooLarge int
	if c.emit(buf, &c.span.item) {
		n++
		c.converted.Add(1)
	} else {
		tooLarge++
	}
	events := span.Events()
	for i := range events {
		if !c.loadEvent(&events[i]) {
			continue
		}
		if c.emit(buf, &c.item) {
			n++
		} else {
			tooLarge++
		}
	}
	c.envelopes.Add(uint64(n))
	if tooLarge > 0 {
		c.skipped[SkipTooLarge].Add(uint64(tooLarge))
		return n, fmt.Errorf("%w: %d envelope(s) of span %s dropped", ErrTooLarge, tooLarge, span.SpanContext().SpanID())
	}
	return n, nil
}

// emit encodes it as one record in buf, trimming it when it is too large.
// It reports false, leaving buf unchanged, when the envelope cannot be made
// small enough.
func (c *Converter) emit(buf *Buffer, it *item) bool {
	mark := len(buf.data)
	buf.data = append(buf.data, make([]byte, buf.head)...)
	start := len(buf.data)
	c.trim.reset()
	buf.data = c.appendEnvelope(buf.data, it)
	if len(buf.data)-start > MaxEnvelopeBytes {
		var ok bool
		buf.data, ok = c.shrink(buf.data, start, it)
		if !ok {
			buf.data = buf.data[:mark]
			return false
		}
		c.trimmed.Add(1)
	}
	buf.data = append(buf.data, '\n')
	buf.ends = append(buf.ends, len(buf.data))
	return true
}
