package fakeingest

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidProfile is wrapped by every error LoadProfile, ParseProfile,
// ProfileByName and Profile.Validate return for a bad profile.
var ErrInvalidProfile = errors.New("chaos: invalid profile")

// profileFiles holds the named profiles shipped with the package.
//
//go:embed profiles/*.json
var profileFiles embed.FS

// Profile says which faults an Endpoint injects and how often. It is read
// from a JSON file whose schema is documented in the package overview;
// every field is optional and the zero Profile is a healthy endpoint.
//
// Probabilities are per request, in [0, 1]. The request-level faults
// (Statuses, Throttle, Redirect, Reset, ResetAfterAccept, Hang, Truncate,
// Garbage) exclude each other and their probabilities must add up to at
// most 1; Latency and Partial are drawn independently of them.
type Profile struct {
	// Name names the profile in reports and logs.
	Name string `json:"name"`
	// Description says what the profile is for.
	Description string `json:"description,omitempty"`
	// Seed seeds the fault choices when Config.Seed is 0. If both
	// are 0 a random seed is drawn (and reported, so the run can be
	// replayed).
	Seed uint64 `json:"seed,omitempty"`

	// Latency delays answers.
	Latency Latency `json:"latency"`
	// Statuses maps a whole-request HTTP status (400..599 except 413) to
	// the probability that a request is answered with it, without
	// accepting any item. 401, 403, 408, 429, 439 and 5xx ask the client
	// to keep and retry; 400, 402, 404 and other 4xx refuse the items
	// for good.
	Statuses map[int]float64 `json:"statuses,omitempty"`
	// Throttle answers 429 or 439 with a Retry-After header.
	Throttle Throttle `json:"throttle"`
	// Partial answers 206 with per-item errors.
	Partial Partial `json:"partial"`
	// Redirect answers 307 or 308 pointing at the endpoint's second
	// listener.
	Redirect Redirect `json:"redirect"`
	// Reset is the probability that the connection is reset (TCP RST)
	// after part of the request body was read; nothing is accepted.
	Reset float64 `json:"reset,omitempty"`
	// ResetAfterAccept is the probability that the request is processed
	// (its items accepted and recorded) and then the connection is reset
	// instead of answered: the answer is lost.
	ResetAfterAccept float64 `json:"resetAfterAccept,omitempty"`
	// Hang processes the request and then holds the connection without an
	// answer, past the client's timeout: the answer is lost.
	Hang Hang `json:"hang"`
	// Truncate is the probability that the request is processed and the
	// answer cut off halfway through its body (the declared
	// Content-Length is not reached before the connection closes).
	Truncate float64 `json:"truncate,omitempty"`
	// Garbage is the probability that the request is processed and
	// answered with its status but a body that is not JSON.
	Garbage float64 `json:"garbage,omitempty"`
	// Windows are periods, relative to Endpoint.Start, during which every
	// request fails the same way: outages, throttling and a wrong
	// endpoint.
	Windows []Window `json:"windows,omitempty"`
	// Poison makes the items marked with the custom property
	// PoisonProperty fail every request that holds them.
	Poison Poison `json:"poison"`
	// Script answers the first requests one by one, in order of arrival,
	// before the rest of the profile applies: an exact sequence of faults.
	Script []Step `json:"script,omitempty"`

	// Liveness holds the thresholds of the chaos verifier's liveness
	// checks for runs with this profile (package chaos); the endpoint
	// ignores it.
	Liveness Liveness `json:"liveness"`
}

// PoisonProperty is the custom property that marks a synthetic envelope
// (WithProperty) or a span (an attribute) as poison: with Profile.Poison
// set, the endpoint fails every request that holds such an item, as a
// service fails a whole request over one malformed item.
const PoisonProperty = "chaos.poison"

// Poison says how the endpoint answers a request holding an item marked
// with PoisonProperty, and how many of its envelopes a chaos scenario
// marks. It applies when Count or Status is set; a request that would
// otherwise be processed is then answered Status (default 500) as a whole,
// nothing accepted, every item to be kept and retried.
type Poison struct {
	// Count is how many envelopes a chaos scenario marks as poison,
	// spread evenly over the run.
	Count int `json:"count,omitempty"`
	// Status is the whole-request answer: 500 (default), another 5xx, or
	// 400 (without errors[]).
	Status int `json:"status,omitempty"`
}

// Marked reports whether a scenario sending n envelopes marks envelope i
// (from 0) as poison: Count of them, spread evenly (the middle one for a
// Count of 1).
func (p Poison) Marked(i, n int) bool {
	if p.Count <= 0 || n <= 0 || i < 0 || i >= n {
		return false
	}
	k := min(p.Count, n)
	// The j-th of k marks sits at (2j+1)·n/(2k).
	j := (2*i*k + k) / (2 * n)
	return j < k && (2*j+1)*n/(2*k) == i
}

// enabled reports whether the endpoint looks for poison items.
func (p Poison) enabled() bool { return p.Count > 0 || p.Status != 0 }

// Step is one answer of a Profile.Script, given to Count requests in a row.
type Step struct {
	// Count is how many requests in a row get this answer (default 1).
	Count int `json:"count,omitempty"`
	// Status is 200 (processed normally), 206 (processed, ItemErrorRate
	// of the items refused with ItemCode) or a whole-request status in
	// 400..599 but 413 (nothing accepted; 429 and 439 are counted as
	// throttles).
	Status int `json:"status"`
	// RetryAfter, if positive, is sent as a Retry-After header, in
	// seconds (at most 3600).
	RetryAfter int `json:"retryAfter,omitempty"`
	// ItemErrorRate is the share of a 206's items refused, drawn item by
	// item.
	ItemErrorRate float64 `json:"itemErrorRate,omitempty"`
	// ItemCode is their per-item code: 429 (default) or any other code a
	// 206 may carry (retriable or permanent).
	ItemCode int `json:"itemCode,omitempty"`
}

// Liveness are the thresholds of the chaos verifier's liveness checks: a
// zero field sets none (the check then reports its figure and passes).
type Liveness struct {
	// ThroughputRatio is the least share, in (0, 1], of a healthy run's
	// delivery rate that a run with this profile must reach. A scenario
	// runs a healthy twin of the same shape at the same time, and compares
	// how many envelopes each had delivered when the twin had delivered
	// all of its own.
	ThroughputRatio float64 `json:"throughputRatio,omitempty"`
	// ThroughputFloor is the least delivery rate, in envelopes per second
	// from the start of the run to its last delivery.
	ThroughputFloor float64 `json:"throughputFloor,omitempty"`
	// Recovery bounds the time from the endpoint's last fault (any answer
	// but a plain 200) to an empty spool.
	Recovery Duration `json:"recovery,omitzero"`
	// Stall bounds the longest stretch with a non-empty spool, a healthy
	// endpoint (Stats.Healthy) and no request in flight; records waiting a
	// per-record retry delay are not a stall until they come due.
	Stall Duration `json:"stall,omitzero"`
}

// Latency delays an answer by a uniform random duration in [Min, Max] with
// the given probability.
type Latency struct {
	Probability float64  `json:"probability,omitempty"`
	Min         Duration `json:"min,omitzero"`
	Max         Duration `json:"max,omitzero"`
}

// Throttle answers a request with one of Codes (429, 439; default 429) and a
// Retry-After header.
type Throttle struct {
	Probability float64    `json:"probability,omitempty"`
	Codes       []int      `json:"codes,omitempty"`
	RetryAfter  RetryAfter `json:"retryAfter"`
}

// RetryAfter shapes a Retry-After header: a whole number of seconds drawn
// uniformly from [MinSeconds, MaxSeconds] (default 1 and MinSeconds), sent
// as an HTTP date instead of delay-seconds with probability HTTPDate.
type RetryAfter struct {
	MinSeconds int     `json:"minSeconds,omitempty"`
	MaxSeconds int     `json:"maxSeconds,omitempty"`
	HTTPDate   float64 `json:"httpDate,omitempty"`
}

// Partial makes a request a partial success with the given probability:
// each valid item then fails with probability ItemErrorRate, and a failed
// item is retriable, permanent or sampled out in the proportions of the
// three weights (default 1, 1, 1). Retriable items get one of
// RetriableCodes (default 408, 429, 439, 500, 502, 503, 504), permanent ones
// one of PermanentCodes (default 400), sampled-out ones per-item code 206
// with the message "Telemetry sampled out.".
type Partial struct {
	Probability    float64  `json:"probability,omitempty"`
	ItemErrorRate  float64  `json:"itemErrorRate,omitempty"`
	Retriable      *float64 `json:"retriable,omitempty"`
	Permanent      *float64 `json:"permanent,omitempty"`
	SampledOut     *float64 `json:"sampledOut,omitempty"`
	RetriableCodes []int    `json:"retriableCodes,omitempty"`
	PermanentCodes []int    `json:"permanentCodes,omitempty"`
}

// Redirect answers with one of Codes (307, 308; default both) whose Location
// is the same path on the endpoint's second listener, plus a query parameter
// "chaosRedirect" that marks requests sent there because of a redirect
// (see Violation.ViaRedirect), with "Cache-Control: max-age=<MaxAge>" in
// whole seconds: by default 2 s, so that a client returns to the first
// listener soon; "0s" asks clients not to remember the redirect.
type Redirect struct {
	Probability float64   `json:"probability,omitempty"`
	Codes       []int     `json:"codes,omitempty"`
	MaxAge      *Duration `json:"maxAge,omitempty"`
}

// Hang holds a processed request for Duration (default 5 s; it should
// exceed the client's timeout), then resets the connection.
type Hang struct {
	Probability float64  `json:"probability,omitempty"`
	Duration    Duration `json:"duration,omitzero"`
}

// Window kinds.
const (
	// WindowOutage: the endpoint is down. Mode "refuse" closes its
	// listeners (connections are refused, open ones reset); mode "503"
	// answers 503.
	WindowOutage = "outage"
	// WindowThrottle: every request is answered Code (429 or 439) with a
	// Retry-After until the end of the window.
	WindowThrottle = "throttle"
	// WindowWrongEndpoint: every request is answered as by something that
	// is not the ingestion service (a wrong host or path, a proxy, a
	// captive portal): mode "404" (default), "405", or "html" (200 with an
	// HTML page). Nothing is accepted; a client must keep everything.
	WindowWrongEndpoint = "wrong-endpoint"
)

// Wrong-endpoint modes.
const (
	WrongEndpoint404  = "404"
	WrongEndpoint405  = "405"
	WrongEndpointHTML = "html"
)

// Outage modes.
const (
	OutageRefuse = "refuse"
	Outage503    = "503"
)

// Window is a period of failure: from Start (after Endpoint.Start) for
// Duration, repeated every Every if set.
type Window struct {
	Kind     string   `json:"kind"`
	Start    Duration `json:"start,omitzero"`
	Duration Duration `json:"duration"`
	Every    Duration `json:"every,omitzero"`
	// Mode of an outage: "refuse" or "503" (default); of a wrong
	// endpoint: "404" (default), "405" or "html".
	Mode string `json:"mode,omitempty"`
	// Code of a throttle window: 429 (default) or 439.
	Code int `json:"code,omitempty"`
	// RetryAfter: a 503 of an outage window carries a Retry-After until
	// the window's end (a throttle window always does).
	RetryAfter bool `json:"retryAfter,omitempty"`
}

// active reports whether w covers the instant at elapsed, and when that
// occurrence ends (as an elapsed time).
func (w Window) active(elapsed time.Duration) (bool, time.Duration) {
	start, d := w.Start.D(), w.Duration.D()
	if elapsed < start {
		return false, 0
	}
	off := elapsed - start
	if every := w.Every.D(); every > 0 {
		off %= every
	}
	if off < d {
		return true, elapsed - off + d
	}
	return false, 0
}

// next returns the first elapsed time ≥ after at which w starts or ends an
// occurrence (a transition), and false if there is none.
func (w Window) next(after time.Duration) (time.Duration, bool) {
	start, d, every := w.Start.D(), w.Duration.D(), w.Every.D()
	if after <= start {
		return start, true
	}
	if every == 0 {
		if end := start + d; after <= end {
			return end, true
		}
		return 0, false
	}
	k := (after - start) / every
	base := start + k*every
	switch {
	case after <= base:
		return base, true
	case after <= base+d:
		return base + d, true
	}
	return base + every, true
}

// Duration is a time.Duration written in JSON as a Go duration string
// ("250ms", "2s").
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string; the error names the field.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		if v, err := time.ParseDuration(s); err == nil {
			*d = Duration(v)
			return nil
		}
	}
	return &json.UnmarshalTypeError{Value: "value " + string(b) + " (want a duration such as \"250ms\")", Type: reflect.TypeFor[Duration]()}
}

// ProfileNames returns the names of the profiles shipped with the package,
// sorted: burst, flaky, garbage-200, healthy, hostile, outage, partial,
// poison, steady-partial, throttled, wrong-endpoint.
func ProfileNames() []string {
	entries, _ := fs.ReadDir(profileFiles, "profiles") // embedded: cannot fail
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".json"))
	}
	slices.Sort(names)
	return names
}

// ProfileByName returns a profile shipped with the package (see
// ProfileNames).
func ProfileByName(name string) (*Profile, error) {
	raw, err := profileFiles.ReadFile(path.Join("profiles", name+".json"))
	if err != nil || strings.ContainsAny(name, "/\\") {
		return nil, fmt.Errorf("%w: no profile named %q (have %s)", ErrInvalidProfile, name, strings.Join(ProfileNames(), ", "))
	}
	return ParseProfile(bytes.NewReader(raw), name+".json")
}

// LoadProfile reads and validates a profile file.
func LoadProfile(file string) (*Profile, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("chaos: load profile: %w", err)
	}
	defer f.Close()
	return ParseProfile(f, file)
}

// ParseProfile reads and validates a profile in JSON; source names it in
// errors. Unknown fields are errors (they are usually typos).
func ParseProfile(r io.Reader, source string) (*Profile, error) {
	dec := json.NewDecoder(io.LimitReader(r, 1<<20))
	dec.DisallowUnknownFields()
	var p Profile
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidProfile, source, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: %s: trailing data after the profile object", ErrInvalidProfile, source)
	}
	if p.Name == "" {
		p.Name = strings.TrimSuffix(path.Base(strings.ReplaceAll(source, "\\", "/")), ".json")
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	return &p, nil
}

// Clone returns a copy of p that shares nothing mutable with it.
func (p *Profile) Clone() *Profile {
	c := *p
	c.Statuses = maps.Clone(p.Statuses)
	c.Throttle.Codes = slices.Clone(p.Throttle.Codes)
	c.Redirect.Codes = slices.Clone(p.Redirect.Codes)
	c.Partial.RetriableCodes = slices.Clone(p.Partial.RetriableCodes)
	c.Partial.PermanentCodes = slices.Clone(p.Partial.PermanentCodes)
	c.Windows = slices.Clone(p.Windows)
	c.Script = slices.Clone(p.Script)
	if p.Redirect.MaxAge != nil {
		v := *p.Redirect.MaxAge
		c.Redirect.MaxAge = &v
	}
	for _, w := range []**float64{&c.Partial.Retriable, &c.Partial.Permanent, &c.Partial.SampledOut} {
		if *w != nil {
			v := **w
			*w = &v
		}
	}
	return &c
}

// Validate reports every problem of p, each naming its field (as in the
// JSON file) and wrapping ErrInvalidProfile, joined with errors.Join.
func (p *Profile) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalidProfile, field, fmt.Sprintf(format, args...)))
	}
	prob := func(field string, v float64) {
		if !(v >= 0 && v <= 1) {
			bad(field, "%v not in [0, 1]", v)
		}
	}
	nonNeg := func(field string, d Duration) {
		if d < 0 {
			bad(field, "%v negative", d.D())
		}
	}
	codesIn := func(field string, codes []int, ok func(int) bool, want string) {
		for i, c := range codes {
			if !ok(c) {
				bad(fmt.Sprintf("%s[%d]", field, i), "%d is not %s", c, want)
			}
		}
	}

	prob("latency.probability", p.Latency.Probability)
	nonNeg("latency.min", p.Latency.Min)
	nonNeg("latency.max", p.Latency.Max)
	if p.Latency.Max < p.Latency.Min {
		bad("latency.max", "%v below latency.min %v", p.Latency.Max.D(), p.Latency.Min.D())
	}

	total := 0.0
	for _, code := range slices.Sorted(maps.Keys(p.Statuses)) {
		field := "statuses[\"" + strconv.Itoa(code) + "\"]"
		if code < 400 || code > 599 || code == 413 {
			bad(field, "status %d not in 400..599 (413 excluded: clients split the batch)", code)
		}
		prob(field, p.Statuses[code])
		total += p.Statuses[code]
	}

	prob("throttle.probability", p.Throttle.Probability)
	codesIn("throttle.codes", p.Throttle.Codes, func(c int) bool { return c == 429 || c == 439 }, "429 or 439")
	ra := p.Throttle.RetryAfter
	if ra.MinSeconds < 0 {
		bad("throttle.retryAfter.minSeconds", "%d negative", ra.MinSeconds)
	}
	if ra.MaxSeconds != 0 && ra.MaxSeconds < ra.MinSeconds {
		bad("throttle.retryAfter.maxSeconds", "%d below minSeconds %d", ra.MaxSeconds, ra.MinSeconds)
	}
	if ra.MaxSeconds > 3600 {
		bad("throttle.retryAfter.maxSeconds", "%d above 3600", ra.MaxSeconds)
	}
	prob("throttle.retryAfter.httpDate", ra.HTTPDate)

	pa := p.Partial
	prob("partial.probability", pa.Probability)
	prob("partial.itemErrorRate", pa.ItemErrorRate)
	for _, w := range []struct {
		field string
		v     *float64
	}{{"partial.retriable", pa.Retriable}, {"partial.permanent", pa.Permanent}, {"partial.sampledOut", pa.SampledOut}} {
		if w.v != nil && !(*w.v >= 0) {
			bad(w.field, "weight %v negative", *w.v)
		}
	}
	if pa.Probability > 0 && pa.weight(pa.Retriable)+pa.weight(pa.Permanent)+pa.weight(pa.SampledOut) <= 0 {
		bad("partial", "retriable, permanent and sampledOut weights are all 0")
	}
	codesIn("partial.retriableCodes", pa.RetriableCodes, RetriableItemCode, "a retriable per-item code (408, 429, 439, 500, 502, 503, 504)")
	codesIn("partial.permanentCodes", pa.PermanentCodes, func(c int) bool {
		return c >= 400 && c <= 599 && !RetriableItemCode(c)
	}, "a permanent per-item code (4xx or 5xx, not retriable)")

	prob("redirect.probability", p.Redirect.Probability)
	codesIn("redirect.codes", p.Redirect.Codes, func(c int) bool { return c == 307 || c == 308 }, "307 or 308")
	if p.Redirect.MaxAge != nil {
		nonNeg("redirect.maxAge", *p.Redirect.MaxAge)
	}

	prob("reset", p.Reset)
	prob("resetAfterAccept", p.ResetAfterAccept)
	prob("hang.probability", p.Hang.Probability)
	nonNeg("hang.duration", p.Hang.Duration)
	prob("truncate", p.Truncate)
	prob("garbage", p.Garbage)

	total += p.Throttle.Probability + p.Redirect.Probability + p.Reset + p.ResetAfterAccept +
		p.Hang.Probability + p.Truncate + p.Garbage
	if total > 1+1e-9 {
		bad("statuses, throttle, redirect, reset, resetAfterAccept, hang, truncate, garbage",
			"probabilities add up to %.4g, more than 1", total)
	}

	for i, w := range p.Windows {
		f := fmt.Sprintf("windows[%d]", i)
		switch w.Kind {
		case WindowOutage:
			if w.Mode != "" && w.Mode != OutageRefuse && w.Mode != Outage503 {
				bad(f+".mode", "%q is not \"refuse\" or \"503\"", w.Mode)
			}
			if w.Code != 0 {
				bad(f+".code", "only for a throttle window")
			}
		case WindowThrottle:
			if w.Code != 0 && w.Code != 429 && w.Code != 439 {
				bad(f+".code", "%d is not 429 or 439", w.Code)
			}
			if w.Mode != "" {
				bad(f+".mode", "only for an outage or wrong-endpoint window")
			}
		case WindowWrongEndpoint:
			switch w.Mode {
			case "", WrongEndpoint404, WrongEndpoint405, WrongEndpointHTML:
			default:
				bad(f+".mode", "%q is not \"404\", \"405\" or \"html\"", w.Mode)
			}
			if w.Code != 0 {
				bad(f+".code", "only for a throttle window")
			}
			if w.RetryAfter {
				bad(f+".retryAfter", "only for an outage window")
			}
		default:
			bad(f+".kind", "%q is not \"outage\", \"throttle\" or \"wrong-endpoint\"", w.Kind)
		}
		nonNeg(f+".start", w.Start)
		if w.Duration <= 0 {
			bad(f+".duration", "must be positive")
		}
		if w.Every < 0 || (w.Every > 0 && w.Every <= w.Duration) {
			bad(f+".every", "%v must be 0 (once) or longer than duration %v", w.Every.D(), w.Duration.D())
		}
	}

	if p.Poison.Count < 0 {
		bad("poison.count", "%d negative", p.Poison.Count)
	}
	if st := p.Poison.Status; st != 0 && st != 400 && (st < 500 || st > 599) {
		bad("poison.status", "%d is not 400 or a 5xx", st)
	}
	for i, st := range p.Script {
		f := fmt.Sprintf("script[%d]", i)
		if st.Count < 0 {
			bad(f+".count", "%d negative", st.Count)
		}
		switch {
		case st.Status == 200, st.Status == 206:
		case st.Status >= 400 && st.Status <= 599 && st.Status != 413:
		default:
			bad(f+".status", "%d is not 200, 206, or 400..599 but 413", st.Status)
		}
		if st.RetryAfter < 0 || st.RetryAfter > 3600 {
			bad(f+".retryAfter", "%d not in 0..3600", st.RetryAfter)
		}
		prob(f+".itemErrorRate", st.ItemErrorRate)
		if st.Status != 206 && (st.ItemErrorRate != 0 || st.ItemCode != 0) {
			bad(f+".itemErrorRate", "only for status 206")
		}
		if c := st.ItemCode; c != 0 && (c < 400 || c > 599) {
			bad(f+".itemCode", "%d is not a 4xx or 5xx", c)
		}
	}

	lv := p.Liveness
	if !(lv.ThroughputRatio >= 0 && lv.ThroughputRatio <= 1) {
		bad("liveness.throughputRatio", "%v not in [0, 1]", lv.ThroughputRatio)
	}
	if !(lv.ThroughputFloor >= 0) {
		bad("liveness.throughputFloor", "%v negative", lv.ThroughputFloor)
	}
	nonNeg("liveness.recovery", lv.Recovery)
	nonNeg("liveness.stall", lv.Stall)
	return errors.Join(errs...)
}

func (Partial) weight(w *float64) float64 {
	if w == nil {
		return 1
	}
	return *w
}

// RetriableItemCode reports whether the protocol's decisions (docs/protocol.md,
// Answers) ask a client to keep and retry an item refused with this per-item
// code: 408, 429, 439, 500, 502, 503, 504. The endpoint uses it to label its
// answers; it is the rule restated, not the sender's code, so that a chaos
// run checks the sender instead of agreeing with it by construction.
func RetriableItemCode(code int) bool {
	switch code {
	case 408, 429, 439, 500, 502, 503, 504:
		return true
	}
	return false
}

// KeepsWholeRequest reports whether the protocol's decisions ask a client to
// keep and retry every item of a request answered with this whole-request
// status (without per-item errors): 400 (a whole-request failure, which may
// be one bad item's doing), 401, 403, 404 and 405 (a wrong host or path gets
// fixed), 408, 429, 439 and 5xx. Other 4xx statuses (402, 409, …; 413
// aside) make the client drop the items.
func KeepsWholeRequest(status int) bool {
	switch status {
	case 400, 401, 403, 404, 405, 408, 429, 439:
		return true
	}
	return status >= 500
}

// Defaults of the optional parts of a profile.
const (
	defaultRedirectMaxAge = 2 * time.Second
	defaultHang           = 5 * time.Second
)

// codesOr returns codes, or def when codes is empty.
func codesOr(codes []int, def ...int) []int {
	if len(codes) > 0 {
		return codes
	}
	return def
}
