package envelope_test

import (
	"encoding/json"
	"fmt"
	"log"
	"time"

	"go.opentelemetry.io/otel/attribute"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/sdk/log/logtest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/aispool/aispool/exporter/envelope"
)

func ExampleConverter_AppendLogRecord() {
	conv, err := envelope.NewConverter(envelope.Config{InstrumentationKey: "0b9e5c1d-7a2f-4c3e-9d8b-1f2e3d4c5b6a"})
	if err != nil {
		log.Fatal(err)
	}
	// An ERROR record with exception attributes, as slog's bridge makes
	// from slog.Error("payment failed", "err", err).
	rec := logtest.RecordFactory{
		Timestamp: time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC),
		Severity:  otellog.SeverityError,
		Body:      attribute.StringValue("payment failed"),
		Attributes: []attribute.KeyValue{
			attribute.String("exception.type", "*net.OpError"),
			attribute.String("exception.message", "connection refused"),
			attribute.String("order.id", "1234"),
		},
	}.NewRecord()
	var buf envelope.Buffer
	if _, err := conv.AppendLogRecord(&buf, &rec); err != nil {
		log.Fatal(err)
	}
	var env envelope.Envelope
	if err := json.Unmarshal(buf.Record(0), &env); err != nil {
		log.Fatal(err)
	}
	ex := env.Data.BaseData.(*envelope.ExceptionData)
	fmt.Println(env.Name)
	fmt.Println(ex.Exceptions[0].TypeName, "|", ex.Exceptions[0].Message, "| severity", *ex.SeverityLevel)
	fmt.Println(ex.Properties)
	// Output:
	// Microsoft.ApplicationInsights.Exception
	// *net.OpError | connection refused | severity Error
	// map[log.body:payment failed order.id:1234]
}

func ExampleConverter_AppendMetrics() {
	conv, err := envelope.NewConverter(envelope.Config{InstrumentationKey: "0b9e5c1d-7a2f-4c3e-9d8b-1f2e3d4c5b6a"})
	if err != nil {
		log.Fatal(err)
	}
	at := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	rm := metricdata.ResourceMetrics{ScopeMetrics: []metricdata.ScopeMetrics{{Metrics: []metricdata.Metrics{
		{Name: "latency_ms", Data: metricdata.Histogram[float64]{Temporality: metricdata.DeltaTemporality,
			DataPoints: []metricdata.HistogramDataPoint[float64]{{Time: at, Count: 3, Sum: 42,
				Min: metricdata.NewExtrema(4.0), Max: metricdata.NewExtrema(30.0),
				Attributes: attribute.NewSet(attribute.String("route", "/pay"))}}}},
	}}}}
	var buf envelope.Buffer
	n, skipped := conv.AppendMetrics(&buf, &rm)
	fmt.Println(n, "envelope,", skipped, "skipped")
	var env envelope.Envelope
	if err := json.Unmarshal(buf.Record(0), &env); err != nil {
		log.Fatal(err)
	}
	md := env.Data.BaseData.(*envelope.MetricData)
	p := md.Metrics[0]
	fmt.Println(p.Name, p.Kind, p.Value, *p.Count, *p.Min, *p.Max, md.Properties)
	// Output:
	// 1 envelope, 0 skipped
	// latency_ms Aggregation 42 3 4 30 map[route:/pay]
}
