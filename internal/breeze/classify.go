package breeze

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Drop reasons that are not an HTTP status code. Items refused by status
// code are dropped with the reason "status_<code>" (see [StatusReason]).
// They key the sender's statistics and the spool's drop counters.
const (
	// ReasonSampledOut: the service answered that it sampled the item out.
	ReasonSampledOut = "sampled_out"
	// ReasonExpired: the item was older than the sender's MaxAge before
	// sending (the service refuses items older than 48 h).
	ReasonExpired = "expired"
	// ReasonMaxAttempts: the item was tried the sender's MaxAttempts times.
	ReasonMaxAttempts = "max_attempts"
	// ReasonTooLarge: the item exceeds the sender's MaxItemBytes (the
	// service refuses items of 64 KiB and more).
	ReasonTooLarge = "too_large"
	// ReasonPoison: the item made every request holding it fail as a whole
	// (5xx, 400 without errors[], a reset) while requests without it
	// succeeded, alone, the sender's PoisonAttempts times.
	ReasonPoison = "poison"
)

// StatusReason returns the drop reason for an item refused with an HTTP
// status code: "status_<code>".
func StatusReason(code int) string {
	return "status_" + strconv.Itoa(code)
}

// MaxRetryAfter is the longest Retry-After a client honours: longer waits
// are clamped to it.
const MaxRetryAfter = time.Hour

// Verdict is what one response (or transport failure) means for the items of
// the request, as indices into the request's items. It mirrors the spool's
// [github.com/aispool/aispool/spool.Outcome]: indices in Retry are kept for a later attempt, indices in Drop are
// removed undelivered and counted by reason, and every other index is
// acknowledged (delivered, or deliberately ignored like a 206 entry out of
// range).
type Verdict struct {
	// Status is the HTTP status, or 0 for a transport failure.
	Status int
	// Retry holds the indices to keep for a later attempt, ascending.
	Retry []int
	// Drop holds, per reason, the indices removed undelivered, ascending.
	Drop map[string][]int
	// Backoff says the endpoint is unhealthy: arm (or grow) its back-off.
	Backoff bool
	// RetryAfter is the server's Retry-After, clamped to [MaxRetryAfter]; 0 if
	// absent, unparsable, in the past, or if Backoff is false. When set it
	// replaces the exponential back-off interval.
	RetryAfter time.Duration
	// Split asks to resend the items in two halves (413 with more than one
	// item); Retry then holds every index.
	Split bool
	// Delay says that the endpoint accepted items of the request while
	// asking for others to be retried: the endpoint is healthy (Backoff is
	// false), and the kept items wait a per-record delay that grows with
	// their attempts while every other record keeps flowing.
	Delay bool
	// Isolate says that the whole request failed in a way one bad item can
	// cause (5xx, a 400 without errors[], a transport failure) and the
	// service did not ask to wait (no Retry-After): while other requests
	// succeed, the client splits the request to isolate the item.
	Isolate bool
	// WrongEndpoint says that the answer cannot come from the ingestion
	// service: 404, 405, or a 2xx whose body is not a track response (a
	// proxy, a captive portal, a wrong host or path). Everything is kept:
	// the mistake gets fixed and the data must survive it.
	WrongEndpoint bool
	// Err describes a transport failure, or a body that could not be decoded
	// where one was needed; nil otherwise.
	Err error
}

// Acked returns the indices of the n items that v acknowledges.
func (v Verdict) Acked(n int) []int {
	out := make([]int, 0, n)
	settled := make(map[int]bool, len(v.Retry))
	for _, i := range v.Retry {
		settled[i] = true
	}
	for _, idx := range v.Drop {
		for _, i := range idx {
			settled[i] = true
		}
	}
	for i := range n {
		if !settled[i] {
			out = append(out, i)
		}
	}
	return out
}

// retriableItem reports whether a per-item status code is worth a retry.
func retriableItem(code int) bool {
	switch code {
	case 408, 429, 439, 500, 502, 503, 504:
		return true
	}
	return false
}

// sampledOut reports whether a per-item message says the item was sampled
// out ("Telemetry sampled out."); such items are never retried.
func sampledOut(msg string) bool {
	return strings.Contains(strings.ToLower(msg), "sampled out")
}

// keepsAll reports whether a whole-response status keeps every item and
// backs off: 401, 403, 408, 429, 439 and every 5xx. Other statuses not
// handled explicitly by [Classify] (1xx, 3xx other than 307/308) are treated
// the same way, so an unexpected answer never loses data.
func keepsAll(status int) bool {
	switch {
	case status == 401, status == 403, status == 408, status == 429, status == 439:
		return true
	case status >= 500:
		return true
	case status < 200, status >= 300 && status < 400:
		return true
	}
	return false
}

// Classify decides what a response with the given status, headers and body
// means for a request of n items, at time now (for Retry-After dates). It
// follows the project's response decisions (docs/protocol.md):
//
//   - 2xx other than 206 whose body is a track response: acknowledge
//     everything. One whose body is not (a proxy, a captive portal, a wrong
//     host) keeps everything and backs off ([Verdict.WrongEndpoint]);
//   - 206, and 400 whose body lists errors[]: acknowledge accepted items,
//     keep items whose code is 408, 429, 439, 500, 502, 503 or 504 unless
//     the message says sampled out, drop the rest by code. Kept items wait a
//     per-record delay ([Verdict.Delay]); the endpoint backs off only when
//     the answer carries Retry-After or nothing was accepted. A 206 whose
//     body is not a track response keeps everything and backs off;
//   - 401, 403, 408, 429, 439, 5xx (and unexpected 1xx/3xx): keep
//     everything, back off, honour Retry-After; 5xx without Retry-After may
//     be one bad item's doing ([Verdict.Isolate]);
//   - 400 without errors[]: keep everything and back off; isolate;
//   - 404, 405: keep everything and back off ([Verdict.WrongEndpoint]);
//   - 413: split in half and resend ([Verdict.Split]); a single item is
//     dropped;
//   - 402 and other 4xx: drop everything by code.
//
// Redirects (307/308) are followed before classification; Classify treats a
// 307/308 that reaches it (too many hops, refused) as keep-and-back-off.
func Classify(n, status int, header http.Header, body []byte, now time.Time) Verdict {
	v := Verdict{Status: status}
	switch {
	case status == http.StatusPartialContent:
		resp, err := DecodeResponse(body)
		if err != nil {
			v.Err = err
			v.keepAll(n, header, now)
			return v
		}
		v.partial(n, resp, header, now)
	case status >= 200 && status < 300:
		if _, err := DecodeResponse(body); err != nil {
			v.Err = err
			v.WrongEndpoint = true
			v.keepAll(n, header, now)
		}
	case status == http.StatusBadRequest:
		if resp, err := DecodeResponse(body); err == nil && len(resp.Errors) > 0 {
			v.partial(n, resp, header, now)
			return v
		}
		v.keepAll(n, header, now)
		v.Isolate = v.RetryAfter == 0
	case status == http.StatusNotFound, status == http.StatusMethodNotAllowed:
		v.WrongEndpoint = true
		v.keepAll(n, header, now)
	case status == http.StatusRequestEntityTooLarge:
		if n > 1 {
			v.Split = true
			v.Retry = seq(n)
			return v
		}
		v.dropAll(n, StatusReason(status))
	case keepsAll(status):
		v.keepAll(n, header, now)
		v.Isolate = status >= 500 && v.RetryAfter == 0
	default: // 402, other 4xx
		v.dropAll(n, StatusReason(status))
	}
	return v
}

// ClassifyError is the verdict for a request of n items that got no
// response: keep everything and back off. A caller whose request was sent
// and then reset or timed out sets [Verdict.Isolate]: that may be one bad
// item's doing, where a failure before sending (a token, a redirect) is not.
func ClassifyError(n int, err error) Verdict {
	v := Verdict{Err: err}
	v.Retry = seq(n)
	v.Backoff = true
	return v
}

func (v *Verdict) keepAll(n int, header http.Header, now time.Time) {
	v.Retry = seq(n)
	v.Backoff = true
	v.RetryAfter, _ = ParseRetryAfter(header.Get("Retry-After"), now)
}

func (v *Verdict) dropAll(n int, reason string) {
	if n > 0 {
		v.Drop = map[string][]int{reason: seq(n)}
	}
}

// partial applies the errors[] of a 206 or 400. An item listed more than once
// is kept if any entry is retriable, else dropped by its first code; entries
// whose index is out of range are ignored.
func (v *Verdict) partial(n int, resp TrackResponse, header http.Header, now time.Time) {
	const (
		none = iota
		drop
		keep
	)
	state := make(map[int]int, len(resp.Errors))
	reason := make(map[int]string, len(resp.Errors))
	for _, e := range resp.Errors {
		if e.Index < 0 || e.Index >= n {
			continue
		}
		switch {
		case sampledOut(e.Message):
			if state[e.Index] == none {
				state[e.Index], reason[e.Index] = drop, ReasonSampledOut
			}
		case retriableItem(e.StatusCode):
			state[e.Index] = keep
		default:
			if state[e.Index] == none {
				state[e.Index], reason[e.Index] = drop, StatusReason(e.StatusCode)
			}
		}
	}
	for i, s := range state {
		switch s {
		case keep:
			v.Retry = append(v.Retry, i)
		case drop:
			if v.Drop == nil {
				v.Drop = make(map[string][]int)
			}
			v.Drop[reason[i]] = append(v.Drop[reason[i]], i)
		}
	}
	slices.Sort(v.Retry)
	for _, idx := range v.Drop {
		slices.Sort(idx)
	}
	if len(v.Retry) == 0 {
		return
	}
	// Items were accepted: the endpoint is healthy, and only the kept items
	// wait, unless the service asked to wait (its word wins) or accepted
	// nothing.
	v.RetryAfter, _ = ParseRetryAfter(header.Get("Retry-After"), now)
	accepted := n - len(state) // every other item was kept or dropped
	if v.RetryAfter > 0 || accepted == 0 {
		v.Backoff = true
		return
	}
	v.Delay = true
}

// ParseRetryAfter parses a Retry-After value, delay-seconds or an HTTP date,
// relative to now. It returns false for an empty, unparsable, zero or past
// value; a longer wait than [MaxRetryAfter] is clamped to it.
func ParseRetryAfter(value string, now time.Time) (time.Duration, bool) {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0, false
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(value, 10, 64); err == nil {
		if secs <= 0 {
			return 0, false
		}
		if secs > int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter, true
		}
		d = time.Duration(secs) * time.Second
	} else {
		t, err := http.ParseTime(value)
		if err != nil {
			return 0, false
		}
		d = t.Sub(now)
		if d <= 0 {
			return 0, false
		}
	}
	return min(d, MaxRetryAfter), true
}

// seq returns 0..n-1.
func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}
