package daemon

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aispool/aispool/ingest"
)

// otlpCollector exposes the OTLP intake's counters (docs/metrics.md):
// aispool_otlp_requests_total{protocol,code} and
// aispool_otlp_items_total{signal,outcome}.
type otlpCollector struct {
	stats    func() ingest.OTLPStats
	requests *prometheus.Desc
	items    *prometheus.Desc
}

func newOTLPCollector(stats func() ingest.OTLPStats) *otlpCollector {
	return &otlpCollector{
		stats: stats,
		requests: prometheus.NewDesc("aispool_otlp_requests_total",
			"OTLP requests answered, by protocol (http, grpc) and status (an HTTP status or a gRPC code).",
			[]string{"protocol", "code"}, nil),
		items: prometheus.NewDesc("aispool_otlp_items_total",
			"Spans, log records and data points of decodable OTLP requests, by signal and outcome: accepted (durable), "+
				"rejected (not convertible, reported in partial_success), refused (answered 429/503 or UNAVAILABLE/RESOURCE_EXHAUSTED, to be resent).",
			[]string{"signal", "outcome"}, nil),
	}
}

func (c *otlpCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.requests
	ch <- c.items
}

func (c *otlpCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.stats()
	for key, n := range st.Requests {
		protocol, code, _ := strings.Cut(key, " ")
		ch <- prometheus.MustNewConstMetric(c.requests, prometheus.CounterValue, float64(n), protocol, code)
	}
	for outcome, m := range map[string]map[string]uint64{"accepted": st.Accepted, "rejected": st.Rejected, "refused": st.Refused} {
		for signal, n := range m {
			ch <- prometheus.MustNewConstMetric(c.items, prometheus.CounterValue, float64(n), signal, outcome)
		}
	}
}
