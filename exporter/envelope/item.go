package envelope

import (
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// envType is the telemetry type of an envelope.
type envType uint8

const (
	typeRequest envType = iota
	typeDependency
	typeMessage
	typeException
	typeEvent
	typeMetric
)

// Envelope names and base types, indexed by envType.
var (
	envelopeNames = [...]string{
		typeRequest:    "Microsoft.ApplicationInsights.Request",
		typeDependency: "Microsoft.ApplicationInsights.RemoteDependency",
		typeMessage:    "Microsoft.ApplicationInsights.Message",
		typeException:  "Microsoft.ApplicationInsights.Exception",
		typeEvent:      "Microsoft.ApplicationInsights.Event",
		typeMetric:     "Microsoft.ApplicationInsights.Metric",
	}
	baseTypes = [...]string{
		typeRequest:    "RequestData",
		typeDependency: "RemoteDependencyData",
		typeMessage:    "MessageData",
		typeException:  "ExceptionData",
		typeEvent:      "EventData",
		typeMetric:     "MetricData",
	}
)

// item is everything one envelope needs, resolved from a span or a span
// event but not yet encoded. Trimming re-encodes an item, so encoding must
// depend on the item alone.
type item struct {
	typ       envType
	span      *spanItem // context shared by a span's envelopes
	time      time.Time
	parentID  trace.SpanID
	hasParent bool

	// Request and dependency fields.
	id       trace.SpanID
	name     text
	duration time.Duration
	success  bool
	code     text // responseCode / resultCode
	url      text // request url / dependency data
	peer     text // request source / dependency target
	depType  text

	// Message and exception fields.
	message  string
	typeName string
	stack    string

	// Properties: attrs filtered by keep (span attributes) or by the event
	// rules (keep == nil), then the status description and the links.
	attrs      []attribute.KeyValue
	keep       []bool
	exception  bool
	statusDesc string
	links      []sdktrace.Link

	// Log records and metric points (see logs.go and metrics.go).
	signal signalFields
}

// reset makes it an empty item of type typ. It clears field by field
// rather than assign item{}: the texts need only their counts cleared, and
// the whole struct (over 2 KiB, with pointers: the garbage collector's
// write barriers while it marks) would cost more than the rest of a small
// span's mapping. TestItemReset checks that no field is left out.
func (it *item) reset(typ envType, sp *spanItem) {
	it.typ, it.span = typ, sp
	it.time = time.Time{}
	it.parentID, it.hasParent = trace.SpanID{}, false
	it.id = trace.SpanID{}
	it.name.reset()
	it.duration, it.success = 0, false
	it.code.reset()
	it.url.reset()
	it.peer.reset()
	it.depType.reset()
	it.message, it.typeName, it.stack = "", "", ""
	it.attrs, it.keep, it.exception, it.statusDesc, it.links = nil, nil, false, "", nil
	it.signal = signalFields{}
}

// operationName is the ai.operation.name of the span's envelopes.
func (sp *spanItem) operationName() *text {
	if sp.opIsName {
		return &sp.item.name
	}
	return &sp.opName
}

// spanItem holds the main envelope of a span and the context its event
// envelopes share.
type spanItem struct {
	item
	traceID    trace.TraceID
	sampleRate float64
	res        []byte // encoded resource tags
	opName     text
	opIsName   bool // the operation name is item.name (a request's): opName is unused
	authUserID string
	userID     string
	sessionID  string
	locationIP string
	userAgent  string
	synthetic  bool
}
