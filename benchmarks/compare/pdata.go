package main

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// toTraces converts SDK spans into the Collector's pdata, grouped by
// resource and instrumentation scope, as the OTLP exporter's transform does
// before it marshals them: every field the Collector's exporter reads
// (identifiers, name, kind, times, attributes, status, events, links,
// trace state, flags, dropped counts). The result holds no reference to
// spans.
func toTraces(spans []sdktrace.ReadOnlySpan) ptrace.Traces {
	td := ptrace.NewTraces()
	type scopeKey struct {
		res                      *resource.Resource
		name, version, schemaURL string
	}
	resources := map[*resource.Resource]ptrace.ResourceSpans{}
	scopes := map[scopeKey]ptrace.SpanSlice{}
	for _, s := range spans {
		res := s.Resource()
		rs, ok := resources[res]
		if !ok {
			rs = td.ResourceSpans().AppendEmpty()
			if res != nil {
				rs.SetSchemaUrl(res.SchemaURL())
				putAttrs(rs.Resource().Attributes(), res.Attributes())
			}
			resources[res] = rs
		}
		is := s.InstrumentationScope()
		k := scopeKey{res, is.Name, is.Version, is.SchemaURL}
		out, ok := scopes[k]
		if !ok {
			ss := rs.ScopeSpans().AppendEmpty()
			ss.SetSchemaUrl(is.SchemaURL)
			ss.Scope().SetName(is.Name)
			ss.Scope().SetVersion(is.Version)
			putAttrs(ss.Scope().Attributes(), is.Attributes.ToSlice())
			out = ss.Spans()
			scopes[k] = out
		}
		putSpan(out.AppendEmpty(), s)
	}
	return td
}

// putSpan fills sp from s.
func putSpan(sp ptrace.Span, s sdktrace.ReadOnlySpan) {
	sc := s.SpanContext()
	sp.SetTraceID(pcommon.TraceID(sc.TraceID()))
	sp.SetSpanID(pcommon.SpanID(sc.SpanID()))
	sp.TraceState().FromRaw(sc.TraceState().String())
	sp.SetFlags(uint32(sc.TraceFlags()))
	if p := s.Parent(); p.SpanID().IsValid() {
		sp.SetParentSpanID(pcommon.SpanID(p.SpanID()))
	}
	sp.SetName(s.Name())
	sp.SetKind(spanKind(s.SpanKind()))
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(s.StartTime()))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(s.EndTime()))
	putAttrs(sp.Attributes(), s.Attributes())
	sp.SetDroppedAttributesCount(uint32(max(s.DroppedAttributes(), 0)))
	st := s.Status()
	switch st.Code {
	case codes.Error:
		sp.Status().SetCode(ptrace.StatusCodeError)
		sp.Status().SetMessage(st.Description)
	case codes.Ok:
		sp.Status().SetCode(ptrace.StatusCodeOk)
	}
	if evs := s.Events(); len(evs) > 0 {
		out := sp.Events()
		out.EnsureCapacity(len(evs))
		for _, ev := range evs {
			e := out.AppendEmpty()
			e.SetName(ev.Name)
			e.SetTimestamp(pcommon.NewTimestampFromTime(ev.Time))
			putAttrs(e.Attributes(), ev.Attributes)
			e.SetDroppedAttributesCount(uint32(max(ev.DroppedAttributeCount, 0)))
		}
	}
	sp.SetDroppedEventsCount(uint32(max(s.DroppedEvents(), 0)))
	if links := s.Links(); len(links) > 0 {
		out := sp.Links()
		out.EnsureCapacity(len(links))
		for _, l := range links {
			ln := out.AppendEmpty()
			ln.SetTraceID(pcommon.TraceID(l.SpanContext.TraceID()))
			ln.SetSpanID(pcommon.SpanID(l.SpanContext.SpanID()))
			ln.TraceState().FromRaw(l.SpanContext.TraceState().String())
			putAttrs(ln.Attributes(), l.Attributes)
			ln.SetDroppedAttributesCount(uint32(max(l.DroppedAttributeCount, 0)))
		}
	}
	sp.SetDroppedLinksCount(uint32(max(s.DroppedLinks(), 0)))
}

// spanKind maps the API's span kind to pdata's.
func spanKind(k trace.SpanKind) ptrace.SpanKind {
	switch k {
	case trace.SpanKindInternal:
		return ptrace.SpanKindInternal
	case trace.SpanKindServer:
		return ptrace.SpanKindServer
	case trace.SpanKindClient:
		return ptrace.SpanKindClient
	case trace.SpanKindProducer:
		return ptrace.SpanKindProducer
	case trace.SpanKindConsumer:
		return ptrace.SpanKindConsumer
	}
	return ptrace.SpanKindUnspecified
}

// putAttrs adds kvs to m.
func putAttrs(m pcommon.Map, kvs []attribute.KeyValue) {
	if len(kvs) == 0 {
		return
	}
	m.EnsureCapacity(m.Len() + len(kvs))
	for _, kv := range kvs {
		k := string(kv.Key)
		switch v := kv.Value; v.Type() {
		case attribute.BOOL:
			m.PutBool(k, v.AsBool())
		case attribute.INT64:
			m.PutInt(k, v.AsInt64())
		case attribute.FLOAT64:
			m.PutDouble(k, v.AsFloat64())
		case attribute.STRING:
			m.PutStr(k, v.AsString())
		case attribute.BOOLSLICE:
			s := m.PutEmptySlice(k)
			for _, b := range v.AsBoolSlice() {
				s.AppendEmpty().SetBool(b)
			}
		case attribute.INT64SLICE:
			s := m.PutEmptySlice(k)
			for _, n := range v.AsInt64Slice() {
				s.AppendEmpty().SetInt(n)
			}
		case attribute.FLOAT64SLICE:
			s := m.PutEmptySlice(k)
			for _, f := range v.AsFloat64Slice() {
				s.AppendEmpty().SetDouble(f)
			}
		case attribute.STRINGSLICE:
			s := m.PutEmptySlice(k)
			for _, str := range v.AsStringSlice() {
				s.AppendEmpty().SetStr(str)
			}
		default:
			m.PutStr(k, v.String())
		}
	}
}
