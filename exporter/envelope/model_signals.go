package envelope

// EventData is the payload of a custom event (a log record with the
// CustomEventNameKey attribute).
type EventData struct {
	Ver        int               `json:"ver"`
	Name       string            `json:"name"`
	Properties map[string]string `json:"properties,omitempty"`
}

// MetricData is the payload of a metric: exactly one data point.
type MetricData struct {
	Ver        int               `json:"ver"`
	Metrics    []DataPoint       `json:"metrics"`
	Properties map[string]string `json:"properties,omitempty"`
}

// DataPoint is one metric value. Kind is "Aggregation" for histograms and
// summaries and absent (a measurement) for gauges and sums; Min and Max are
// present only when the point recorded them.
type DataPoint struct {
	Name  string   `json:"name"`
	Kind  string   `json:"kind,omitempty"`
	Value float64  `json:"value"`
	Count *int64   `json:"count,omitempty"`
	Min   *float64 `json:"min,omitempty"`
	Max   *float64 `json:"max,omitempty"`
}
