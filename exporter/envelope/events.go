package envelope

import (
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Attribute keys of an OpenTelemetry exception event.
const (
	exceptionTypeKey       = "exception.type"
	exceptionMessageKey    = "exception.message"
	exceptionStacktraceKey = "exception.stacktrace"
)

// loadEvent resolves a span event of c.span into c.item: an "exception"
// event becomes ExceptionData, any other event MessageData (unless
// configured off). Event envelopes share the span's trace, operation name,
// sample rate and resource tags; their parent id is the span's own id and
// their time the event's. It reports false for an event that is skipped.
func (c *Converter) loadEvent(ev *sdktrace.Event) bool {
	sp := &c.span
	it := &c.item
	if ev.Name == "exception" {
		it.reset(typeException, sp)
		it.exception = true
		for _, kv := range ev.Attributes {
			if kv.Value.Type() != attribute.STRING {
				continue
			}
			switch kv.Key {
			case exceptionTypeKey:
				it.typeName = kv.Value.AsString()
			case exceptionMessageKey:
				it.message = kv.Value.AsString()
			case exceptionStacktraceKey:
				it.stack = kv.Value.AsString()
			}
		}
		if it.typeName == "" {
			it.typeName = "Exception"
		}
		if it.message == "" {
			it.message = "Exception"
		}
	} else {
		if c.cfg.SkipSpanEventMessages {
			return false
		}
		it.reset(typeMessage, sp)
		it.message = ev.Name
		if it.message == "" {
			it.message = "n/a"
		}
	}
	it.time = ev.Time
	it.parentID, it.hasParent = sp.id, true
	it.attrs = ev.Attributes
	return true
}

// keepEventAttr reports whether an event attribute becomes a property:
// control keys (microsoft.*, most _MS.*), the operation-name helper and,
// on exception events, the fields already mapped are left out.
func keepEventAttr(key string, exception bool) bool {
	if key == OperationNameKey || isControlKey(key) {
		return false
	}
	if exception {
		switch key {
		case exceptionTypeKey, exceptionMessageKey, exceptionStacktraceKey:
			return false
		}
	}
	return true
}
