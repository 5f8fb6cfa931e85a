package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/microsoft/ApplicationInsights-Go/appinsights"
	"github.com/microsoft/ApplicationInsights-Go/appinsights/contracts"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// aigoCloseWait bounds the wait for ApplicationInsights-Go's channel to
// close: a batch the endpoint refused waits in memory for its retry (10,
// 30, then 60 s later), and Close waits for it.
const aigoCloseWait = 2 * time.Second

// aigoExporter is an SDK span exporter over ApplicationInsights-Go v0.4.4,
// as an application using that library would write one: each span becomes
// a RequestTelemetry (server and consumer spans) or a
// RemoteDependencyTelemetry (the others) built with the library's
// constructors, with the span's identifiers as operation tags, its
// resource's service name and instance as cloud role tags and every
// attribute as a property, and is handed to TelemetryClient.Track. The
// library's InMemoryChannel batches (1024 items or 10 s), gzips and posts
// them; it keeps nothing on disk.
type aigoExporter struct {
	client appinsights.TelemetryClient
}

// buildAIGo is ApplicationInsights-Go with its default configuration,
// pointed at the endpoint.
func buildAIGo(env pipelineEnv) *pipeline {
	cfg := appinsights.NewTelemetryConfiguration(benchIKey)
	cfg.EndpointUrl = env.endpoint + "/v2/track"
	e := &aigoExporter{client: appinsights.NewTelemetryClientFromConfig(cfg)}
	return &pipeline{exp: e, flush: e.client.Channel().Flush}
}

// ExportSpans tracks every span.
func (e *aigoExporter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	for _, s := range spans {
		e.client.Track(aigoTelemetry(s))
	}
	return nil
}

// Shutdown closes the channel (it sends what it holds) and waits for it at
// most aigoCloseWait, as the library's documentation advises: what is still
// unsent then is lost with the process.
func (e *aigoExporter) Shutdown(ctx context.Context) error {
	t := time.NewTimer(aigoCloseWait)
	defer t.Stop()
	select {
	case <-e.client.Channel().Close():
		return nil
	case <-t.C:
		return fmt.Errorf("ApplicationInsights-Go: the channel did not close within %s (what it holds in memory is lost)", aigoCloseWait)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// aigoTelemetry maps one span to the library's telemetry item.
func aigoTelemetry(s sdktrace.ReadOnlySpan) appinsights.Telemetry {
	attrs := s.Attributes()
	props := make(map[string]string, len(attrs))
	var method, scheme, host, path, code string
	for _, kv := range attrs {
		v := kv.Value.String()
		props[string(kv.Key)] = v
		switch kv.Key {
		case "http.request.method":
			method = v
		case "url.scheme":
			scheme = v
		case "server.address":
			host = v
		case "url.path":
			path = v
		case "http.response.status_code":
			code = v
		}
	}
	failed := s.Status().Code == codes.Error
	var item interface {
		appinsights.Telemetry
		MarkTime(start, end time.Time)
	}
	var tags contracts.ContextTags
	switch s.SpanKind() {
	case trace.SpanKindServer, trace.SpanKindConsumer:
		url := path
		if scheme != "" && host != "" {
			url = scheme + "://" + host + path
		}
		r := appinsights.NewRequestTelemetry(method, url, 0, code)
		r.Name = s.Name()
		r.Id = s.SpanContext().SpanID().String()
		r.Properties = props
		if failed {
			r.Success = false
		}
		item, tags = r, r.Tags
	default:
		ok := !failed
		if n, err := strconv.Atoi(code); err == nil && n >= 400 {
			ok = false
		}
		d := appinsights.NewRemoteDependencyTelemetry(s.Name(), "HTTP", host, ok)
		d.Id = s.SpanContext().SpanID().String()
		d.ResultCode = code
		d.Properties = props
		item, tags = d, d.Tags
	}
	item.MarkTime(s.StartTime(), s.EndTime())
	op := tags.Operation()
	op.SetId(s.SpanContext().TraceID().String())
	op.SetName(s.Name())
	if p := s.Parent(); p.SpanID().IsValid() {
		op.SetParentId(p.SpanID().String())
	}
	if res := s.Resource(); res != nil {
		cloud := tags.Cloud()
		if v, ok := res.Set().Value(attribute.Key("service.name")); ok {
			cloud.SetRole(v.AsString())
		}
		if v, ok := res.Set().Value(attribute.Key("service.instance.id")); ok {
			cloud.SetRoleInstance(v.AsString())
		}
	}
	return item
}
