package otlpconv

import (
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/trace"

	"github.com/aispool/aispool/exporter/envelope"
)

// AppendLogs converts every log record of ld into buf (see
// envelope.Converter.AppendLogRecord). Records that cannot be converted
// are counted in the Result and never stop the others; only a Charge
// error stops the conversion early.
func (c *Converter) AppendLogs(buf *envelope.Buffer, ld plog.Logs, charge Charge) (Result, error) {
	var r Result
	t := c.track(buf, charge)
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		res := c.resource(rl.Resource())
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				c.log.load(lrs.At(k), res)
				n, err := c.conv.AppendLogRecord(buf, &c.log)
				if err := t.item(&r, n, err); err != nil {
					return r, err
				}
			}
		}
	}
	t.finish(&r, "log records")
	return r, nil
}

// logAdapter is an OTLP log record as an envelope.LogRecord.
type logAdapter struct {
	r     plog.LogRecord
	res   *resource.Resource
	attrs []attribute.KeyValue
	index map[string]int
}

var _ envelope.LogRecord = (*logAdapter)(nil)

func (a *logAdapter) load(r plog.LogRecord, res *resource.Resource) {
	a.r, a.res = r, res
	a.attrs = appendAttrs(a.attrs[:0], r.Attributes(), a.index)
}

func (a *logAdapter) Timestamp() time.Time         { return timeOf(a.r.Timestamp()) }
func (a *logAdapter) ObservedTimestamp() time.Time { return timeOf(a.r.ObservedTimestamp()) }
func (a *logAdapter) Severity() log.Severity       { return log.Severity(a.r.SeverityNumber()) }
func (a *logAdapter) Body() attribute.Value        { return value(a.r.Body()) }
func (a *logAdapter) EventName() string            { return a.r.EventName() }
func (a *logAdapter) TraceID() trace.TraceID       { return trace.TraceID(a.r.TraceID()) }
func (a *logAdapter) SpanID() trace.SpanID         { return trace.SpanID(a.r.SpanID()) }
func (a *logAdapter) Resource() *resource.Resource { return a.res }

func (a *logAdapter) WalkAttributes(f func(attribute.KeyValue) bool) {
	for _, kv := range a.attrs {
		if !f(kv) {
			return
		}
	}
}
