package envelope

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
)

// Attribute keys a log record is classified and tagged by (see
// docs/exporter.md, "How logs and metrics are mapped").
const (
	// CustomEventNameKey marks a log record as a custom event: the record
	// becomes EventData named by the attribute's value.
	CustomEventNameKey = "microsoft.custom_event.name"

	// LogBodyKey is the property that keeps a log record's body when the
	// envelope has no other place for it: on an EventData, and on an
	// ExceptionData whose message came from exception.message.
	LogBodyKey = "log.body"

	// EventNameKey is the property that carries the record's OpenTelemetry
	// event name (Record.EventName), unless an attribute has that key.
	//
	// LogBodyKey likewise yields to an attribute of the same name.
	EventNameKey = "event.name"
)

// Severity levels of the ingestion schema.
const (
	severityVerbose     = 0
	severityInformation = 1
	severityWarning     = 2
	severityError       = 3
	severityCritical    = 4
)

// SeverityOf maps an OpenTelemetry severity number to the Application
// Insights severity level: TRACE and DEBUG (1–8) →
// Verbose (0), INFO (9–12) → Information (1), WARN (13–16) → Warning (2),
// ERROR (17–20) → Error (3), FATAL (21–24) → Critical (4). An unspecified
// (0) or negative number is Information, as in the Collector's exporter;
// numbers above 24 are Critical.
func SeverityOf(s log.Severity) int {
	switch {
	case s <= 0:
		return severityInformation
	case s <= 8:
		return severityVerbose
	case s <= 12:
		return severityInformation
	case s <= 16:
		return severityWarning
	case s <= 20:
		return severityError
	}
	return severityCritical
}

// logKey identifies the attributes a log record is mapped by.
type logKey uint8

const (
	logKeyNone logKey = iota
	logKeyOperationName
	logKeyCustomEvent
	logKeyExceptionType
	logKeyExceptionMessage
	logKeyExceptionStack
	logKeyEnduserID
	logKeyEnduserPseudoID
	logKeySessionID
	logKeySyntheticType
	logKeyUserAgent
	logKeyUserAgentOld
	logKeyMicrosoftClientIP
	logKeyClientAddress
	logKeyEventName
	logKeyLogBody
	numLogKeys
)

func classifyLogKey(key string) logKey {
	switch key {
	case OperationNameKey:
		return logKeyOperationName
	case CustomEventNameKey:
		return logKeyCustomEvent
	case exceptionTypeKey:
		return logKeyExceptionType
	case exceptionMessageKey:
		return logKeyExceptionMessage
	case exceptionStacktraceKey:
		return logKeyExceptionStack
	case "enduser.id":
		return logKeyEnduserID
	case "enduser.pseudo.id":
		return logKeyEnduserPseudoID
	case "session.id":
		return logKeySessionID
	case "user_agent.synthetic.type":
		return logKeySyntheticType
	case "user_agent.original":
		return logKeyUserAgent
	case "http.user_agent":
		return logKeyUserAgentOld
	case "microsoft.client.ip":
		return logKeyMicrosoftClientIP
	case "client.address":
		return logKeyClientAddress
	case EventNameKey:
		return logKeyEventName
	case LogBodyKey:
		return logKeyLogBody
	}
	return logKeyNone
}

// logAttrs indexes the attributes of one log record. Like spanAttrs, it is
// scratch space of a Converter.
type logAttrs struct {
	walk    func(attribute.KeyValue) bool // a.add
	kvs     []attribute.KeyValue
	vals    [numLogKeys]attribute.Value
	present uint32
}

func (a *logAttrs) has(k logKey) bool { return a.present&(1<<k) != 0 }

func (a *logAttrs) str(k logKey) string {
	if !a.has(k) || a.vals[k].Type() != attribute.STRING {
		return ""
	}
	return a.vals[k].AsString()
}

// text returns an attribute as text: strings as they are, other scalars
// formatted (which allocates; the mapped keys are strings in practice).
func (a *logAttrs) text(k logKey) string {
	if !a.has(k) {
		return ""
	}
	if v := a.vals[k]; v.Type() != attribute.STRING {
		return v.String()
	}
	return a.vals[k].AsString()
}

// collect copies the record's attributes into a.kvs and indexes the mapped
// ones; a later duplicate wins.
func (a *logAttrs) collect(r LogRecord) {
	a.kvs = a.kvs[:0]
	a.present = 0
	if a.walk == nil {
		// Made once: a method value handed to an interface's method
		// escapes, and would be allocated at every call.
		a.walk = a.add
	}
	r.WalkAttributes(a.walk)
}

func (a *logAttrs) add(kv attribute.KeyValue) bool {
	a.kvs = append(a.kvs, kv)
	if k := classifyLogKey(string(kv.Key)); k != logKeyNone && kv.Value.Type() != attribute.EMPTY {
		a.vals[k] = kv.Value
		a.present |= 1 << k
	}
	return true
}

// AppendLogRecords converts log records into buf, skipping (and counting)
// those that cannot be converted; it never stops early. It returns the
// number of records appended and the number skipped.
func (c *Converter) AppendLogRecords(buf *Buffer, records []sdklog.Record) (n, skipped int) {
	for i := range records {
		k, err := c.AppendLogRecord(buf, &records[i])
		n += k
		if err != nil {
			skipped++
		}
	}
	return n, skipped
}

// AppendLogRecord converts one log record (an *sdklog.Record, or any
// other [LogRecord]) into one envelope in buf
// (docs/exporter.md, "How logs and metrics are mapped"):
//
//   - a record with the attribute microsoft.custom_event.name becomes
//     EventData named by it;
//   - else a record with exception.type or exception.message becomes
//     ExceptionData: typeName exception.type (default "Exception"), message
//     exception.message, else the body, else "Exception", stack
//     exception.stacktrace;
//   - else MessageData: the body as text (maps and slices as JSON; an empty
//     or blank body is "n/a").
//
// Message and exception envelopes carry the severity level of
// SeverityLevel. The trace and span ids become ai.operation.id and
// ai.operation.parentId when valid; the OperationNameKey attribute (set by
// the exporter package's processor from the span in the record's context)
// becomes ai.operation.name. Attributes become properties with the limits
// of span attributes, except those mapped (exception fields on exceptions,
// the user, session and synthetic-source tags, control keys). Time is the
// record's timestamp, else its observed timestamp, else now.
//
// It returns the number of records appended (0 or 1). Errors wrap
// ErrTooLarge or ErrConversion; the record is then counted and left out,
// and buf holds no partial record.
func (c *Converter) AppendLogRecord(buf *Buffer, r LogRecord) (n int, err error) {
	mark, records := len(buf.data), len(buf.ends)
	defer func() {
		if p := recover(); p != nil {
			buf.truncate(mark, records)
			c.skipped[SkipInternal].Add(1)
			n, err = 0, fmt.Errorf("%w: %v", ErrConversion, p)
		}
	}()
	if p, ok := r.(*sdklog.Record); r == nil || ok && p == nil {
		c.skipped[SkipInvalidSpan].Add(1)
		return 0, fmt.Errorf("%w: nil log record", ErrInvalidSpan)
	}
	it := c.loadLogRecord(r)
	if !c.emit(buf, it) {
		c.skipped[SkipTooLarge].Add(1)
		return 0, fmt.Errorf("%w: log record dropped", ErrTooLarge)
	}
	c.converted.Add(1)
	c.envelopes.Add(1)
	return 1, nil
}

// loadLogRecord resolves r into c.sig.logCtx and its item.
func (c *Converter) loadLogRecord(r LogRecord) *item {
	a := &c.sig.logAttrs
	a.collect(r)

	sp := &c.sig.logCtx
	it := &sp.item
	typ := typeMessage
	switch {
	case a.str(logKeyCustomEvent) != "":
		typ = typeEvent
	case a.has(logKeyExceptionType) || a.has(logKeyExceptionMessage):
		typ = typeException
	}
	it.reset(typ, sp)
	sp.traceID = r.TraceID()
	sp.sampleRate = 100
	sp.res = c.resourceTags(r.Resource())
	sp.opIsName = false
	sp.opName.reset()
	sp.opName.add(a.str(logKeyOperationName))
	sp.authUserID = a.str(logKeyEnduserID)
	sp.userID = a.str(logKeyEnduserPseudoID)
	sp.sessionID = a.str(logKeySessionID)
	sp.userAgent = ""
	ua := a.str(logKeyUserAgent)
	if ua == "" {
		ua = a.str(logKeyUserAgentOld)
	}
	sp.synthetic = a.str(logKeySyntheticType) != "" || strings.Contains(ua, "AlwaysOn")
	sp.locationIP = a.str(logKeyMicrosoftClientIP)
	clientIPTag := false
	if sp.locationIP == "" && typ == typeEvent {
		sp.locationIP = a.str(logKeyClientAddress)
		clientIPTag = sp.locationIP != ""
	}

	it.time = r.Timestamp()
	if it.time.IsZero() {
		it.time = r.ObservedTimestamp()
	}
	if it.time.IsZero() {
		it.time = time.Now()
	}
	if sp.traceID.IsValid() && r.SpanID().IsValid() {
		it.parentID, it.hasParent = r.SpanID(), true
	}
	it.attrs = a.kvs
	lf := &it.signal
	lf.props = propsLog
	lf.clientIPTag = clientIPTag
	if !a.has(logKeyEventName) { // an attribute of that name wins
		lf.eventName = r.EventName()
	}
	if typ != typeEvent {
		lf.severity, lf.hasSeverity = int8(SeverityOf(r.Severity())), true
	}

	body := r.Body()
	switch typ {
	case typeEvent:
		it.name.add(a.str(logKeyCustomEvent))
		c.bodyText(it, body, false)
	case typeException:
		it.exception = true
		it.typeName = a.text(logKeyExceptionType)
		if it.typeName == "" {
			it.typeName = "Exception"
		}
		it.stack = a.text(logKeyExceptionStack)
		if msg := a.text(logKeyExceptionMessage); msg != "" {
			it.message = msg
			c.bodyText(it, body, false)
		} else if c.bodyText(it, body, true); it.message == "" && it.signal.message == nil {
			it.message = "Exception"
		}
	default:
		if c.bodyText(it, body, true); it.message == "" && it.signal.message == nil {
			it.message = "n/a"
		}
	}
	return it
}

// bodyText renders a record's body. When asMessage is true it becomes the
// item's message; otherwise a non-blank body is kept as the LogBodyKey
// property. A blank body (empty, only white space, or absent) renders as
// nothing. Strings are used as they are; other values are formatted into
// c.sig.bodyBuf: scalars in their usual text form, slices and maps as JSON,
// bytes as base64 (the OpenTelemetry AnyValue text representation).
func (c *Converter) bodyText(it *item, v attribute.Value, asMessage bool) {
	var s string
	var b []byte
	switch v.Type() {
	case attribute.EMPTY:
		return
	case attribute.STRING:
		s = v.AsString()
		if strings.TrimSpace(s) == "" {
			return
		}
	case attribute.BOOLSLICE, attribute.INT64SLICE, attribute.FLOAT64SLICE, attribute.STRINGSLICE:
		b = appendArray(c.sig.bodyBuf[:0], v)
	case attribute.INT64, attribute.FLOAT64, attribute.BOOL:
		b = appendScalar(c.sig.bodyBuf[:0], v)
	default:
		// Slices of values, maps and bytes: the SDK's own JSON form. These
		// allocate (the SDK copies composite values to hand them out).
		b = append(c.sig.bodyBuf[:0], v.String()...)
	}
	if b != nil {
		c.sig.bodyBuf = b
	}
	if asMessage {
		it.message = s
		it.signal.message = b
		return
	}
	if c.sig.logAttrs.has(logKeyLogBody) {
		return // an attribute of that name wins
	}
	it.signal.bodyProp = s
	it.signal.bodyPropBytes = b
}

// appendScalar appends a bool, int or float value in its text form.
func appendScalar(b []byte, v attribute.Value) []byte {
	switch v.Type() {
	case attribute.BOOL:
		if v.AsBool() {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case attribute.INT64:
		return strconv.AppendInt(b, v.AsInt64(), 10)
	}
	return appendFloat(b, v.AsFloat64())
}

// keepLogAttr reports whether a log attribute becomes a property: the
// attributes the mapping turned into tags or fields are left out, as are
// control keys (microsoft.*, most _MS.*).
func keepLogAttr(key string, it *item) bool {
	switch classifyLogKey(key) {
	case logKeyOperationName, logKeyCustomEvent, logKeyEnduserID, logKeyEnduserPseudoID,
		logKeySessionID, logKeySyntheticType, logKeyMicrosoftClientIP:
		return false
	case logKeyExceptionType, logKeyExceptionMessage, logKeyExceptionStack:
		return !it.exception
	case logKeyClientAddress:
		return !it.signal.clientIPTag
	}
	return !isControlKey(key)
}
