package otlpconv

import (
	"errors"
	"fmt"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/aispool/aispool/exporter/envelope"
)

// Converter converts decoded OTLP requests into envelopes. It is used by
// one goroutine at a time.
type Converter struct {
	conv *envelope.Converter

	span   spanAdapter
	log    logAdapter
	points []envelope.MetricPoint
	ends   []int                // end of each point's attributes in kvs
	kvs    []attribute.KeyValue // attributes of the points of one resource
	index  map[string]int       // appendAttrs' scratch for long lists
	res    []attribute.KeyValue // attributes of the resource being read
}

// New returns a Converter that converts with conv (whose configuration
// gives the instrumentation key and the mapping options). conv must not be
// used elsewhere at the same time.
func New(conv *envelope.Converter) *Converter {
	c := &Converter{conv: conv, index: make(map[string]int)}
	c.span.index = c.index
	c.log.index = c.index
	return c
}

// Envelope returns the envelope converter, for its Stats.
func (c *Converter) Envelope() *envelope.Converter { return c.conv }

// Result says what became of the items of one request.
type Result struct {
	// Items counts the request's spans, log records or data points.
	Items int
	// Records counts the envelopes appended.
	Records int
	// Rejected counts the items that were not converted, or not wholly (a
	// span whose event envelope was too large): OTLP's
	// partial_success.rejected_spans, rejected_log_records or
	// rejected_data_points.
	Rejected int
	// Message says why items were rejected; "" when none was.
	Message string
}

// Charge is told the bytes the envelope buffer grew by after each item, so
// that a caller can account for the memory; an error stops the conversion,
// and the Append method returns it (wrapped).
type Charge func(n int64) error

// ErrCharged wraps the error of a Charge.
var ErrCharged = errors.New("otlpconv: conversion stopped")

// resource converts an OTLP resource; nil when it has no attributes.
// Resources are built once per resource block of a request.
func (c *Converter) resource(r pcommon.Resource) *resource.Resource {
	attrs := r.Attributes()
	if attrs.Len() == 0 {
		return nil
	}
	c.res = appendAttrs(c.res[:0], attrs, c.index)
	return resource.NewSchemaless(c.res...)
}

// tracker follows a request's conversion: the buffer's growth for Charge,
// and the converter's skip counters for the message.
type tracker struct {
	buf     *envelope.Buffer
	charge  Charge
	charged int
	before  envelope.Stats
	conv    *envelope.Converter
}

func (c *Converter) track(buf *envelope.Buffer, charge Charge) tracker {
	return tracker{buf: buf, charge: charge, charged: buf.Size(), before: c.conv.Stats(), conv: c.conv}
}

// item counts one converted item (n envelopes, or err when it was
// rejected) in r and charges what it added to the buffer.
func (t *tracker) item(r *Result, n int, err error) error {
	r.Items++
	r.Records += n
	if err != nil {
		r.Rejected++
	}
	return t.grew()
}

// grew charges the buffer's growth since the last call.
func (t *tracker) grew() error {
	if t.charge == nil {
		return nil
	}
	n := t.buf.Size() - t.charged
	if n <= 0 {
		return nil
	}
	t.charged += n
	if err := t.charge(int64(n)); err != nil {
		return fmt.Errorf("%w: %w", ErrCharged, err)
	}
	return nil
}

// reasons describes the skips of envelope.Converter, for Result.Message.
var reasons = map[envelope.SkipReason]string{
	envelope.SkipInvalidSpan:  "without valid trace and span ids",
	envelope.SkipTooLarge:     "envelope(s) over 64,000 bytes even after trimming",
	envelope.SkipInternal:     "conversion failed (a bug: please report it)",
	envelope.SkipInvalidPoint: "without a finite value, or with a count over 2^31-1",
}

// finish fills the message of r from the converter's skip counters and
// extra reasons of the caller's own.
func (t *tracker) finish(r *Result, what string, extra ...string) {
	if r.Rejected == 0 {
		return
	}
	after := t.conv.Stats()
	var parts []string
	for reason := envelope.SkipReason(0); reason <= envelope.SkipInvalidPoint; reason++ {
		if n := after.Skipped[reason] - t.before.Skipped[reason]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, reasons[reason]))
		}
	}
	parts = append(parts, extra...)
	r.Message = fmt.Sprintf("%d of %d %s not converted: %s", r.Rejected, r.Items, what, strings.Join(parts, "; "))
}
