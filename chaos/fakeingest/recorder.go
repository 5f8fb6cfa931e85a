package fakeingest

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aispool/aispool/internal/breeze"
)

// Stats are the endpoint's counters since Start.
type Stats struct {
	// Requests counts requests that reached a handler (connections
	// refused during an outage are not requests).
	Requests int `json:"requests"`
	// ByOutcome counts requests by outcome label: a Fault, with
	// "_<status>" when a status was sent ("ok_200", "ok_206",
	// "status_503", "throttle_429", "redirect_307", "reset", "hang", …).
	ByOutcome map[string]int `json:"byOutcome"`
	// ByListener counts requests per listener: "primary", "secondary".
	ByListener map[string]int `json:"byListener"`

	// ItemsReceived counts the items of processed bodies (all answers).
	ItemsReceived int `json:"itemsReceived"`
	// BodyBytes counts the bytes, as received (before gunzip), of the
	// bodies of processed requests: those whose items were accepted.
	BodyBytes int64 `json:"bodyBytes"`
	// ItemsAccepted counts accepted items, duplicates included.
	ItemsAccepted int `json:"itemsAccepted"`
	// ItemsAcknowledged counts the accepted items whose acceptance reached
	// the client in an intact answer. A 200 with a damaged body is not one:
	// the protocol's decisions have a client keep everything when a 2xx body
	// is not a track answer (a proxy or a wrong host looks the same). A
	// shipper's "sent" counter equals it.
	ItemsAcknowledged int `json:"itemsAcknowledged"`
	// Accepted counts the distinct ids accepted at least once.
	Accepted int `json:"accepted"`
	// Duplicates counts the ids accepted more than once, and
	// DuplicateItems the acceptances beyond the first.
	Duplicates     int `json:"duplicates"`
	DuplicateItems int `json:"duplicateItems"`
	// UnexplainedDuplicates counts the ids accepted more than once
	// although at most one of those answers was lost: an at-least-once
	// shipper only resends what it got no (intact) answer for.
	UnexplainedDuplicates int `json:"unexplainedDuplicates"`
	// AcceptedWithoutID counts accepted items in which the IDFunc found
	// no id.
	AcceptedWithoutID int `json:"acceptedWithoutID"`
	// InvalidItems counts items refused with a per-item 400 because they
	// were not valid JSON objects or not valid envelopes.
	InvalidItems int `json:"invalidItems"`
	// Dropped counts, by the reason a client records ("status_<code>",
	// "sampled_out"), item answers that tell the client to drop the item
	// and that reached it intact.
	Dropped map[string]int `json:"dropped"`
	// RetriableItems counts item answers that ask to keep and retry the
	// item (per-item or whole-request codes).
	RetriableItems int `json:"retriableItems"`
	// LostAnswers counts processed requests whose answer was lost or
	// damaged (reset after accept, hang, truncate, garbage, client gone).
	LostAnswers int `json:"lostAnswers"`
	// RetryAfterViolations counts requests that arrived on a listener
	// while a Retry-After it gave was running, later than
	// Config.RetryAfterGrace after that answer.
	RetryAfterViolations int `json:"retryAfterViolations"`
	// RetryAfterRaces counts requests that arrived early but within the
	// grace: most likely already in flight when the answer was given.
	RetryAfterRaces int `json:"retryAfterRaces"`
	// UntrackedItems counts items not tracked by id because
	// Config.MaxIDs was reached.
	UntrackedItems int `json:"untrackedItems"`
	// Concurrency[i] is the longest stretch of time during which at least
	// i+1 track requests were in flight at once, counting a request from
	// its arrival until it was answered or its client went away (a client
	// that timed out no longer waits for a hanging answer). A shipper
	// allowed k requests in flight has Concurrency[k] zero, or only as
	// long as a connection takes to close.
	Concurrency []time.Duration `json:"concurrency,omitempty"`

	// PartialSuccesses counts the requests answered 206 with items
	// accepted: partial successes, which a client must treat as a healthy
	// endpoint (they are outcome "ok_206", but not failures in the time
	// series).
	PartialSuccesses int `json:"partialSuccesses"`
	// InFlight is how many track requests are in flight now.
	InFlight int `json:"inFlight"`
	// Healthy reports whether a client has no reason to hold back now:
	// the last answer accepted items (200, 206 with items accepted),
	// refused them for good (400 with errors[]) or failed over a poison
	// item only; no fault window was active since that answer (after an
	// outage a client has heard nothing good yet); no Retry-After the
	// endpoint gave is running; and it is not unavailable
	// (SetUnavailable). It is true before the first request and window.
	Healthy bool `json:"healthy"`
	// LastFault is when the endpoint last answered a request other than
	// with a plain 200 (a fault, a partial success, a refusal); zero if
	// never.
	LastFault time.Time `json:"lastFault,omitzero"`
	// LastAccepted is when the endpoint last accepted an id for the first
	// time (the last new delivery); zero if never.
	LastAccepted time.Time `json:"lastAccepted,omitzero"`
}

// IDStats is what happened to one id.
type IDStats struct {
	// Accepted counts acceptances; AcceptedLost those whose answer was
	// lost or damaged.
	Accepted     int `json:"accepted"`
	AcceptedLost int `json:"acceptedLost,omitempty"`
	// Retriable counts answers asking to keep and retry the item.
	Retriable int `json:"retriable,omitempty"`
	// Dropped counts answers telling the client to drop the item (a
	// permanent code, or sampled out) that reached it intact, and
	// DroppedLost those that did not.
	Dropped     int `json:"dropped,omitempty"`
	DroppedLost int `json:"droppedLost,omitempty"`
	// Reason is the client's drop reason of the last drop answer:
	// "status_<code>" or "sampled_out".
	Reason string `json:"reason,omitempty"`
	// Poison counts the requests failed because of this item, marked
	// poison (PoisonProperty).
	Poison int `json:"poison,omitempty"`
}

// Delivery is a point of the delivery progress: Accepted distinct ids had
// been accepted at At.
type Delivery struct {
	At       time.Time `json:"at"`
	Accepted int       `json:"accepted"`
}

// maxDeliveries bounds Report.Deliveries.
const maxDeliveries = 100_000

// RetryAfterWindow is a period during which a Retry-After the endpoint gave
// on a listener was running: overlapping ones are merged.
type RetryAfterWindow struct {
	Listener string    `json:"listener"`
	Given    time.Time `json:"given"` // the first answer of the period was sent
	Until    time.Time `json:"until"` // the last one ends
}

// Violation is a request that arrived while a Retry-After was running.
type Violation struct {
	// At is when the request arrived, Listener where, Remote from where.
	At       time.Time `json:"at"`
	Listener string    `json:"listener"`
	Remote   string    `json:"remote"`
	// Given is when the Retry-After answer was sent, NotBefore when it
	// ended, Early by how much the request preceded that (so At − Given
	// is how soon after the answer it came).
	Given     time.Time     `json:"given"`
	NotBefore time.Time     `json:"notBefore"`
	Early     time.Duration `json:"early"`
	// ViaRedirect: the request went to a URL the endpoint redirected to
	// (it carries the redirect marker): it followed a 307/308 at once,
	// or was sent to the redirect target the client remembered.
	ViaRedirect bool `json:"viaRedirect,omitempty"`
}

// Bucket is one slot of the time series.
type Bucket struct {
	// Offset is the bucket's start, since Start.
	Offset time.Duration `json:"offset"`
	// Requests and accepted items in the bucket.
	Requests      int `json:"requests"`
	ItemsAccepted int `json:"itemsAccepted"`
	// Failures counts requests by outcome label, for every outcome but
	// a plain "ok_200" and a partial success.
	Failures map[string]int `json:"failures,omitempty"`
	// PartialSuccesses counts the requests answered 206 with items
	// accepted.
	PartialSuccesses int `json:"partialSuccesses,omitempty"`
}

// Report is everything the endpoint recorded: Stats, each id's history, the
// Retry-After violations and a time series.
type Report struct {
	Stats
	// Profile is the profile's name, Seed the seed in use (replay a run
	// with Config.Seed), Started the Start time, Elapsed the time
	// since (until Close, if closed).
	Profile string        `json:"profile"`
	Seed    uint64        `json:"seed"`
	Started time.Time     `json:"started"`
	Elapsed time.Duration `json:"elapsed"`
	// IDs holds each id seen in a processed request.
	IDs map[string]IDStats `json:"ids"`
	// Violations lists the Retry-After violations, Races the early
	// requests within the grace (at most 1000 each).
	Violations []Violation `json:"violations"`
	Races      []Violation `json:"races"`
	// RetryAfters lists the periods during which a Retry-After the
	// endpoint gave was running, per listener, oldest first (at most
	// 1000).
	RetryAfters []RetryAfterWindow `json:"retryAfters,omitempty"`
	// Deliveries is the delivery progress: after each request that
	// accepted ids for the first time, when and how many distinct ids had
	// been accepted (at most 100,000 points, the first ones).
	Deliveries []Delivery `json:"deliveries,omitempty"`
	// BucketWidth is the width of the time series' buckets; Series holds
	// the most recent Config.MaxBuckets of them, oldest first,
	// including empty ones.
	BucketWidth time.Duration `json:"bucketWidth"`
	Series      []Bucket      `json:"series"`
}

// Unaccounted returns the ids in want that the endpoint neither accepted
// nor told the client (intact) to drop: with a correct at-least-once
// shipper that has drained, it is empty. The order of want is kept.
func (r *Report) Unaccounted(want []string) []string {
	var out []string
	for _, id := range want {
		s := r.IDs[id]
		if s.Accepted == 0 && s.Dropped == 0 {
			out = append(out, id)
		}
	}
	return out
}

// itemAnswer is what a request's answer says about one item.
type itemAnswer struct {
	id       string // "" without id
	hasID    bool
	accepted bool
	retry    bool
	invalid  bool   // not a JSON object, too large, or not a valid envelope
	poison   bool   // marked poison, and the request failed over it
	reason   string // drop reason when dropped
}

// recorder accumulates what the endpoint saw, under a mutex.
type recorder struct {
	mu         sync.Mutex
	start      time.Time
	width      time.Duration
	maxBuckets int
	maxIDs     int

	st         Stats
	ids        map[string]*IDStats
	violations []Violation
	races      []Violation
	gates      []RetryAfterWindow
	deliveries []Delivery
	series     []Bucket
	first      int64 // bucket index of series[0]

	inflight int         // track requests in flight now
	since    []time.Time // since[i]: when inflight last rose to i+1
	answered time.Time   // when the last request was recorded
}

// lastAnswerAt returns when the last request was recorded (answered, or
// given up), zero before the first.
func (r *recorder) lastAnswerAt() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.answered
}

const maxViolationsKept = 1000

func newRecorder(width time.Duration, maxBuckets, maxIDs int) *recorder {
	return &recorder{
		width:      width,
		maxBuckets: maxBuckets,
		maxIDs:     maxIDs,
		st: Stats{
			ByOutcome:  map[string]int{},
			ByListener: map[string]int{},
			Dropped:    map[string]int{},
			Healthy:    true,
		},
		ids: map[string]*IDStats{},
	}
}

// request records one request's outcome at time at; items is nil for a
// request that was not processed item by item. bodyBytes is the size of a
// processed body (0 for others).
func (r *recorder) request(at time.Time, listener, outcome string, lost bool, items []itemAnswer, bodyBytes int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	accepted := 0
	before := r.st.Accepted
	defer func() {
		if r.st.Accepted > before && len(r.deliveries) < maxDeliveries {
			r.deliveries = append(r.deliveries, Delivery{At: r.st.LastAccepted, Accepted: r.st.Accepted})
		}
	}()
	for _, it := range items {
		switch {
		case it.accepted:
			accepted++
		case it.retry:
			r.st.RetriableItems++
		case !lost:
			r.st.Dropped[it.reason]++
		}
		if it.invalid {
			r.st.InvalidItems++
		}
		if it.accepted && !it.hasID {
			r.st.AcceptedWithoutID++
		}
		if it.hasID {
			r.item(it, lost)
		}
	}
	r.tally(at, listener, outcome, lost, len(items), accepted, bodyBytes)
}

// healthyOutcome reports whether an answer leaves the endpoint healthy for
// a client: it accepted items (200, a 206 with items accepted), refused
// them for good (400 with errors[]), or failed over a poison item.
func healthyOutcome(outcome string, accepted int) bool {
	switch outcome {
	case FaultNone.Outcome(http.StatusOK), FaultNone.Outcome(http.StatusBadRequest):
		return true
	case FaultNone.Outcome(http.StatusPartialContent):
		return accepted > 0
	}
	return strings.HasPrefix(outcome, string(FaultPoison)+"_")
}

// counted records a request whose n items were counted, not decoded
// (Config.Bodies): every item got the answer all, and none is tracked by id.
func (r *recorder) counted(at time.Time, listener, outcome string, lost bool, n int, all itemAnswer, bodyBytes int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	accepted := 0
	switch {
	case all.accepted:
		accepted = n
	case all.retry:
		r.st.RetriableItems += n
	case !lost && n > 0:
		r.st.Dropped[all.reason] += n
	}
	r.tally(at, listener, outcome, lost, n, accepted, bodyBytes)
}

// tally records what every request adds to the counters and the time
// series: received items of which accepted were accepted. r.mu is held.
func (r *recorder) tally(at time.Time, listener, outcome string, lost bool, received, accepted int, bodyBytes int64) {
	r.st.Requests++
	r.st.ByOutcome[outcome]++
	r.st.ByListener[listener]++
	if lost {
		r.st.LostAnswers++
	}
	r.st.ItemsReceived += received
	r.st.BodyBytes += bodyBytes
	r.st.ItemsAccepted += accepted
	if !lost {
		r.st.ItemsAcknowledged += accepted
	}
	plain := outcome == FaultNone.Outcome(http.StatusOK)
	partial := outcome == FaultNone.Outcome(http.StatusPartialContent) && accepted > 0
	if partial {
		r.st.PartialSuccesses++
	}
	r.st.Healthy = healthyOutcome(outcome, accepted)
	r.answered = time.Now()
	if !plain {
		r.st.LastFault = r.answered
	}
	b := r.bucket(at)
	if b == nil {
		return
	}
	b.Requests++
	b.ItemsAccepted += accepted
	switch {
	case plain:
	case partial:
		b.PartialSuccesses++
	default:
		if b.Failures == nil {
			b.Failures = map[string]int{}
		}
		b.Failures[outcome]++
	}
}

// retryAfter records a Retry-After given on listener at given, running
// until until.
func (r *recorder) retryAfter(listener string, given, until time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.gates) - 1; i >= 0; i-- {
		g := &r.gates[i]
		if g.Listener != listener {
			continue
		}
		if !given.After(g.Until) {
			if until.After(g.Until) {
				g.Until = until
			}
			return
		}
		break
	}
	if len(r.gates) < maxViolationsKept {
		r.gates = append(r.gates, RetryAfterWindow{Listener: listener, Given: given, Until: until})
	}
}

// item records one item answer for its id.
func (r *recorder) item(it itemAnswer, lost bool) {
	s := r.ids[it.id]
	if s == nil {
		if len(r.ids) >= r.maxIDs {
			r.st.UntrackedItems++
			return
		}
		s = &IDStats{}
		r.ids[it.id] = s
	}
	if it.poison {
		s.Poison++
	}
	switch {
	case it.accepted:
		s.Accepted++
		if lost {
			s.AcceptedLost++
		}
		switch s.Accepted {
		case 1:
			r.st.Accepted++
			r.st.LastAccepted = time.Now()
		case 2:
			r.st.Duplicates++
		}
		if s.Accepted > 1 {
			r.st.DuplicateItems++
		}
		if s.Accepted-s.AcceptedLost == 2 && !lost {
			r.st.UnexplainedDuplicates++
		}
	case it.retry:
		s.Retriable++
	default:
		if lost {
			s.DroppedLost++
		} else {
			s.Dropped++
		}
		s.Reason = it.reason
	}
}

// violation records a request that arrived while a Retry-After ran; race
// marks one within the grace.
func (r *recorder) violation(v Violation, race bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if race {
		r.st.RetryAfterRaces++
		if len(r.races) < maxViolationsKept {
			r.races = append(r.races, v)
		}
		return
	}
	r.st.RetryAfterViolations++
	if len(r.violations) < maxViolationsKept {
		r.violations = append(r.violations, v)
	}
}

// bucket returns the time series bucket of at, growing the series (and
// forgetting the oldest buckets beyond maxBuckets); nil if at is older than
// the kept series.
func (r *recorder) bucket(at time.Time) *Bucket {
	i := max(int64(at.Sub(r.start)/r.width), 0)
	if i < r.first {
		return nil
	}
	for int64(len(r.series)) <= i-r.first {
		r.series = append(r.series, Bucket{Offset: time.Duration(r.first+int64(len(r.series))) * r.width})
	}
	if over := len(r.series) - r.maxBuckets; over > 0 {
		r.series = slices.Delete(r.series, 0, over)
		r.first += int64(over)
	}
	return &r.series[i-r.first]
}

// begin sets the start of the time series.
// enter counts a track request in flight until the returned function is
// called or ctx (the request's) ends, whichever comes first.
func (r *recorder) enter(ctx context.Context) func() {
	r.mu.Lock()
	r.inflight++
	now := time.Now()
	if len(r.since) < r.inflight {
		r.since = append(r.since, now)
	} else {
		r.since[r.inflight-1] = now
	}
	r.mu.Unlock()
	var once sync.Once
	leave := func() {
		once.Do(func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			level := r.inflight - 1
			if d := time.Since(r.since[level]); len(r.st.Concurrency) <= level {
				r.st.Concurrency = append(r.st.Concurrency, make([]time.Duration, level+1-len(r.st.Concurrency))...)
				r.st.Concurrency[level] = d
			} else {
				r.st.Concurrency[level] = max(r.st.Concurrency[level], d)
			}
			r.inflight--
		})
	}
	stop := context.AfterFunc(ctx, leave)
	return func() {
		stop()
		leave()
	}
}

func (r *recorder) begin(start time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.start = start
}

func (r *recorder) stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.statsLocked()
}

func (r *recorder) statsLocked() Stats {
	s := r.st
	s.ByOutcome = maps.Clone(r.st.ByOutcome)
	s.ByListener = maps.Clone(r.st.ByListener)
	s.Dropped = maps.Clone(r.st.Dropped)
	s.Concurrency = slices.Clone(r.st.Concurrency)
	s.InFlight = r.inflight
	return s
}

func (r *recorder) report() Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := Report{
		Stats:       r.statsLocked(),
		Started:     r.start,
		IDs:         make(map[string]IDStats, len(r.ids)),
		Violations:  slices.Clone(r.violations),
		Races:       slices.Clone(r.races),
		RetryAfters: slices.Clone(r.gates),
		Deliveries:  slices.Clone(r.deliveries),
		BucketWidth: r.width,
		Series:      make([]Bucket, len(r.series)),
	}
	for id, s := range r.ids {
		rep.IDs[id] = *s
	}
	for i, b := range r.series {
		b.Failures = maps.Clone(b.Failures)
		rep.Series[i] = b
	}
	return rep
}

// dropReason is the reason a client records for an item refused with a
// per-item or whole-request code: "sampled_out" or "status_<code>" (the
// sender's spelling, so reports and sender statistics compare directly).
func dropReason(code int, sampled bool) string {
	if sampled {
		return breeze.ReasonSampledOut
	}
	return breeze.StatusReason(code)
}
