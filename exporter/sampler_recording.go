package exporter

import "fmt"

// NewRecordingSampler returns a Sampler like NewSampler(ratio) that
// records, instead of dropping, the traces it does not sample: span
// processors (the StandardMetricsProcessor) see every span, while the
// batch span processor exports only the sampled ones. The standard metrics
// then count every request and dependency, at the cost of recording the
// spans that are not exported.
func NewRecordingSampler(ratio float64) Sampler {
	s := NewSampler(ratio)
	s.recordDropped = true
	s.desc = fmt.Sprintf("ApplicationInsightsRecordingSampler{%g}", s.ratio)
	return s
}
