package sender

import (
	"maps"
	"slices"
	"sync"
	"time"
)

// DurationBuckets are the upper bounds, in seconds, of the request duration
// histogram in Stats.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// Histogram is a cumulative histogram in the Prometheus style.
type Histogram struct {
	Count uint64
	// Sum is the total of the observations, in seconds.
	Sum float64
	// Bounds are the buckets' upper bounds in seconds; Counts[i] is the
	// number of observations ≤ Bounds[i] (cumulative). The +Inf bucket is
	// Count.
	Bounds []float64
	Counts []uint64
}

// Stats counts every outcome of a Sender since New. Every item leased from
// the queue ends up in exactly one of Sent, Retried (for that attempt) or
// Dropped.
type Stats struct {
	// Sent counts items the service acknowledged.
	Sent uint64
	// Retried counts items handed back to the queue for a later attempt
	// (an item retried three times counts three times).
	Retried uint64
	// Dropped counts items removed undelivered, by reason: "expired",
	// "max_attempts", "too_large", "sampled_out", "poison", or
	// "status_<code>" for an item the service refused with that code.
	Dropped map[string]uint64
	// DroppedByStatus is the "status_<code>" part of Dropped, by code.
	DroppedByStatus map[int]uint64
	// Requests counts HTTP exchanges by status code; 0 counts those that got
	// no response (connection error, timeout). Redirect hops count too.
	Requests map[int]uint64
	// Batches counts batches leased from the queue.
	Batches uint64
	// BytesSent and BytesUncompressed count request bodies.
	BytesSent, BytesUncompressed uint64
	// TransportRetries counts the transport layer's quick retries.
	TransportRetries uint64
	// Redirects counts followed 307/308 hops.
	Redirects uint64
	// TokenErrors counts failures of the token source.
	TokenErrors uint64
	// QueueErrors counts failed Lease and settle calls.
	QueueErrors uint64
	// WrongEndpoint counts answers that cannot come from the ingestion
	// service: 404, 405, or a 2xx whose body is not a track response (a
	// proxy, a captive portal, a wrong host or path). Their items are kept
	// and the endpoint backs off; an alert on this catches a wrong
	// IngestionEndpoint before the spool fills up.
	WrongEndpoint uint64
	// Isolations counts requests resent in halves to isolate an item that
	// made them fail as a whole while the endpoint was healthy.
	Isolations uint64
	// Delayed counts items a healthy endpoint asked to retry (a partial
	// success) that were kept with a per-record delay instead of backing
	// the endpoint off; they are counted in Retried too.
	Delayed uint64
	// InFlight is the number of batches being sent now.
	InFlight int
	// ThrottledUntil is the time before which the current endpoint gets no
	// request (back-off or Retry-After); zero or past when not throttled.
	ThrottledUntil time.Time
	// LastSuccess is when a request last got a 2xx answer.
	LastSuccess time.Time
	// RequestDuration observes each HTTP exchange (wall time).
	RequestDuration Histogram
}

// statsCollector accumulates Stats under a mutex: a few updates per request,
// dozens of requests per second.
type statsCollector struct {
	mu sync.Mutex
	s  Stats
}

func newStatsCollector() *statsCollector {
	return &statsCollector{s: Stats{
		Dropped:         make(map[string]uint64),
		DroppedByStatus: make(map[int]uint64),
		Requests:        make(map[int]uint64),
		RequestDuration: Histogram{Bounds: durationBuckets, Counts: make([]uint64, len(durationBuckets))},
	}}
}

func (c *statsCollector) snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.s
	s.Dropped = maps.Clone(c.s.Dropped)
	s.DroppedByStatus = maps.Clone(c.s.DroppedByStatus)
	s.Requests = maps.Clone(c.s.Requests)
	s.RequestDuration.Bounds = slices.Clone(c.s.RequestDuration.Bounds)
	s.RequestDuration.Counts = slices.Clone(c.s.RequestDuration.Counts)
	return s
}

func (c *statsCollector) request(status int, d time.Duration, compressed, raw int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.Requests[status]++
	c.s.BytesSent += uint64(compressed)
	c.s.BytesUncompressed += uint64(raw)
	h := &c.s.RequestDuration
	sec := d.Seconds()
	h.Count++
	h.Sum += sec
	for i, b := range h.Bounds {
		if sec <= b {
			h.Counts[i]++
		}
	}
}

func (c *statsCollector) success(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.LastSuccess = now
}

func (c *statsCollector) outcome(sent, retried int, dropped map[string][]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.Sent += uint64(sent)
	c.s.Retried += uint64(retried)
	for reason, idx := range dropped {
		if len(idx) == 0 {
			continue
		}
		c.s.Dropped[reason] += uint64(len(idx))
		if code, ok := statusOfReason(reason); ok {
			c.s.DroppedByStatus[code] += uint64(len(idx))
		}
	}
}

func (c *statsCollector) add(f func(s *Stats)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(&c.s)
}

func (c *statsCollector) transportRetry() { c.add(func(s *Stats) { s.TransportRetries++ }) }
func (c *statsCollector) redirect()       { c.add(func(s *Stats) { s.Redirects++ }) }
func (c *statsCollector) tokenError()     { c.add(func(s *Stats) { s.TokenErrors++ }) }
func (c *statsCollector) queueError()     { c.add(func(s *Stats) { s.QueueErrors++ }) }
func (c *statsCollector) batch()          { c.add(func(s *Stats) { s.Batches++ }) }
func (c *statsCollector) wrongEndpoint()  { c.add(func(s *Stats) { s.WrongEndpoint++ }) }
func (c *statsCollector) isolation()      { c.add(func(s *Stats) { s.Isolations++ }) }
func (c *statsCollector) delayed(n int)   { c.add(func(s *Stats) { s.Delayed += uint64(n) }) }

// statusOfReason parses "status_<code>".
func statusOfReason(reason string) (int, bool) {
	const p = "status_"
	if len(reason) <= len(p) || reason[:len(p)] != p {
		return 0, false
	}
	code := 0
	for _, r := range reason[len(p):] {
		if r < '0' || r > '9' || code > 1000 {
			return 0, false
		}
		code = code*10 + int(r-'0')
	}
	return code, true
}
