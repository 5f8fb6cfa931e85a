package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/aispool/aispool/internal/breeze"
	"github.com/aispool/aispool/internal/otlpconv"
)

// Content types of OTLP/HTTP.
const (
	contentTypeProto = "application/x-protobuf"
	contentTypeJSON  = "application/json"
)

// otlpSignalOf returns the signal a path posts to: /v1/traces, /v1/logs or
// /v1/metrics, leading slashes collapsed (an endpoint with a trailing
// slash gives "//v1/traces").
func otlpSignalOf(path string) (Signal, bool) {
	p := strings.TrimLeft(path, "/")
	if len(p) == len(path) {
		return 0, false
	}
	switch p {
	case "v1/traces":
		return Traces, true
	case "v1/logs":
		return Logs, true
	case "v1/metrics":
		return Metrics, true
	}
	return 0, false
}

// ServeHTTP answers one OTLP/HTTP export request, as the OTLP
// specification says:
//
//   - 200 with the signal's Export…ServiceResponse (protobuf or JSON, as
//     the request), once every converted envelope is durable in the
//     spool; its partial_success counts the items that could not be
//     converted and says why.
//   - 400 with a google.rpc.Status: the body cannot be decoded.
//   - 404, 405 (with Allow: POST): another path, another method.
//   - 408 with Connection: close: the body arrived slower than the
//     minimum rate.
//   - 413: the body is over the limits, or needs more memory than the
//     intake's whole budget.
//   - 415: a Content-Type other than application/x-protobuf and
//     application/json (with Accept-Encoding: gzip for a
//     Content-Encoding other than gzip).
//   - 429 with Retry-After: the intake's memory or request slots are in
//     use by other requests; 503 with Retry-After: the spool cannot take
//     the items (full under the reject policy, closed, a disk error, or
//     slower than the append timeout). OTLP clients retry both.
//
// Every answer from 400 up has a google.rpc.Status body whose message
// says why, in protobuf for a protobuf request and in JSON otherwise.
func (o *OTLP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	h := o.h
	sig, ok := otlpSignalOf(r.URL.Path)
	asJSON := !isProto(r.Header.Get("Content-Type"))
	if !ok {
		o.httpStatus(w, r, asJSON, sig, start, http.StatusNotFound, codes.NotFound, 0,
			fmt.Sprintf("unknown path %q: OTLP/HTTP posts to /v1/traces, /v1/logs or /v1/metrics", clip(r.URL.Path)))
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		o.httpStatus(w, r, asJSON, sig, start, http.StatusMethodNotAllowed, codes.Unimplemented, 0,
			fmt.Sprintf("method %s not allowed: use POST", clip(r.Method)))
		return
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != contentTypeProto && mt != contentTypeJSON {
		o.httpStatus(w, r, true, sig, start, http.StatusUnsupportedMediaType, codes.InvalidArgument, 0,
			fmt.Sprintf("Content-Type %q is not supported: send application/x-protobuf or application/json", clip(r.Header.Get("Content-Type"))))
		return
	}
	asJSON = mt == contentTypeJSON
	if r.ContentLength > h.limits.MaxBodyBytes {
		o.httpStatus(w, r, asJSON, sig, start, http.StatusRequestEntityTooLarge, codes.InvalidArgument, 0,
			fmt.Sprintf("Content-Length %d is over the limit of %d bytes: send smaller batches", r.ContentLength, h.limits.MaxBodyBytes))
		return
	}
	mem := h.budget.lease(r.Context())
	defer mem.release()
	// Read as it arrives, under the minimum rate rule, its memory taken
	// from the budget: a slow client holds no slot.
	rate := newRateReader(w, r, mem, h.minBodyRate, h.bodyRateGrace, start)
	body := &countingReader{r: rate}
	var raw []byte
	err = mem.take(decodeOverhead)
	if err == nil {
		raw, err = breeze.ReadBody(body, strings.Join(r.Header.Values("Content-Encoding"), ","), r.ContentLength, h.limits, mem.charge)
	}
	h.bodyBytes.Add(uint64(body.n))
	if err != nil {
		status, code, reason := http.StatusBadRequest, codes.InvalidArgument, strings.TrimPrefix(err.Error(), "breeze: ")
		switch {
		case errors.Is(err, errBodyTooSlow):
			status, code = http.StatusRequestTimeout, codes.DeadlineExceeded
			reason = fmt.Sprintf("the body arrived slower than the minimum of %d bytes/s (%d bytes in %v, the first %v free); nothing was stored",
				h.minBodyRate, body.n, time.Since(start).Round(time.Millisecond), h.bodyRateGrace)
			w.Header().Set("Connection", "close")
		case errors.Is(err, errMemoryBusy), errors.Is(err, errMemoryTooBig):
			status, code = o.refusal(w, err)
			reason = o.refusalReason(err)
		case errors.Is(err, breeze.ErrTooLarge):
			status = http.StatusRequestEntityTooLarge
		case errors.Is(err, breeze.ErrUnsupportedEncoding):
			status = http.StatusUnsupportedMediaType
			w.Header().Set("Accept-Encoding", "gzip")
		}
		o.httpStatus(w, r, asJSON, sig, start, status, code, body.n, reason)
		return
	}
	rate.done()
	// The body is complete: from here on the request is carried out and
	// answered whatever happens to its connection, within AppendTimeout
	// (see ServeHTTP of Handler).
	ctx, cancel := contextWithoutCancel(r, h.appendTimeout)
	defer cancel()
	mem.ctx = ctx
	factor := int64(protoDecodeFactor)
	if asJSON {
		factor = jsonDecodeFactor
	}
	mem.trim()
	if err := mem.take(int64(len(raw)) * factor); err != nil {
		status, code := o.refusal(w, err)
		o.httpStatus(w, r, asJSON, sig, start, status, code, body.n, o.refusalReason(err))
		return
	}
	req, err := decodeOTLP(sig, raw, asJSON)
	if err != nil {
		what := "protobuf"
		if asJSON {
			what = "OTLP JSON"
		}
		o.httpStatus(w, r, asJSON, sig, start, http.StatusBadRequest, codes.InvalidArgument, body.n,
			fmt.Sprintf("the body is not an OTLP %s export request in %s: %v", sig, what, err))
		return
	}
	mem.give(int64(cap(raw))) // decoded: pdata copied what it keeps, raw is not used again
	res, err := o.export(ctx, mem, req)
	o.count(sig, res, err)
	if err != nil {
		status, code := o.refusal(w, err)
		o.httpStatus(w, r, asJSON, sig, start, status, code, body.n, o.refusalReason(err))
		return
	}
	out, err := exportResponse(sig, res, asJSON)
	if err != nil { // pdata's encoder of a two-field message: not expected
		o.httpStatus(w, r, asJSON, sig, start, http.StatusInternalServerError, codes.Internal, body.n, err.Error())
		return
	}
	writeBody(w, asJSON, http.StatusOK, out)
	o.countRequest("http 200")
	o.logRequest(r.Context(), "http", sig, "200", res, body.n, start, res.Message)
}

// refusal sets the answer of a request refused as a whole: 413 for a
// request too large for the budget, 429 with Retry-After while memory or
// slots are in use, 503 with Retry-After when the spool refuses.
func (o *OTLP) refusal(w http.ResponseWriter, err error) (int, codes.Code) {
	switch {
	case errors.Is(err, errMemoryTooBig):
		return http.StatusRequestEntityTooLarge, codes.InvalidArgument
	case errors.Is(err, errMemoryBusy), errors.Is(err, errSlotsBusy):
		w.Header().Set("Retry-After", o.h.retryAfter)
		return http.StatusTooManyRequests, codes.ResourceExhausted
	}
	w.Header().Set("Retry-After", o.h.retryAfter)
	return http.StatusServiceUnavailable, codes.Unavailable
}

// isProto reports whether a Content-Type is OTLP's protobuf.
func isProto(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == contentTypeProto
}

// httpStatus answers with a google.rpc.Status, counts and logs the
// request.
func (o *OTLP) httpStatus(w http.ResponseWriter, r *http.Request, asJSON bool, sig Signal, start time.Time,
	httpCode int, code codes.Code, bodyBytes int64, message string) {
	writeStatus(w, asJSON, httpCode, code, message)
	o.countRequest("http " + strconv.Itoa(httpCode))
	o.logRequest(r.Context(), "http", sig, strconv.Itoa(httpCode), otlpconv.Result{}, bodyBytes, start, message)
}

// writeStatus writes a google.rpc.Status body.
func writeStatus(w http.ResponseWriter, asJSON bool, httpCode int, code codes.Code, message string) {
	var out []byte
	if asJSON {
		out, _ = json.Marshal(struct { // plain types: cannot fail
			Code    int32  `json:"code"`
			Message string `json:"message"`
		}{int32(code), message})
	} else {
		out, _ = proto.Marshal(status.New(code, message).Proto()) // a valid message: cannot fail
	}
	writeBody(w, asJSON, httpCode, out)
}

func writeBody(w http.ResponseWriter, asJSON bool, httpCode int, out []byte) {
	hdr := w.Header()
	if asJSON {
		hdr.Set("Content-Type", contentTypeJSON)
	} else {
		hdr.Set("Content-Type", contentTypeProto)
	}
	hdr.Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(httpCode)
	_, _ = w.Write(out)
}

// exportResponse encodes the signal's Export…ServiceResponse, with a
// partial_success when items were rejected. A full success leaves
// partial_success unset, as the OTLP specification asks: an empty message
// (no bytes in protobuf, {} in JSON).
func exportResponse(sig Signal, res otlpconv.Result, asJSON bool) ([]byte, error) {
	rejected := int64(res.Rejected)
	if rejected == 0 {
		if asJSON {
			return []byte("{}"), nil
		}
		return []byte{}, nil
	}
	switch sig {
	case Traces:
		resp := ptraceotlpResponse(rejected, res.Message)
		if asJSON {
			return resp.MarshalJSON()
		}
		return resp.MarshalProto()
	case Logs:
		resp := plogotlpResponse(rejected, res.Message)
		if asJSON {
			return resp.MarshalJSON()
		}
		return resp.MarshalProto()
	}
	resp := pmetricotlpResponse(rejected, res.Message)
	if asJSON {
		return resp.MarshalJSON()
	}
	return resp.MarshalProto()
}

// OTLPRefusal writes the answer of a request that the Guard refuses, as
// the OTLP intake answers ([GuardConfig.Refusal]): a google.rpc.Status
// (PERMISSION_DENIED for 403, NOT_FOUND for 404, UNAUTHENTICATED for 401),
// in protobuf for a protobuf request and JSON otherwise.
func OTLPRefusal(w http.ResponseWriter, r *http.Request, httpCode int, message string) {
	code := codes.Unauthenticated
	switch httpCode {
	case http.StatusForbidden:
		code = codes.PermissionDenied
	case http.StatusNotFound:
		code = codes.NotFound
	}
	writeStatus(w, !isProto(r.Header.Get("Content-Type")), httpCode, code, message)
}

// OTLPPathHint is the GuardConfig.PathHint of the OTLP/HTTP intake: OTLP
// clients take a base URL and append v1/<signal>.
const OTLPPathHint = "OTEL_EXPORTER_OTLP_ENDPOINT=https://<host>:<port>/<secret>"
