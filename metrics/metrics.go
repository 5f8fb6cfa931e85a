package metrics

import (
	"errors"
	"net/http"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/aispool/aispool/ingest"
	"github.com/aispool/aispool/sender"
	"github.com/aispool/aispool/spool"
)

const namespace = "aispool"

// Sources are the snapshots the collector reads at each scrape. A nil
// source is left out (a process that only produces has no sender).
type Sources struct {
	Spool  func() spool.Stats
	Sender func() sender.Stats
	// Ingest is the daemon's local ingestion endpoint.
	Ingest func() ingest.Stats
	// Version is reported by aispool_build_info; empty means the module
	// version from the build information.
	Version string
}

// Register adds the aispool collector for src to reg.
func Register(reg prometheus.Registerer, src Sources) error {
	if reg == nil {
		return errors.New("metrics: nil registerer")
	}
	if src.Version == "" {
		src.Version = moduleVersion()
	}
	return reg.Register(newCollector(src))
}

// NewRegistry returns a registry with the Go runtime and process collectors,
// ready for Register and Handler.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Handler serves reg in the Prometheus exposition formats.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, EnableOpenMetrics: true})
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil)
}

type collector struct {
	src Sources

	buildInfo *prometheus.Desc

	spoolRecords, spoolLeased, spoolBytes, spoolSegments, spoolOldest *prometheus.Desc
	spoolQuarantined, enqueued, dropped                               *prometheus.Desc
	spoolOrphaned, spoolSalvaged, spoolDelayed, spoolNextRetry        *prometheus.Desc
	spoolCommits                                                      *prometheus.Desc

	sent, retried, requests, duration, inFlight                         *prometheus.Desc
	throttledUntil, lastSuccess, bodyBytes, transportRetries, redirects *prometheus.Desc
	tokenErrors, queueErrors, batches                                   *prometheus.Desc
	wrongEndpoint, isolations, delayed                                  *prometheus.Desc

	ingestRequests, ingestItems, ingestBytes *prometheus.Desc
}

func newCollector(src Sources) *collector {
	return &collector{
		src:              src,
		buildInfo:        desc("build_info", "Build information of aispool; the value is always 1.", "version", "goversion"),
		spoolRecords:     desc("spool_records", "Records in the spool segments this process holds."),
		spoolLeased:      desc("spool_leased_records", "Records leased to the sender and not yet settled."),
		spoolBytes:       desc("spool_bytes", "Bytes on disk of every segment file in the spool directory."),
		spoolSegments:    desc("spool_segments", "Segment files in the spool directory."),
		spoolOldest:      desc("spool_oldest_record_timestamp_seconds", "Append time of the oldest record in the spool, as a Unix timestamp; 0 when empty."),
		spoolQuarantined: desc("spool_quarantined_segments_total", "Segment files moved to quarantine/ because they failed an integrity check."),
		spoolOrphaned:    desc("spool_orphaned_segments_total", "Segment files found deleted or moved (or their directory moved or removed) while open; their records are moved to a new segment."),
		spoolSalvaged:    desc("spool_salvaged_records_total", "Records copied out of segments set aside (orphaned or damaged) into new segments."),
		spoolDelayed:     desc("spool_delayed_records", "Records waiting a per-record retry delay before they are handed out again (a partial success kept them)."),
		spoolNextRetry:   desc("spool_next_retry_timestamp_seconds", "Time the first record waiting a per-record retry delay comes due, as a Unix timestamp; 0 when none waits."),
		spoolCommits:     desc("spool_group_commit_records", "Records stored per group commit of the spool (one transaction and one fsync each, shared by concurrent appends); the count is the number of commits."),
		enqueued:         desc("envelopes_enqueued_total", "Envelopes appended durably to the spool."),
		dropped:          desc("envelopes_dropped_total", "Envelopes removed undelivered, by reason (full, expired, corrupt, status_<code>, sampled_out, max_attempts, too_large, poison).", "reason"),
		sent:             desc("envelopes_sent_total", "Envelopes the ingestion service accepted."),
		retried:          desc("envelopes_retried_total", "Envelopes kept in the spool for another attempt (counted per attempt)."),
		requests:         desc("requests_total", "HTTP requests to the ingestion service by status code; code 0 means no response (connection error or timeout).", "code"),
		duration:         desc("request_duration_seconds", "Duration of HTTP exchanges with the ingestion service."),
		inFlight:         desc("requests_in_flight", "Requests to the ingestion service being sent now."),
		throttledUntil:   desc("throttled_until_timestamp_seconds", "Time before which no request is sent (back-off or Retry-After), as a Unix timestamp; 0 when not throttled."),
		lastSuccess:      desc("last_success_timestamp_seconds", "Time of the last request the ingestion service accepted, as a Unix timestamp; 0 if none."),
		bodyBytes:        desc("request_body_bytes_total", "Bytes of request bodies, compressed as sent and before compression.", "encoding"),
		transportRetries: desc("transport_retries_total", "Quick retries of requests whose connection failed before any response."),
		redirects:        desc("redirects_total", "Followed 307/308 redirects."),
		tokenErrors:      desc("token_errors_total", "Failures to obtain an Entra ID token."),
		queueErrors:      desc("queue_errors_total", "Failed lease or settle calls on the spool."),
		batches:          desc("batches_total", "Batches leased from the spool for sending."),
		wrongEndpoint:    desc("sender_wrong_endpoint_responses_total", "Answers that cannot come from the ingestion service (404, 405, or a 2xx whose body is not a track response: a wrong host or path, a proxy); their envelopes are kept."),
		isolations:       desc("sender_isolations_total", "Requests resent in halves to isolate an envelope that made them fail as a whole while the service was healthy."),
		delayed:          desc("sender_delayed_items_total", "Envelopes a healthy service asked to retry (a partial success), kept with a per-record delay instead of backing off; counted in aispool_envelopes_retried_total too."),
		ingestRequests:   desc("ingest_requests_total", "Requests answered by the local ingestion endpoint, by status code.", "code"),
		ingestItems:      desc("ingest_items_total", "Items posted to the local ingestion endpoint, by outcome: accepted (durable), rejected (invalid envelope), refused (answered 503, to be resent).", "outcome"),
		ingestBytes:      desc("ingest_body_bytes_total", "Request body bytes read by the local ingestion endpoint, as received."),
	}
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.buildInfo, c.spoolRecords, c.spoolLeased, c.spoolBytes, c.spoolSegments,
		c.spoolOldest, c.spoolQuarantined, c.spoolOrphaned, c.spoolSalvaged, c.spoolDelayed, c.spoolNextRetry, c.spoolCommits, c.enqueued, c.dropped,
		c.sent, c.retried, c.requests, c.duration, c.inFlight, c.throttledUntil, c.lastSuccess, c.bodyBytes, c.transportRetries,
		c.redirects, c.tokenErrors, c.queueErrors, c.batches, c.wrongEndpoint, c.isolations, c.delayed,
		c.ingestRequests, c.ingestItems, c.ingestBytes} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(c.buildInfo, 1, c.src.Version, runtime.Version())
	if c.src.Spool != nil {
		st := c.src.Spool()
		gauge(c.spoolRecords, float64(st.Records))
		gauge(c.spoolLeased, float64(st.Leased))
		gauge(c.spoolBytes, float64(st.Bytes))
		gauge(c.spoolSegments, float64(st.Segments))
		gauge(c.spoolOldest, unixSeconds(st.Oldest))
		counter(c.spoolQuarantined, st.QuarantinedSegments)
		counter(c.spoolOrphaned, st.OrphanedSegments)
		counter(c.spoolSalvaged, st.SalvagedRecords)
		gauge(c.spoolDelayed, float64(st.Delayed))
		gauge(c.spoolNextRetry, unixSeconds(st.NextDue))
		ch <- prometheus.MustNewConstHistogram(c.spoolCommits, st.Commits, float64(st.Appended), commitBuckets(st.CommitSizes))
		counter(c.enqueued, st.Appended)
		reasons := []string{spool.ReasonFull, spool.ReasonExpired, spool.ReasonCorrupt}
		for r := range st.Dropped {
			if !slices.Contains(reasons, r) {
				reasons = append(reasons, r)
			}
		}
		slices.Sort(reasons)
		for _, r := range reasons {
			counter(c.dropped, st.Dropped[r], r) // the usual reasons are always exposed, at 0 too
		}
	}
	if c.src.Sender != nil {
		st := c.src.Sender()
		counter(c.sent, st.Sent)
		counter(c.retried, st.Retried)
		for code, n := range st.Requests {
			counter(c.requests, n, strconv.Itoa(code))
		}
		h := st.RequestDuration
		buckets := make(map[float64]uint64, len(h.Bounds))
		for i, b := range h.Bounds {
			buckets[b] = h.Counts[i]
		}
		ch <- prometheus.MustNewConstHistogram(c.duration, h.Count, h.Sum, buckets)
		gauge(c.inFlight, float64(st.InFlight))
		gauge(c.throttledUntil, unixSeconds(st.ThrottledUntil))
		gauge(c.lastSuccess, unixSeconds(st.LastSuccess))
		counter(c.bodyBytes, st.BytesSent, "gzip")
		counter(c.bodyBytes, st.BytesUncompressed, "identity")
		counter(c.transportRetries, st.TransportRetries)
		counter(c.redirects, st.Redirects)
		counter(c.tokenErrors, st.TokenErrors)
		counter(c.queueErrors, st.QueueErrors)
		counter(c.batches, st.Batches)
		counter(c.wrongEndpoint, st.WrongEndpoint)
		counter(c.isolations, st.Isolations)
		counter(c.delayed, st.Delayed)
	}
	if c.src.Ingest != nil {
		st := c.src.Ingest()
		for code, n := range st.Requests {
			counter(c.ingestRequests, n, strconv.Itoa(code))
		}
		counter(c.ingestItems, st.ItemsAccepted, "accepted")
		counter(c.ingestItems, st.ItemsRejected, "rejected")
		counter(c.ingestItems, st.ItemsRefused, "refused")
		counter(c.ingestBytes, st.BodyBytes)
	}
}

// commitBuckets are the cumulative counts of a spool's group commit sizes
// by upper bound; the last of [spool.Stats].CommitSizes is +Inf's.
func commitBuckets(sizes [spool.CommitSizeBuckets]uint64) map[float64]uint64 {
	buckets := make(map[float64]uint64, len(sizes)-1)
	var cum uint64
	for i, n := range sizes[:len(sizes)-1] {
		cum += n
		buckets[float64(spool.CommitSizeBound(i))] = cum
	}
	return buckets
}

func moduleVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Path == "github.com/aispool/aispool" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "dev"
}
