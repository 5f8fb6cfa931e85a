package chaos

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scraped is what one scrape of a shipper's /metrics found.
type scraped struct {
	Counters
	// At is when the scrape was answered.
	At time.Time
	// Spool gauges: records, leased records, segment files, records
	// waiting a retry delay; the oldest record's append time, and when
	// the first delayed record is due.
	Records, Leased, Segments, Delayed int64
	Oldest, NextDue                    time.Time
	// ThrottledUntil is the sender's gate.
	ThrottledUntil time.Time
}

// maxScrapeBytes bounds a /metrics body.
const maxScrapeBytes = 8 << 20

// scrape reads a shipper's Prometheus exposition (text format) at url.
func scrape(ctx context.Context, url string) (scraped, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return scraped{}, fmt.Errorf("chaos: scrape %s: %w", url, err)
	}
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return scraped{}, fmt.Errorf("chaos: scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return scraped{}, fmt.Errorf("chaos: scrape %s: status %d", url, resp.StatusCode)
	}
	s, err := parseExposition(io.LimitReader(resp.Body, maxScrapeBytes))
	s.At = time.Now()
	return s, err
}

// unixTime converts a timestamp gauge (Unix seconds, 0 for none).
func unixTime(v float64) time.Time {
	if v <= 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(v*1e9))
}

// parseExposition extracts the verifier's counters and gauges from a text
// exposition.
func parseExposition(r io.Reader) (scraped, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return scraped{}, fmt.Errorf("chaos: parse metrics: %w", err)
	}
	var s scraped
	s.Dropped = map[string]uint64{}
	value := func(m *dto.Metric) float64 {
		switch {
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue()
		case m.GetUntyped() != nil:
			return m.GetUntyped().GetValue()
		}
		return 0
	}
	label := func(m *dto.Metric, name string) string {
		for _, l := range m.GetLabel() {
			if l.GetName() == name {
				return l.GetValue()
			}
		}
		return ""
	}
	for name, f := range fams {
		name = strings.TrimSuffix(name, "_total")
		for _, m := range f.GetMetric() {
			v := value(m)
			switch name {
			case "aispool_envelopes_enqueued":
				s.Enqueued += uint64(v)
			case "aispool_envelopes_sent":
				s.Sent += uint64(v)
			case "aispool_envelopes_retried":
				s.Retried += uint64(v)
			case "aispool_envelopes_dropped":
				if v > 0 {
					s.Dropped[label(m, "reason")] += uint64(v)
				}
			case "aispool_requests":
				s.Requests += uint64(v)
			case "aispool_spool_records":
				s.Records = int64(v)
			case "aispool_spool_leased_records":
				s.Leased = int64(v)
			case "aispool_spool_segments":
				s.Segments = int64(v)
			case "aispool_spool_oldest_record_timestamp_seconds":
				s.Oldest = unixTime(v)
			case "aispool_spool_delayed_records":
				s.Delayed = int64(v)
			case "aispool_spool_next_retry_timestamp_seconds":
				s.NextDue = unixTime(v)
			case "aispool_throttled_until_timestamp_seconds":
				s.ThrottledUntil = unixTime(v)
			}
		}
	}
	return s, nil
}

// add sums counters over a shipper's lives.
func (c *Counters) add(o Counters) {
	c.Enqueued += o.Enqueued
	c.Sent += o.Sent
	c.Retried += o.Retried
	c.Requests += o.Requests
	if c.Dropped == nil {
		c.Dropped = map[string]uint64{}
	}
	for k, v := range o.Dropped {
		c.Dropped[k] += v
	}
}
