package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/trace"
)

// The two workloads. Both are generated through the real OpenTelemetry SDK
// (tracer.Start / span.End), so the SDK's own cost is part of every
// producing scenario and of the SDK baseline alike.
const (
	// workloadHTTP is one HTTP server span with 8 attributes per unit.
	workloadHTTP = "http"
	// workloadMixed is one HTTP server span with a database client child
	// and an HTTP client child per unit (3 spans); every 10th server span
	// fails with an exception event (one more envelope).
	workloadMixed = "mixed"
)

// errDeclined is the error recorded on every 10th request of the mixed
// workload.
var errDeclined = errors.New("payment declined: card expired")

// benchResource is the resource of every tracer provider of the runs.
func benchResource() *resource.Resource {
	return resource.NewSchemaless(
		attribute.String("service.name", "checkout"),
		attribute.String("service.instance.id", "bench-1"),
		attribute.String("service.version", "1.4.2"),
	)
}

// spansPerUnit is how many spans one unit of work makes.
func spansPerUnit(workload string) int {
	if workload == workloadMixed {
		return 3
	}
	return 1
}

// plan returns how many units a run of about spans spans makes, the exact
// number of spans and the number of envelopes the converter emits for them.
func plan(workload string, spans int) (units, nspans, envelopes int) {
	per := spansPerUnit(workload)
	units = (spans + per - 1) / per
	nspans = units * per
	envelopes = nspans
	if workload == workloadMixed {
		envelopes += (units + 9) / 10 // units 0, 10, 20, ... carry an exception
	}
	return units, nspans, envelopes
}

// checkWorkload rejects an unknown workload name.
func checkWorkload(w string) error {
	if w != workloadHTTP && w != workloadMixed {
		return fmt.Errorf("unknown workload %q (want %q or %q)", w, workloadHTTP, workloadMixed)
	}
	return nil
}

// generate makes units units of the workload with producers goroutines,
// each taking the next unit number from a shared counter. It returns when
// every span has ended (handed to the span processors), or ctx ends. pad > 0
// gives every span of the HTTP workload a detail attribute of pad bytes (see
// detailText).
func generate(ctx context.Context, tp trace.TracerProvider, workload string, units, producers, pad int) error {
	if err := checkWorkload(workload); err != nil {
		return err
	}
	tr := tp.Tracer("github.com/aispool/aispool/benchmarks")
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(producers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var attrs [9]attribute.KeyValue
			var text []byte
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= units {
					return
				}
				if workload == workloadMixed {
					mixedUnit(ctx, tr, i, &attrs)
				} else {
					text = httpUnit(ctx, tr, i, &attrs, pad, text)
				}
			}
		}()
	}
	wg.Wait()
	return ctx.Err()
}

// serverAttrs fills attrs[:8] with the 8 attributes of an HTTP server span.
func serverAttrs(attrs *[9]attribute.KeyValue, method, route string, i, status int) {
	*attrs = [9]attribute.KeyValue{
		attribute.String("http.request.method", method),
		attribute.String("http.route", route),
		attribute.String("url.path", "/api/orders/"+strconv.Itoa(i)),
		attribute.String("url.scheme", "https"),
		attribute.String("server.address", "shop.example.com"),
		attribute.Int("server.port", 443),
		attribute.Int("http.response.status_code", status),
		attribute.String("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64) bench/1.0"),
	}
}

// httpUnit is one HTTP server span with 8 attributes and, if pad > 0, a
// ninth: detailKey with pad bytes of detailText. text is scratch space,
// returned for the next call.
func httpUnit(ctx context.Context, tr trace.Tracer, i int, attrs *[9]attribute.KeyValue, pad int, text []byte) []byte {
	serverAttrs(attrs, "GET", "/api/orders/{id}", i, 200)
	kvs := attrs[:8]
	if pad > 0 {
		text = detailText(text[:0], i, pad)
		attrs[8] = attribute.String(detailKey, string(text))
		kvs = attrs[:9]
	}
	_, s := tr.Start(ctx, "GET /api/orders/{id}", trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(kvs...))
	s.End()
	return text
}

// detailKey is the attribute that pads the pre-filled HTTP-workload
// envelopes of ship to -ship-envelope-bytes.
const detailKey = "app.request.detail"

// detailWords is the vocabulary of detailText: 64 words, so each word
// carries 6 bits of the generator's output. The text compresses like prose
// of a small vocabulary, far less than a run of one byte would (the report
// shows the ratio the sender's gzip reaches on these envelopes).
var detailWords = [64]string{
	"order", "customer", "checkout", "payment", "invoice", "refund", "shipping", "warehouse",
	"inventory", "reserved", "released", "pending", "confirmed", "cancelled", "delivered", "returned",
	"cart", "item", "sku", "quantity", "price", "discount", "coupon", "tax",
	"region", "eu-west", "us-east", "ap-south", "tier", "gold", "silver", "bronze",
	"retry", "timeout", "cache", "hit", "miss", "stale", "fresh", "queue",
	"batch", "worker", "shard", "replica", "primary", "lease", "token", "session",
	"mobile", "desktop", "android", "ios", "browser", "api", "partner", "internal",
	"accepted", "rejected", "validated", "flagged", "review", "manual", "auto", "done",
}

// detailText appends n bytes of words from detailWords to dst, separated by
// spaces and drawn by a generator seeded with the unit number i (so every
// envelope differs, and a rerun makes the same ones).
func detailText(dst []byte, i, n int) []byte {
	x := uint64(i)*0x9e3779b97f4a7c15 + 0x632be59bd9b4e019
	start := len(dst)
	for len(dst)-start < n {
		// splitmix64
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		z ^= z >> 31
		for k := 0; k < 10 && len(dst)-start < n; k++ {
			if len(dst) > start {
				dst = append(dst, ' ')
			}
			dst = append(dst, detailWords[z&63]...)
			z >>= 6
		}
	}
	return dst[:start+n]
}

// mixedUnit is a server span with a database and an HTTP client child;
// every 10th one fails with an exception event.
func mixedUnit(ctx context.Context, tr trace.Tracer, i int, attrs *[9]attribute.KeyValue) {
	fail := i%10 == 0
	status, clientStatus := 200, 200
	if fail {
		status, clientStatus = 500, 502
	}
	serverAttrs(attrs, "POST", "/api/checkout", i, status)
	cctx, srv := tr.Start(ctx, "POST /api/checkout", trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs[:8]...))

	_, db := tr.Start(cctx, "SELECT shop.orders", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.String("db.system.name", "postgresql"),
		attribute.String("db.namespace", "shop"),
		attribute.String("db.operation.name", "SELECT"),
		attribute.String("db.collection.name", "orders"),
		attribute.String("db.query.text", "SELECT id, total, status FROM orders WHERE customer_id = $1 ORDER BY created_at DESC LIMIT 20"),
		attribute.String("server.address", "db.internal"),
		attribute.Int("server.port", 5432),
	))
	db.End()

	_, hc := tr.Start(cctx, "POST", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.String("http.request.method", "POST"),
		attribute.String("url.full", "https://payments.example.com/v1/charges?order="+strconv.Itoa(i)),
		attribute.String("server.address", "payments.example.com"),
		attribute.Int("server.port", 443),
		attribute.Int("http.response.status_code", clientStatus),
	))
	hc.End()

	if fail {
		srv.RecordError(errDeclined)
		srv.SetStatus(codes.Error, "checkout failed")
	}
	srv.End()
}
