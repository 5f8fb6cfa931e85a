package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/aispool/aispool/exporter/envelope"
	"github.com/aispool/aispool/internal/otlpconv"
)

// OTLPConfig configures the OTLP intake; see [Handler.OTLP].
type OTLPConfig struct {
	// Envelope configures the conversion: the instrumentation key written
	// into every envelope (required) and the mapping options of
	// docs/exporter.md.
	Envelope envelope.Config
}

// Signal is one of OTLP's three signals.
type Signal int

// The signals, in the order of their paths.
const (
	Traces Signal = iota
	Logs
	Metrics
	numSignals
)

// String returns "traces", "logs" or "metrics".
func (s Signal) String() string {
	switch s {
	case Traces:
		return "traces"
	case Logs:
		return "logs"
	case Metrics:
		return "metrics"
	}
	return "unknown"
}

// items names the signal's items, as partial_success counts them.
func (s Signal) items() string {
	switch s {
	case Traces:
		return "spans"
	case Logs:
		return "log records"
	}
	return "data points"
}

// Memory charged for a decoded request, per byte of its encoded body: the
// pdata objects (measured at about 3.8 times the protobuf size of spans
// with ten attributes; JSON is larger than what it decodes to).
const (
	protoDecodeFactor = 4
	jsonDecodeFactor  = 2
)

// OTLP is the OTLP intake: OTLP/HTTP through ServeHTTP, OTLP/gRPC through
// the services of [OTLP.RegisterGRPC]. It shares its Handler's spool,
// limits, memory budget, request slots, timeouts and slow-client rule, and
// converts with the exporter's mapping (package exporter/envelope). It is
// safe for concurrent use.
type OTLP struct {
	h      *Handler
	envCfg envelope.Config
	convs  chan *otlpconv.Converter // idle converters, one per slot at most
	bufs   sync.Pool                // *envelope.Buffer

	stats [numSignals]signalCounters

	mu       sync.Mutex
	requests map[string]uint64 // by "http <status>" or "grpc <code>"
}

type signalCounters struct {
	received, accepted, rejected, refused atomic.Uint64
}

// OTLP returns the OTLP intake sharing h's machinery (see [OTLP]). An
// invalid cfg.Envelope is an error wrapping envelope.ErrInvalidConfig.
func (h *Handler) OTLP(cfg OTLPConfig) (*OTLP, error) {
	if _, err := envelope.NewConverter(cfg.Envelope); err != nil {
		return nil, fmt.Errorf("ingest: OTLP: %w", err)
	}
	return &OTLP{h: h, envCfg: cfg.Envelope, convs: make(chan *otlpconv.Converter, cap(h.slots)),
		requests: make(map[string]uint64)}, nil
}

// converter returns an idle converter, or a new one.
func (o *OTLP) converter() *otlpconv.Converter {
	select {
	case c := <-o.convs:
		return c
	default:
	}
	c, err := envelope.NewConverter(o.envCfg)
	if err != nil {
		panic(err) // checked by Handler.OTLP
	}
	return otlpconv.New(c)
}

func (o *OTLP) idle(c *otlpconv.Converter) {
	select {
	case o.convs <- c:
	default:
	}
}

// otlpRequest is one decoded export request.
type otlpRequest struct {
	signal  Signal
	traces  ptraceotlp.ExportRequest
	logs    plogotlp.ExportRequest
	metrics pmetricotlp.ExportRequest
}

// decodeOTLP decodes an export request of the signal, protobuf or OTLP
// JSON.
func decodeOTLP(sig Signal, body []byte, json bool) (otlpRequest, error) {
	req := otlpRequest{signal: sig}
	var err error
	switch sig {
	case Traces:
		req.traces = ptraceotlp.NewExportRequest()
		if json {
			err = req.traces.UnmarshalJSON(body)
		} else {
			err = req.traces.UnmarshalProto(body)
		}
	case Logs:
		req.logs = plogotlp.NewExportRequest()
		if json {
			err = req.logs.UnmarshalJSON(body)
		} else {
			err = req.logs.UnmarshalProto(body)
		}
	default:
		req.metrics = pmetricotlp.NewExportRequest()
		if json {
			err = req.metrics.UnmarshalJSON(body)
		} else {
			err = req.metrics.UnmarshalProto(body)
		}
	}
	return req, err
}

// Errors of export, besides the lease's errMemoryBusy and errMemoryTooBig.
var (
	// errSlotsBusy: no request slot came free within AppendTimeout.
	errSlotsBusy = errors.New("too many requests are being stored at once")
)

// spoolError is the spool's refusal of a whole request.
type spoolError struct{ err error }

func (e *spoolError) Error() string { return "the spool could not take the items: " + e.err.Error() }
func (e *spoolError) Unwrap() error { return e.err }

// export converts and stores one decoded request, within ctx (which
// AppendTimeout bounds). On success every envelope converted is durable
// in the spool; the Result says what was rejected and why. An error
// refuses the whole request (nothing acknowledged): errSlotsBusy, a
// lease's error, or a *spoolError.
func (o *OTLP) export(ctx context.Context, mem *lease, req otlpRequest) (otlpconv.Result, error) {
	select {
	case o.h.slots <- struct{}{}:
		defer func() { <-o.h.slots }()
	case <-ctx.Done():
		return otlpconv.Result{}, errSlotsBusy
	}
	conv := o.converter()
	defer o.idle(conv)
	buf, _ := o.bufs.Get().(*envelope.Buffer)
	if buf == nil {
		buf = new(envelope.Buffer)
	}
	defer func() {
		if buf.Size() <= 4<<20 { // keep ordinary buffers only
			buf.Reset()
			o.bufs.Put(buf)
		}
	}()
	buf.Reset()
	var res otlpconv.Result
	var err error
	switch req.signal {
	case Traces:
		res, err = conv.AppendTraces(buf, req.traces.Traces(), mem.charge)
	case Logs:
		res, err = conv.AppendLogs(buf, req.logs.Logs(), mem.charge)
	default:
		res, err = conv.AppendMetrics(buf, req.metrics.Metrics(), mem.charge)
	}
	if err != nil {
		return res, err
	}
	if buf.Len() == 0 {
		return res, nil
	}
	// The spool copies the records before it writes them.
	if err := mem.take(int64(buf.Size())); err != nil {
		return res, err
	}
	refused, err := o.h.appendRecords(ctx, buf.Records(make([][]byte, 0, buf.Len())))
	if err != nil {
		return res, &spoolError{err}
	}
	if len(refused) > 0 {
		// Envelopes, not items: a span's envelopes are its own and its
		// events'. Count each as an item of the request, at most all.
		res.Rejected = min(res.Items, res.Rejected+len(refused))
		msg := fmt.Sprintf("%d envelope(s) refused by the spool: %v", len(refused), refused[0].err)
		if res.Message == "" {
			res.Message = fmt.Sprintf("%d of %d %s not stored: %s", res.Rejected, res.Items, req.signal.items(), msg)
		} else {
			res.Message += "; " + msg
		}
	}
	return res, nil
}

// count counts a request's items by outcome.
func (o *OTLP) count(sig Signal, res otlpconv.Result, err error) {
	c := &o.stats[sig]
	c.received.Add(uint64(res.Items))
	if err != nil {
		c.refused.Add(uint64(res.Items))
		return
	}
	c.accepted.Add(uint64(res.Items - res.Rejected))
	c.rejected.Add(uint64(res.Rejected))
}

func (o *OTLP) countRequest(key string) {
	o.mu.Lock()
	o.requests[key]++
	o.mu.Unlock()
}

// OTLPStats is a snapshot of the OTLP intake's counters since it was made.
type OTLPStats struct {
	// Requests counts answered requests by protocol and outcome: "http
	// 200", "http 503", "grpc OK", "grpc Unavailable", and so on.
	Requests map[string]uint64
	// By signal ("traces", "logs", "metrics"): items (spans, log records,
	// data points) of decodable requests; accepted (converted and durable,
	// acknowledged); rejected (not convertible, reported in
	// partial_success); refused (of requests answered with a retryable
	// error: the client sends them again).
	Received, Accepted, Rejected, Refused map[string]uint64
}

// Stats returns a snapshot of the counters; cheap enough for a scrape.
func (o *OTLP) Stats() OTLPStats {
	s := OTLPStats{Received: map[string]uint64{}, Accepted: map[string]uint64{},
		Rejected: map[string]uint64{}, Refused: map[string]uint64{}}
	for sig := Signal(0); sig < numSignals; sig++ {
		c := &o.stats[sig]
		s.Received[sig.String()] = c.received.Load()
		s.Accepted[sig.String()] = c.accepted.Load()
		s.Rejected[sig.String()] = c.rejected.Load()
		s.Refused[sig.String()] = c.refused.Load()
	}
	o.mu.Lock()
	s.Requests = make(map[string]uint64, len(o.requests))
	for k, v := range o.requests {
		s.Requests[k] = v
	}
	o.mu.Unlock()
	return s
}

// logRequest logs one request at debug level, without contents.
func (o *OTLP) logRequest(ctx context.Context, proto string, sig Signal, status string, res otlpconv.Result,
	bodyBytes int64, start time.Time, reason string) {
	if !o.h.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs := []any{"protocol", proto, "signal", sig.String(), "status", status, "items", res.Items,
		"rejected", res.Rejected, "envelopes", res.Records, "body_bytes", bodyBytes, "duration", time.Since(start)}
	if reason != "" {
		attrs = append(attrs, "reason", reason)
	}
	o.h.log.DebugContext(ctx, "ingest: OTLP request", attrs...)
}

// refusalReason is the message of a refused request: why, and that the
// client should send it again (or smaller).
func (o *OTLP) refusalReason(err error) string {
	var se *spoolError
	switch {
	case errors.Is(err, errMemoryTooBig):
		return fmt.Sprintf("%v (%d bytes): send smaller batches", errMemoryTooBig, o.h.budget.limit)
	case errors.Is(err, errMemoryBusy):
		o.h.memWarn.warn(o.h.log, "ingest: memory budget exhausted; refusing OTLP requests", "budget", o.h.budget.limit)
		return errMemoryBusy.Error() + "; nothing was stored, send it again later"
	case errors.Is(err, errSlotsBusy):
		return errSlotsBusy.Error() + "; nothing was stored, send it again later"
	case errors.As(err, &se):
		o.h.warn.warn(o.h.log, "ingest: spool refused an OTLP request", "err", se.err)
		return se.Error() + "; nothing was stored, send it again later"
	}
	return strings.TrimPrefix(err.Error(), "breeze: ")
}

// The Export…ServiceResponses, with a partial_success when items were
// rejected.

func ptraceotlpResponse(rejected int64, msg string) ptraceotlp.ExportResponse {
	resp := ptraceotlp.NewExportResponse()
	if rejected > 0 {
		resp.PartialSuccess().SetRejectedSpans(rejected)
		resp.PartialSuccess().SetErrorMessage(msg)
	}
	return resp
}

func plogotlpResponse(rejected int64, msg string) plogotlp.ExportResponse {
	resp := plogotlp.NewExportResponse()
	if rejected > 0 {
		resp.PartialSuccess().SetRejectedLogRecords(rejected)
		resp.PartialSuccess().SetErrorMessage(msg)
	}
	return resp
}

func pmetricotlpResponse(rejected int64, msg string) pmetricotlp.ExportResponse {
	resp := pmetricotlp.NewExportResponse()
	if rejected > 0 {
		resp.PartialSuccess().SetRejectedDataPoints(rejected)
		resp.PartialSuccess().SetErrorMessage(msg)
	}
	return resp
}

// contextWithoutCancel returns the request's context without its
// cancellation (a half-closed client cancels it), bounded by d.
func contextWithoutCancel(r *http.Request, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(r.Context()), d)
}
