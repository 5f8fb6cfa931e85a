package fakeingest

import (
	"cmp"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// Fault is what the endpoint did to a request. Outcome labels in reports
// are a Fault, followed by "_<status>" when a status was sent.
type Fault string

// Faults.
const (
	// FaultNone: the request was processed and answered normally: 200,
	// or 206 (400 if no item was accepted) with per-item errors when the
	// profile's Partial applied or items were invalid.
	FaultNone Fault = "ok"
	// FaultStatus: a whole-request status from Profile.Statuses.
	FaultStatus Fault = "status"
	// FaultThrottle: 429 or 439 with Retry-After (Profile.Throttle).
	FaultThrottle Fault = "throttle"
	// FaultRedirect: 307 or 308 to the second listener.
	FaultRedirect Fault = "redirect"
	// FaultReset: the connection was reset while the body was being read;
	// nothing was accepted.
	FaultReset Fault = "reset"
	// FaultResetAfterAccept: processed, then reset instead of answered.
	FaultResetAfterAccept Fault = "reset_after_accept"
	// FaultHang: processed, then held without an answer, then reset.
	FaultHang Fault = "hang"
	// FaultTruncate: processed, the answer's body cut off halfway.
	FaultTruncate Fault = "truncate"
	// FaultGarbage: processed, answered with a body that is not JSON.
	FaultGarbage Fault = "garbage"
	// FaultOutage: an outage window: 503, or (mode "refuse") a
	// connection that was open before the window, reset.
	FaultOutage Fault = "outage"
	// FaultThrottleWindow: a throttle window: 429/439 with Retry-After.
	FaultThrottleWindow Fault = "throttle_window"
	// FaultClientGone: the client closed the connection (its timeout)
	// before the answer was written; the items were processed.
	FaultClientGone Fault = "client_gone"
	// FaultBadBody: the body could not be decoded (400, 413 or 415); no
	// fault was injected, the client sent something wrong.
	FaultBadBody Fault = "bad_body"
	// FaultNotTrack: not a POST to /v2/track or /v2.1/track (404, 405).
	FaultNotTrack Fault = "not_track"
	// FaultPoison: the request held an item marked poison
	// (PoisonProperty) and was answered Profile.Poison.Status as a whole.
	FaultPoison Fault = "poison"
	// FaultWrongEndpoint: a wrong-endpoint window: 404, 405, or 200 with
	// an HTML page; nothing accepted.
	FaultWrongEndpoint Fault = "wrong_endpoint"
)

// Outcome is the label of a request the endpoint answered with fault f: f
// itself, followed by "_<status>" when a status was sent (status > 0), as
// in [Stats.ByOutcome]: FaultNone.Outcome(200) is "ok_200".
func (f Fault) Outcome(status int) string {
	if status == 0 {
		return string(f)
	}
	return string(f) + "_" + strconv.Itoa(status)
}

// lost reports whether the answer to a processed request never reaches the
// client intact.
func (f Fault) lost() bool {
	switch f {
	case FaultResetAfterAccept, FaultHang, FaultTruncate, FaultGarbage, FaultClientGone:
		return true
	}
	return false
}

// processes reports whether the fault still processes (accepts) the items.
func (f Fault) processes() bool {
	return f == FaultNone || f.lost()
}

// SampledOutMessage is the per-item message of an item the service sampled
// out; clients must not retry it.
const SampledOutMessage = "Telemetry sampled out."

// choice is one request-level fault with the cumulative probability up to
// and including it.
type choice struct {
	upTo   float64
	fault  Fault
	status int
}

// compiled is a validated profile with defaults applied, ready to draw.
type compiled struct {
	p              *Profile
	choices        []choice
	throttleCodes  []int
	redirectCodes  []int
	retriableCodes []int
	permanentCodes []int
	// cumulative weights of retriable, permanent, sampled out
	wRetriable, wPermanent, wTotal float64
	raMin, raMax                   int
	hang, redirectMaxAge           time.Duration
	// script holds the scripted steps with, for each, the request number
	// it ends before.
	script []scriptStep
	// poisonStatus answers a request holding a poison item; 0 when the
	// profile has none.
	poisonStatus int
}

// scriptStep is a Step that answers the requests numbered below end (and at
// or above the previous step's end).
type scriptStep struct {
	end  uint64
	step Step
}

func compile(p *Profile) *compiled {
	c := &compiled{
		p:              p,
		throttleCodes:  codesOr(p.Throttle.Codes, 429),
		redirectCodes:  codesOr(p.Redirect.Codes, 307, 308),
		retriableCodes: codesOr(p.Partial.RetriableCodes, 408, 429, 439, 500, 502, 503, 504),
		permanentCodes: codesOr(p.Partial.PermanentCodes, 400),
		raMin:          max(p.Throttle.RetryAfter.MinSeconds, 1),
		hang:           p.Hang.Duration.D(),
		redirectMaxAge: defaultRedirectMaxAge,
	}
	c.raMax = max(p.Throttle.RetryAfter.MaxSeconds, c.raMin)
	if c.hang == 0 {
		c.hang = defaultHang
	}
	if p.Redirect.MaxAge != nil {
		c.redirectMaxAge = p.Redirect.MaxAge.D()
	}
	pa := p.Partial
	c.wRetriable = pa.weight(pa.Retriable)
	c.wPermanent = c.wRetriable + pa.weight(pa.Permanent)
	c.wTotal = c.wPermanent + pa.weight(pa.SampledOut)
	var end uint64
	for _, st := range p.Script {
		end += uint64(cmp.Or(st.Count, 1))
		c.script = append(c.script, scriptStep{end: end, step: st})
	}
	if p.Poison.enabled() {
		c.poisonStatus = cmp.Or(p.Poison.Status, http.StatusInternalServerError)
	}

	sum := 0.0
	add := func(prob float64, f Fault, status int) {
		if prob > 0 {
			sum += prob
			c.choices = append(c.choices, choice{upTo: sum, fault: f, status: status})
		}
	}
	for _, code := range slices.Sorted(maps.Keys(p.Statuses)) {
		add(p.Statuses[code], FaultStatus, code)
	}
	add(p.Throttle.Probability, FaultThrottle, 0)
	add(p.Redirect.Probability, FaultRedirect, 0)
	add(p.Reset, FaultReset, 0)
	add(p.ResetAfterAccept, FaultResetAfterAccept, 0)
	add(p.Hang.Probability, FaultHang, 0)
	add(p.Truncate, FaultTruncate, 0)
	add(p.Garbage, FaultGarbage, 0)
	return c
}

// plan is what the endpoint does with one request.
type plan struct {
	fault   Fault
	status  int // the status of FaultStatus, FaultThrottle(Window), FaultRedirect, FaultOutage (503)
	refuse  bool
	partial bool
	latency time.Duration
	// retryAfter is sent as a Retry-After header when positive: whole
	// seconds, as an HTTP date if date.
	retryAfter int
	date       bool
	// itemErrorRate and itemCode shape the per-item errors of a scripted
	// 206 (partial is set too).
	itemErrorRate float64
	itemCode      int
	// html answers a wrong-endpoint window with an HTML page (200).
	html bool
}

// draw decides the fate of one request from its own random source, at
// elapsed since the endpoint started, on the first listener or the second
// one (which never redirects). It always makes the same draws in the same
// order, so a request's fate depends only on the seed, its sequence number
// and the time.
func (c *compiled) draw(rng *rand.Rand, elapsed time.Duration, secondary bool) plan {
	uFault := rng.Float64()
	uLatency, latencyFrac := rng.Float64(), rng.Float64()
	uPartial := rng.Float64()
	pick := rng.Uint64()
	raSecs := c.raMin + rng.IntN(c.raMax-c.raMin+1)
	uDate := rng.Float64()

	var pl plan
	p := c.p
	if uLatency < p.Latency.Probability {
		lo, hi := p.Latency.Min.D(), p.Latency.Max.D()
		pl.latency = lo + time.Duration(latencyFrac*float64(hi-lo))
	}
	pl.partial = uPartial < p.Partial.Probability
	pl.fault = FaultNone
	for _, ch := range c.choices {
		if uFault < ch.upTo {
			pl.fault, pl.status = ch.fault, ch.status
			break
		}
	}
	switch pl.fault {
	case FaultThrottle:
		pl.status = c.throttleCodes[pick%uint64(len(c.throttleCodes))]
		pl.retryAfter = raSecs
		pl.date = uDate < p.Throttle.RetryAfter.HTTPDate
	case FaultRedirect:
		if secondary {
			pl.fault = FaultNone
		} else {
			pl.status = c.redirectCodes[pick%uint64(len(c.redirectCodes))]
		}
	}
	for _, w := range p.Windows {
		on, end := w.active(elapsed)
		if !on {
			continue
		}
		pl.partial = false
		remaining := ceilSeconds(end - elapsed)
		switch w.Kind {
		case WindowOutage:
			pl = plan{fault: FaultOutage, status: http.StatusServiceUnavailable, latency: pl.latency}
			if w.Mode == OutageRefuse {
				pl.refuse, pl.status, pl.latency = true, 0, 0
			} else if w.RetryAfter {
				pl.retryAfter = remaining
			}
		case WindowThrottle:
			pl = plan{fault: FaultThrottleWindow, status: cmp.Or(w.Code, 429), latency: pl.latency, retryAfter: remaining}
		case WindowWrongEndpoint:
			pl = plan{fault: FaultWrongEndpoint, status: http.StatusNotFound, latency: pl.latency}
			switch w.Mode {
			case WrongEndpoint405:
				pl.status = http.StatusMethodNotAllowed
			case WrongEndpointHTML:
				pl.status, pl.html = http.StatusOK, true
			}
		}
		break
	}
	return pl
}

// scripted returns the plan of request number n if the profile's script
// answers it (it overrides drawn faults and windows; a drawn latency
// stays).
func (c *compiled) scripted(n uint64, drawn plan) (plan, bool) {
	for _, s := range c.script {
		if n >= s.end {
			continue
		}
		st := s.step
		pl := plan{fault: FaultNone, status: st.Status, latency: drawn.latency, retryAfter: st.RetryAfter}
		switch {
		case st.Status == http.StatusOK:
		case st.Status == http.StatusPartialContent:
			pl.partial, pl.itemErrorRate, pl.itemCode = true, st.ItemErrorRate, cmp.Or(st.ItemCode, http.StatusTooManyRequests)
		case (st.Status == 429 || st.Status == 439) && st.RetryAfter > 0:
			pl.fault = FaultThrottle
		default:
			pl.fault = FaultStatus
		}
		return pl, true
	}
	return plan{}, false
}

// windowSince reports whether one of the profile's windows was active at
// some time in (from, to] (at to if from ≥ to).
func (c *compiled) windowSince(from, to time.Duration) bool {
	for _, w := range c.p.Windows {
		if on, _ := w.active(to); on {
			return true
		}
		if t, ok := w.next(from); ok && from < to && t <= to {
			return true
		}
	}
	return false
}

// itemFate draws the fate of one valid item of a partial request (pl):
// 0 for accepted, else its per-item status code and message.
func (c *compiled) itemFate(rng *rand.Rand, pl plan) (int, string) {
	uErr, uKind, pick := rng.Float64(), rng.Float64()*c.wTotal, rng.Uint64()
	if pl.itemCode != 0 { // scripted
		if uErr >= pl.itemErrorRate {
			return 0, ""
		}
		return pl.itemCode, itemMessage(pl.itemCode)
	}
	if uErr >= c.p.Partial.ItemErrorRate {
		return 0, ""
	}
	switch {
	case uKind < c.wRetriable:
		code := c.retriableCodes[pick%uint64(len(c.retriableCodes))]
		return code, itemMessage(code)
	case uKind < c.wPermanent:
		code := c.permanentCodes[pick%uint64(len(c.permanentCodes))]
		return code, itemMessage(code)
	}
	return http.StatusPartialContent, SampledOutMessage
}

// itemMessage is the per-item message for a code.
func itemMessage(code int) string {
	switch code {
	case 400:
		return "109: chaos: item refused permanently"
	case 439:
		return "Too many requests over extended time"
	}
	if t := http.StatusText(code); t != "" {
		return t
	}
	return "chaos: item refused"
}

// ceilSeconds rounds d up to whole seconds, at least 1.
func ceilSeconds(d time.Duration) int {
	return max(int((d+time.Second-1)/time.Second), 1)
}
