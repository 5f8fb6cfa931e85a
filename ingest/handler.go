package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aispool/aispool/exporter/envelope"
	"github.com/aispool/aispool/internal/breeze"
	"github.com/aispool/aispool/spool"
)

// Appender stores records durably: Append returns nil only once every
// record is on stable storage. *spool.Spool implements it. An error refuses
// the whole call; a *spool.RecordError names one record refused on its own.
// Append keeps nothing of records once it returns (the handler reuses their
// memory for the next request), whatever it returns.
type Appender interface {
	Append(ctx context.Context, records ...[]byte) error
}

// Defaults for the zero fields of Config.
const (
	DefaultRetryAfter    = 10 * time.Second
	DefaultAppendTimeout = 15 * time.Second
)

// Config configures a Handler.
type Config struct {
	// Spool receives the accepted items, one record each. Required.
	Spool Appender
	// Limits bounds request bodies; zero fields take the defaults of
	// [breeze.Limits] (64 MiB as received, twice that decoded, 64,000
	// items, 64 KiB per item). Negative fields are an error.
	Limits breeze.Limits
	// Logger receives the handler's log lines (never envelope contents).
	// Default slog.Default().
	Logger *slog.Logger
	// RetryAfter is sent with every 503, rounded up to whole seconds.
	// Default DefaultRetryAfter (10 s).
	RetryAfter time.Duration
	// AppendTimeout bounds how long a request waits for the spool before
	// it is answered 503, so that clients with short timeouts get an
	// answer. Default DefaultAppendTimeout (15 s).
	AppendTimeout time.Duration
	// MaxConcurrent bounds the requests stored at once: a request takes a
	// slot once its body is read, decoded and validated (which only
	// MemoryBudget bounds), so that slow clients hold none; the others
	// wait their turn, up to AppendTimeout. Default DefaultMaxConcurrent.
	MaxConcurrent int
	// MinBodyRate is the slowest a request body may arrive, in bytes per
	// second on average since the end of the request's headers, after
	// BodyRateGrace (time spent waiting for memory does not count): a
	// body that falls behind is cut and answered 408, nothing stored, and
	// the connection closed. Any body must also arrive within
	// ReadTimeout. Default DefaultMinBodyRate (4 KiB/s).
	MinBodyRate int64
	// BodyRateGrace is the time a body has before MinBodyRate applies.
	// Default DefaultBodyRateGrace (5 s).
	BodyRateGrace time.Duration
	// MemoryBudget bounds the memory that all the requests in flight hold
	// together: the decompressed bytes being decoded and validated, the
	// items, and the records until the spool has them. A request takes
	// its share as it goes; one that cannot get it within MemoryWait is
	// answered 503 with Retry-After, one that alone would need more than
	// the whole budget 413 (a client must send smaller batches). Default
	// DefaultMemoryBudget(Limits): room for one request at the limits
	// (about twice Limits.MaxDecodedBytes, 282 MiB with the default
	// limits); the daemon sets a much smaller one, derived from its
	// memory limit.
	MemoryBudget int64
	// MemoryWait is how long a request that holds no memory yet waits for
	// memory that others hold before it is answered 503; a request that
	// already holds some waits at most 250 ms for more, so that requests
	// waiting for each other soon free their share. Default
	// DefaultMemoryWait.
	MemoryWait time.Duration
	// AfterBurst, if set, is called in a goroutine of its own when the
	// requests in flight have given back most of their memory (down to an
	// eighth of MemoryBudget) after holding at least half of it; peak is
	// the most they held. The daemon returns memory to the operating
	// system then (debug.FreeOSMemory).
	AfterBurst func(peak int64)
}

// DefaultMemoryWait is the default of Config.MemoryWait.
const DefaultMemoryWait = 2 * time.Second

// Memory a request is charged besides its decompressed bytes (see
// Config.MemoryBudget).
const (
	// decodeOverhead: the decoder's buffers and gzip state.
	decodeOverhead = 192 << 10
	// recordOverhead: each valid item's record and its place in the
	// spool's call.
	recordOverhead = 64
	// errorOverhead: each invalid item's entry in the answer.
	errorOverhead = 256
)

// DefaultMemoryBudget returns the default of Config.MemoryBudget for
// limits: what one request at the limits may need (its decompressed bytes
// twice, as items and then as records while the spool copies them, with
// the overheads of MaxItems items), so that it can be served alone.
func DefaultMemoryBudget(limits breeze.Limits) int64 {
	l := limits.WithDefaults()
	return 2*l.MaxDecodedBytes + int64(l.MaxItems)*(breeze.ItemOverhead+recordOverhead+errorOverhead) + decodeOverhead
}

// DefaultMaxConcurrent is the default of Config.MaxConcurrent: enough to
// keep two cores and the spool's group commit busy.
const DefaultMaxConcurrent = 8

// Handler is the ingestion endpoint. It is safe for concurrent use.
type Handler struct {
	spool      Appender
	limits     breeze.Limits
	log        *slog.Logger
	retryAfter string // header value, whole seconds
	// retryAfterDuration is retryAfter as gRPC's RetryInfo says it.
	retryAfterDuration time.Duration
	appendTimeout      time.Duration
	slots              chan struct{} // one per request being stored
	budget             *memBudget
	minBodyRate        int64
	bodyRateGrace      time.Duration
	// decoders holds *scratch between requests: what a decode needs
	// besides its items (charged as decodeOverhead), the memory of the
	// items themselves and the slices that hand them to the spool are not
	// allocated for every request.
	decoders sync.Pool

	itemsReceived, itemsAccepted, itemsRejected, itemsRefused atomic.Uint64
	bodyBytes, storedBytes                                    atomic.Uint64

	mu       sync.Mutex
	requests map[int]uint64

	warn    warnLimiter // the spool's refusals
	memWarn warnLimiter // refusals for want of memory
}

// New returns a Handler for cfg, or an error naming every invalid field.
func New(cfg Config) (*Handler, error) {
	var errs []error
	if cfg.Spool == nil {
		errs = append(errs, errors.New("field Spool is nil"))
	}
	l := cfg.Limits
	if l.MaxBodyBytes < 0 || l.MaxDecodedBytes < 0 || l.MaxItems < 0 || l.MaxItemBytes < 0 {
		errs = append(errs, fmt.Errorf("field Limits %+v has a negative value", l))
	}
	if cfg.RetryAfter < 0 {
		errs = append(errs, fmt.Errorf("field RetryAfter %v is negative", cfg.RetryAfter))
	}
	if cfg.AppendTimeout < 0 {
		errs = append(errs, fmt.Errorf("field AppendTimeout %v is negative", cfg.AppendTimeout))
	}
	if cfg.MaxConcurrent < 0 {
		errs = append(errs, fmt.Errorf("field MaxConcurrent %d is negative", cfg.MaxConcurrent))
	}
	if cfg.MemoryBudget < 0 {
		errs = append(errs, fmt.Errorf("field MemoryBudget %d is negative", cfg.MemoryBudget))
	} else if cfg.MemoryBudget > 0 && cfg.MemoryBudget < 2*decodeOverhead {
		errs = append(errs, fmt.Errorf("field MemoryBudget %d is less than %d bytes", cfg.MemoryBudget, 2*decodeOverhead))
	}
	if cfg.MinBodyRate < 0 {
		errs = append(errs, fmt.Errorf("field MinBodyRate %d is negative", cfg.MinBodyRate))
	}
	if cfg.BodyRateGrace < 0 {
		errs = append(errs, fmt.Errorf("field BodyRateGrace %v is negative", cfg.BodyRateGrace))
	}
	if cfg.MemoryWait < 0 {
		errs = append(errs, fmt.Errorf("field MemoryWait %v is negative", cfg.MemoryWait))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("ingest: invalid config: %w", errors.Join(errs...))
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RetryAfter == 0 {
		cfg.RetryAfter = DefaultRetryAfter
	}
	if cfg.AppendTimeout == 0 {
		cfg.AppendTimeout = DefaultAppendTimeout
	}
	if cfg.MaxConcurrent == 0 {
		cfg.MaxConcurrent = DefaultMaxConcurrent
	}
	if cfg.MemoryBudget == 0 {
		cfg.MemoryBudget = DefaultMemoryBudget(l)
	}
	if cfg.MemoryWait == 0 {
		cfg.MemoryWait = DefaultMemoryWait
	}
	if cfg.MinBodyRate == 0 {
		cfg.MinBodyRate = DefaultMinBodyRate
	}
	if cfg.BodyRateGrace == 0 {
		cfg.BodyRateGrace = DefaultBodyRateGrace
	}
	secs := int64((cfg.RetryAfter + time.Second - 1) / time.Second)
	return &Handler{
		spool:              cfg.Spool,
		limits:             l.WithDefaults(),
		log:                cfg.Logger,
		retryAfter:         strconv.FormatInt(secs, 10),
		retryAfterDuration: time.Duration(secs) * time.Second,
		appendTimeout:      cfg.AppendTimeout,
		slots:              make(chan struct{}, cfg.MaxConcurrent),
		budget:             newMemBudget(cfg.MemoryBudget, cfg.MemoryWait, cfg.AfterBurst),
		minBodyRate:        cfg.MinBodyRate,
		bodyRateGrace:      cfg.BodyRateGrace,
		requests:           make(map[int]uint64),
	}, nil
}

// Limits returns the limits in force, defaults filled in. A body within
// them is also refused (413) if it alone needs more than the memory budget
// (see Config.MemoryBudget).
func (h *Handler) Limits() breeze.Limits { return h.limits }

// MemoryBudget returns the memory budget in force (Config.MemoryBudget).
func (h *Handler) MemoryBudget() int64 { return h.budget.limit }

// isTrackPath reports whether path is /v2/track or /v2.1/track, with any
// number of leading slashes.
func isTrackPath(path string) bool {
	p := strings.TrimLeft(path, "/")
	return len(p) < len(path) && (p == "v2/track" || p == "v2.1/track")
}

// ServeHTTP answers one track request; see the package documentation.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if !isTrackPath(r.URL.Path) {
		h.finish(w, r, start, http.StatusNotFound, breeze.TrackResponse{}, 0,
			fmt.Sprintf("unknown path %q: post telemetry to /v2.1/track or /v2/track", clip(r.URL.Path)))
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.finish(w, r, start, http.StatusMethodNotAllowed, breeze.TrackResponse{}, 0,
			fmt.Sprintf("method %s not allowed: use POST", clip(r.Method)))
		return
	}
	if r.ContentLength > h.limits.MaxBodyBytes {
		h.finish(w, r, start, http.StatusRequestEntityTooLarge, breeze.TrackResponse{}, 0,
			fmt.Sprintf("Content-Length %d is over the limit of %d bytes: send smaller batches", r.ContentLength, h.limits.MaxBodyBytes))
		return
	}
	mem := h.budget.lease(r.Context())
	defer mem.release()
	// The body is read and decoded as it arrives, under the minimum rate
	// rule, with its memory taken from the budget: a slow client holds
	// neither a slot nor more memory than it has sent.
	rate := newRateReader(w, r, mem, h.minBodyRate, h.bodyRateGrace, start)
	body := &countingReader{r: rate}
	var items []breeze.Item
	var tmp *scratch
	sc, _ := h.decoders.Get().(*scratch)
	if sc == nil {
		sc = new(scratch)
	}
	// The items are in sc's memory, which the next request's decode
	// reuses: sc goes back once the spool has them (Append keeps
	// nothing of its records once it returns).
	defer h.putScratch(sc)
	charge, err := h.takeScratch(mem, sc)
	if err == nil {
		tmp = sc
		// The decode validates each item's envelope (see check): an item
		// that it finds valid and compact already is not compacted again.
		items, err = sc.bufs.DecodeLinesChecked(body, strings.Join(r.Header.Values("Content-Encoding"), ","), h.limits, charge, envelope.ValidateCompact)
	}
	h.bodyBytes.Add(uint64(body.n))
	if err != nil {
		status := http.StatusBadRequest
		reason := err.Error()
		switch {
		case errors.Is(err, errBodyTooSlow):
			status = http.StatusRequestTimeout
			reason = fmt.Sprintf("the body arrived slower than the minimum of %d bytes/s (%d bytes in %v, the first %v free); nothing was stored",
				h.minBodyRate, body.n, time.Since(start).Round(time.Millisecond), h.bodyRateGrace)
			w.Header().Set("Connection", "close")
		case h.memoryRefusal(w, err, &status, &reason):
		case errors.Is(err, breeze.ErrTooLarge):
			status = http.StatusRequestEntityTooLarge
		case errors.Is(err, breeze.ErrUnsupportedEncoding):
			status = http.StatusUnsupportedMediaType
			w.Header().Set("Accept-Encoding", "gzip")
		}
		h.finish(w, r, start, status, breeze.TrackResponse{}, body.n, reason)
		return
	}
	rate.done()
	// The body is complete. The request's context is cancelled when the
	// connection's read side ends, which is also what a client that
	// half-closes its side after sending does: from here on the request
	// is carried out and answered whatever happens to it, within
	// AppendTimeout (a client really gone only misses the answer, and
	// resends what it never saw acknowledged).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), h.appendTimeout)
	defer cancel()
	mem.ctx = ctx
	select {
	case h.slots <- struct{}{}:
		defer func() { <-h.slots }()
	case <-ctx.Done():
		w.Header().Set("Retry-After", h.retryAfter)
		h.finish(w, r, start, http.StatusServiceUnavailable, breeze.TrackResponse{}, body.n,
			"too many requests are being stored at once; nothing was stored, send it again after Retry-After")
		return
	}
	// The records are the items' own bytes (DecodeLines makes each a line
	// of NDJSON, ready to store): what the decode holds is held until the
	// spool has them.
	mem.trim()
	resp, records, err := h.check(items, mem, tmp)
	if err != nil {
		status, reason := http.StatusServiceUnavailable, ""
		h.memoryRefusal(w, err, &status, &reason)
		h.finish(w, r, start, status, breeze.TrackResponse{}, body.n, reason)
		return
	}
	h.itemsReceived.Add(uint64(resp.ItemsReceived))
	if len(records) == 0 {
		h.itemsRejected.Add(uint64(len(resp.Errors)))
		h.finish(w, r, start, http.StatusBadRequest, resp, body.n, "no item is valid: errors lists why, item by item")
		return
	}
	var size int64
	for _, rec := range records {
		size += int64(len(rec.data))
	}
	// The spool copies the records before it writes them.
	if err := mem.take(size); err != nil {
		status, reason := http.StatusServiceUnavailable, ""
		h.memoryRefusal(w, err, &status, &reason)
		h.finish(w, r, start, status, breeze.TrackResponse{ItemsReceived: resp.ItemsReceived}, body.n, reason)
		return
	}
	if err := h.store(ctx, &resp, records, tmp); err != nil {
		h.itemsRefused.Add(uint64(resp.ItemsAccepted))
		h.warn.warn(h.log, "ingest: spool refused a request; answering 503", "err", err)
		w.Header().Set("Retry-After", h.retryAfter)
		refused := breeze.TrackResponse{ItemsReceived: resp.ItemsReceived}
		h.finish(w, r, start, http.StatusServiceUnavailable, refused, body.n,
			"the spool could not take the items; nothing was stored, send them again after Retry-After: "+err.Error())
		return
	}
	h.itemsAccepted.Add(uint64(resp.ItemsAccepted))
	h.itemsRejected.Add(uint64(len(resp.Errors)))
	status := http.StatusOK
	if len(resp.Errors) > 0 {
		status = http.StatusPartialContent
	}
	h.finish(w, r, start, status, resp, body.n, "")
}

// scratch is the memory one request's decode and append use, kept from
// one request to the next (in Handler.decoders).
type scratch struct {
	bufs    breeze.Buffers
	records []record
	data    [][]byte
}

// retained is the memory sc keeps of earlier requests for the next one.
func (sc *scratch) retained() int64 {
	return sc.bufs.Retained() + int64(cap(sc.records))*recordOverhead + int64(cap(sc.data))*sliceHeader
}

// sliceHeader is the size of a []byte in a slice of them.
const sliceHeader = 24

// takeScratch charges the request mem for decoding with sc: the decoder's
// buffers (decodeOverhead) and the memory sc kept of earlier requests,
// which a request holds from its first byte (a slow client too), so that
// the pooled scratches stay within the memory budget. A scratch that
// keeps more than an eighth of the budget sheds it first. It returns the
// charge function of the decode: the items a decode writes into the kept
// memory are charged once, as that memory.
func (h *Handler) takeScratch(mem *lease, sc *scratch) (func(int64) error, error) {
	credit := sc.retained()
	if credit > h.budget.limit/8 {
		sc.bufs.Shed()
		sc.records, sc.data = nil, nil
		credit = 0
	}
	if err := mem.take(decodeOverhead + credit); err != nil {
		return nil, err
	}
	return func(n int64) error {
		if n <= credit {
			credit -= n
			return nil
		}
		n -= credit
		credit = 0
		return mem.charge(n)
	}, nil
}

// putScratch puts sc back in the pool without references to the items
// of the request it served: their memory beyond what sc keeps for the
// next request (sc.retained, which is charged to whoever takes it) is
// then the garbage collector's, not held by a pooled scratch unseen by
// the memory budget.
func (h *Handler) putScratch(sc *scratch) {
	sc.bufs.Forget()
	clear(sc.records[:cap(sc.records)])
	clear(sc.data[:cap(sc.data)])
	h.decoders.Put(sc)
}

// keepSlices bounds the records a scratch's slices keep room for.
const keepSlices = 4096

// recordSlice returns an empty slice with room for n records.
func (sc *scratch) recordSlice(n int) []record { return reuse(&sc.records, n)[:0] }

// dataSlice returns a slice of n nil records.
func (sc *scratch) dataSlice(n int) [][]byte { return reuse(&sc.data, n) }

// reuse returns a slice of n zero values: *kept if it has room for them
// (a scratch's slices are clear: putScratch clears them before the
// scratch goes back to the pool), else a new slice, which *kept becomes
// if n <= keepSlices.
func reuse[T any](kept *[]T, n int) []T {
	if cap(*kept) < n {
		s := make([]T, n)
		if n <= keepSlices {
			*kept = s
		}
		return s
	}
	return (*kept)[:n]
}

// record is an accepted item on its way to the spool.
type record struct {
	index int    // position in the request
	data  []byte // compact JSON + '\n'
}

// memoryRefusal sets the answer for err if it is a refusal for want of
// memory (a lease's error), and reports whether it was.
func (h *Handler) memoryRefusal(w http.ResponseWriter, err error, status *int, reason *string) bool {
	switch {
	case errors.Is(err, errMemoryBusy):
		*status = http.StatusServiceUnavailable
		*reason = errMemoryBusy.Error() + "; nothing was stored, send it again after Retry-After"
		w.Header().Set("Retry-After", h.retryAfter)
		h.memWarn.warn(h.log, "ingest: memory budget exhausted; answering 503", "budget", h.budget.limit)
		return true
	case errors.Is(err, errMemoryTooBig):
		*status = http.StatusRequestEntityTooLarge
		*reason = fmt.Sprintf("%v (%d bytes): send smaller batches", errMemoryTooBig, h.budget.limit)
		return true
	}
	return false
}

// check collects the items that DecodeLinesChecked decoded and validated
// with envelope.ValidateCompact (which refuses anything that is not valid JSON,
// as the decode requires: FuzzValidateFast and FuzzHandler hold it to
// that). It returns the response as if every valid item were stored, and
// the records of the valid items (the items' own lines, not copies), whose
// memory it takes from mem first.
func (h *Handler) check(items []breeze.Item, mem *lease, sc *scratch) (breeze.TrackResponse, []record, error) {
	resp := breeze.TrackResponse{ItemsReceived: len(items), Errors: []breeze.ItemError{}}
	if err := mem.take(int64(len(items)) * recordOverhead); err != nil {
		return breeze.TrackResponse{}, nil, err
	}
	records := sc.recordSlice(len(items))
	for i, it := range items {
		if err := it.Err; err != nil {
			resp.Errors = append(resp.Errors, breeze.ItemError{Index: i, StatusCode: http.StatusBadRequest, Message: err.Error()})
			continue
		}
		records = append(records, record{index: i, data: it.Raw})
	}
	resp.ItemsAccepted = len(records)
	if err := mem.take(int64(len(resp.Errors)) * errorOverhead); err != nil {
		return breeze.TrackResponse{}, nil, err
	}
	return resp, records, nil
}

// store appends the records in one call. A record the spool refuses on its
// own (a *spool.RecordError) becomes a per-item error and the rest is
// appended again; any other error refuses the whole request.
func (h *Handler) store(ctx context.Context, resp *breeze.TrackResponse, records []record, sc *scratch) error {
	data := sc.dataSlice(len(records))
	for i, rec := range records {
		data[i] = rec.data
	}
	refused, err := h.appendRecords(ctx, data)
	if err != nil {
		return err
	}
	for _, rf := range refused {
		resp.Errors = append(resp.Errors, breeze.ItemError{
			Index:      records[rf.index].index,
			StatusCode: http.StatusBadRequest,
			Message:    "item refused by the spool: " + rf.err.Error(),
		})
	}
	resp.ItemsAccepted = len(records) - len(refused)
	slices.SortFunc(resp.Errors, func(a, b breeze.ItemError) int { return a.Index - b.Index })
	return nil
}

// recordRefusal is a record that the spool refused on its own.
type recordRefusal struct {
	index int // in the records given to appendRecords
	err   error
}

// appendRecords appends data in one spool call, within AppendTimeout. A
// record the spool refuses on its own (a *spool.RecordError) is left out
// and the rest appended again, and reported; any other error refuses the
// whole call. The stored bytes are counted.
func (h *Handler) appendRecords(ctx context.Context, data [][]byte) ([]recordRefusal, error) {
	ctx, cancel := context.WithTimeout(ctx, h.appendTimeout)
	defer cancel()
	index := make([]int, len(data)) // original position of data[i]
	for i := range index {
		index[i] = i
	}
	var refused []recordRefusal
	for len(data) > 0 {
		err := h.spool.Append(ctx, data...)
		var re *spool.RecordError
		if err == nil || !errors.As(err, &re) || re.Index < 0 || re.Index >= len(data) {
			if err == nil {
				var n uint64
				for _, d := range data {
					n += uint64(len(d))
				}
				h.storedBytes.Add(n)
			}
			return refused, err
		}
		refused = append(refused, recordRefusal{index: index[re.Index], err: re.Err})
		data = slices.Delete(data, re.Index, re.Index+1)
		index = slices.Delete(index, re.Index, re.Index+1)
	}
	return refused, nil
}

// answer is the body of every answer: the service's TrackResponse, and for
// a refusal (any status from 400 up) a message saying why, so that a
// person with curl sees it. SDKs ignore fields they do not know.
type answer struct {
	breeze.TrackResponse
	Message string `json:"message,omitempty"`
}

// finish writes the answer, counts it and logs it (without contents).
// reason says why a request was refused; it is the answer's message for
// every status from 400 up.
func (h *Handler) finish(w http.ResponseWriter, r *http.Request, start time.Time, status int, resp breeze.TrackResponse, bodyBytes int64, reason string) {
	if resp.Errors == nil {
		resp.Errors = []breeze.ItemError{}
	}
	// A 206 whose valid items were all refused by the spool one by one
	// is a 400: nothing was accepted.
	if status == http.StatusPartialContent && resp.ItemsAccepted == 0 {
		status = http.StatusBadRequest
		reason = "no item is valid: errors lists why, item by item"
	}
	ans := answer{TrackResponse: resp}
	if status >= http.StatusBadRequest {
		ans.Message = reason
	}
	out, _ := json.Marshal(ans) // cannot fail: plain types
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json; charset=utf-8")
	hdr.Set("Content-Length", strconv.Itoa(len(out)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(out, '\n'))

	h.mu.Lock()
	h.requests[status]++
	h.mu.Unlock()
	if h.log.Enabled(r.Context(), slog.LevelDebug) {
		attrs := []any{"status", status, "path", r.URL.Path, "remote", r.RemoteAddr,
			"items", resp.ItemsReceived, "accepted", resp.ItemsAccepted, "rejected", len(resp.Errors),
			"body_bytes", bodyBytes, "duration", time.Since(start)}
		if reason != "" {
			attrs = append(attrs, "reason", reason)
		}
		h.log.DebugContext(r.Context(), "ingest: request", attrs...)
	}
}

// Stats is a snapshot of a Handler's counters since New.
type Stats struct {
	// Requests counts answered requests by HTTP status.
	Requests map[int]uint64
	// ItemsReceived counts the items of decodable bodies.
	ItemsReceived uint64
	// ItemsAccepted counts items stored durably and acknowledged (200/206).
	ItemsAccepted uint64
	// ItemsRejected counts items refused as invalid (per-item errors).
	ItemsRejected uint64
	// ItemsRefused counts valid items of requests answered 503: the
	// client was told to send them again.
	ItemsRefused uint64
	// BodyBytes counts request body bytes read, as received.
	BodyBytes uint64
	// MemoryInUse is the memory the requests in flight hold now, out of
	// the memory budget (Config.MemoryBudget).
	MemoryInUse int64
	// StoredBytes counts the bytes of the records stored.
	StoredBytes uint64
}

// Stats returns a snapshot of the counters; cheap enough for a metrics
// scrape.
func (h *Handler) Stats() Stats {
	h.mu.Lock()
	req := make(map[int]uint64, len(h.requests))
	for k, v := range h.requests {
		req[k] = v
	}
	h.mu.Unlock()
	return Stats{
		Requests:      req,
		ItemsReceived: h.itemsReceived.Load(),
		ItemsAccepted: h.itemsAccepted.Load(),
		ItemsRejected: h.itemsRejected.Load(),
		ItemsRefused:  h.itemsRefused.Load(),
		BodyBytes:     h.bodyBytes.Load(),
		MemoryInUse:   h.budget.inUse(),
		StoredBytes:   h.storedBytes.Load(),
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// warnLimiter logs a warning at most once per warnEvery, saying how many
// were suppressed meanwhile, so that a long spool outage does not flood the
// log.
type warnLimiter struct {
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

const warnEvery = 10 * time.Second

func (l *warnLimiter) warn(log *slog.Logger, msg string, args ...any) {
	l.mu.Lock()
	now := time.Now()
	if !l.last.IsZero() && now.Sub(l.last) < warnEvery {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	n := l.suppressed
	l.last, l.suppressed = now, 0
	l.mu.Unlock()
	if n > 0 {
		args = append(args, "suppressed", n)
	}
	log.Warn(msg, args...)
}

// clip shortens a client-supplied string for a message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
