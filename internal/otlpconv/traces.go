package otlpconv

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/aispool/aispool/exporter/envelope"
)

// AppendTraces converts every span of td into buf (see
// envelope.Converter.AppendSpan). Spans that cannot be converted are
// counted in the Result and never stop the others; only a Charge error
// stops the conversion early.
func (c *Converter) AppendTraces(buf *envelope.Buffer, td ptrace.Traces, charge Charge) (Result, error) {
	var r Result
	t := c.track(buf, charge)
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		res := c.resource(rs.Resource())
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				c.span.load(spans.At(k), res)
				n, err := c.conv.AppendSpan(buf, &c.span)
				if err := t.item(&r, n, err); err != nil {
					return r, err
				}
			}
		}
	}
	t.finish(&r, "spans")
	return r, nil
}

// spanAdapter is an OTLP span as an envelope.Span.
type spanAdapter struct {
	s       ptrace.Span
	res     *resource.Resource
	sc      trace.SpanContext
	parent  trace.SpanContext
	attrs   []attribute.KeyValue
	events  []sdktrace.Event
	evAttrs []attribute.KeyValue // the events' attributes, one after the other
	evEnds  []int                // where each event's attributes end in evAttrs
	links   []sdktrace.Link
	index   map[string]int
}

var _ envelope.Span = (*spanAdapter)(nil)

// load reads s. An unparsable tracestate is ignored (it only matters for
// the sampling threshold).
func (a *spanAdapter) load(s ptrace.Span, res *resource.Resource) {
	a.s, a.res = s, res
	cfg := trace.SpanContextConfig{
		TraceID:    trace.TraceID(s.TraceID()),
		SpanID:     trace.SpanID(s.SpanID()),
		TraceFlags: trace.TraceFlags(s.Flags() & 0xff),
	}
	if ts := s.TraceState().AsRaw(); ts != "" {
		cfg.TraceState, _ = trace.ParseTraceState(ts)
	}
	a.sc = trace.NewSpanContext(cfg)
	a.parent = trace.NewSpanContext(trace.SpanContextConfig{TraceID: cfg.TraceID, SpanID: trace.SpanID(s.ParentSpanID())})
	a.attrs = appendAttrs(a.attrs[:0], s.Attributes(), a.index)

	evs := s.Events()
	a.events, a.evAttrs, a.evEnds = a.events[:0], a.evAttrs[:0], a.evEnds[:0]
	for i := 0; i < evs.Len(); i++ {
		ev := evs.At(i)
		a.evAttrs = appendAttrs(a.evAttrs, ev.Attributes(), a.index)
		a.evEnds = append(a.evEnds, len(a.evAttrs))
		a.events = append(a.events, sdktrace.Event{Name: ev.Name(), Time: timeOf(ev.Timestamp())})
	}
	start := 0
	for i, end := range a.evEnds { // once evAttrs no longer moves
		a.events[i].Attributes = a.evAttrs[start:end:end]
		start = end
	}

	ls := s.Links()
	a.links = a.links[:0]
	for i := 0; i < ls.Len(); i++ {
		l := ls.At(i)
		a.links = append(a.links, sdktrace.Link{SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: trace.TraceID(l.TraceID()), SpanID: trace.SpanID(l.SpanID())})})
	}
}

func (a *spanAdapter) Name() string                     { return a.s.Name() }
func (a *spanAdapter) SpanContext() trace.SpanContext   { return a.sc }
func (a *spanAdapter) Parent() trace.SpanContext        { return a.parent }
func (a *spanAdapter) SpanKind() trace.SpanKind         { return trace.SpanKind(a.s.Kind()) }
func (a *spanAdapter) StartTime() time.Time             { return timeOf(a.s.StartTimestamp()) }
func (a *spanAdapter) EndTime() time.Time               { return timeOf(a.s.EndTimestamp()) }
func (a *spanAdapter) Attributes() []attribute.KeyValue { return a.attrs }
func (a *spanAdapter) Links() []sdktrace.Link           { return a.links }
func (a *spanAdapter) Events() []sdktrace.Event         { return a.events }
func (a *spanAdapter) Resource() *resource.Resource     { return a.res }

// Status maps OTLP's status codes (0 unset, 1 ok, 2 error) to the API's
// (Unset, Error, Ok: a different order).
func (a *spanAdapter) Status() sdktrace.Status {
	st := a.s.Status()
	switch st.Code() {
	case ptrace.StatusCodeOk:
		return sdktrace.Status{Code: codes.Ok}
	case ptrace.StatusCodeError:
		return sdktrace.Status{Code: codes.Error, Description: st.Message()}
	}
	return sdktrace.Status{Code: codes.Unset}
}

// timeOf converts an OTLP timestamp; 0 (not set) is the zero time.
func timeOf(ts pcommon.Timestamp) time.Time {
	if ts == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(ts))
}
