package envelope

import (
	"time"
)

// SpanSummary is what the Application Insights standard metrics
// (requests/duration, dependencies/duration) need to know
// of a span, computed with the converter's own rules so that the metrics'
// dimensions match the span's envelope.
type SpanSummary struct {
	// Request is true for server and consumer spans (RequestData), false
	// for the others (RemoteDependencyData).
	Request bool
	// Duration is the span's duration (negative clamped to zero).
	Duration time.Duration
	// Success and ResultCode are the envelope's success and
	// responseCode/resultCode.
	Success    bool
	ResultCode string
	// Type and Target are the dependency's type and target (empty for
	// requests).
	Type, Target string
	// Role and RoleInstance are the envelope's ai.cloud.role and
	// ai.cloud.roleInstance.
	Role, RoleInstance string
}

// Summarize fills out with the standard-metric view of span. Like
// AppendSpan it must be called from one goroutine at a time; unlike it, it
// allocates (the composed strings). It reports false for a span without
// valid ids, which AppendSpan would skip.
func (c *Converter) Summarize(span Span, out *SpanSummary) bool {
	if span == nil {
		return false
	}
	sc := span.SpanContext()
	if !sc.TraceID().IsValid() || !sc.SpanID().IsValid() {
		return false
	}
	c.loadSpan(span, &sc)
	it := &c.span.item
	*out = SpanSummary{
		Request:    it.typ == typeRequest,
		Duration:   max(it.duration, 0),
		Success:    it.success,
		ResultCode: it.code.String(),
	}
	if !out.Request {
		out.Type = it.depType.String()
		out.Target = it.peer.String()
	}
	out.Role, out.RoleInstance = c.roleAndInstance(span.Resource())
	return true
}
