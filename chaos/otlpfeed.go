package chaos

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"

	"github.com/aispool/aispool/chaos/fakeingest"
	"github.com/aispool/aispool/exporter/envelope"
)

// otlpBody encodes ids as an OTLP/HTTP logs request (protobuf) for
// Daemon.OTLP: one log record per id, a custom event (the
// microsoft.custom_event.name attribute) with the id in the chaos.id
// attribute, which the daemon converts into the envelope kind
// fakeingest.Envelope makes (an EventData with the id in its properties,
// where fakeingest.DefaultID finds it).
func otlpBody(ids []string) []byte {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "chaos")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	now := pcommon.NewTimestampFromTime(time.Now())
	for _, id := range ids {
		lr := lrs.AppendEmpty()
		lr.SetTimestamp(now)
		lr.Body().SetStr("chaos")
		lr.Attributes().PutStr(envelope.CustomEventNameKey, "chaos")
		lr.Attributes().PutStr(fakeingest.IDProperty, id)
	}
	b, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	if err != nil {
		panic(err) // plain strings and numbers: cannot fail
	}
	return b
}
