package envelope

import (
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// goldenCase is one golden test: spans in, testdata/golden/<name>.json out
// (every envelope of every span, in order).
type goldenCase struct {
	name  string
	cfg   Config
	spans []tracetest.SpanStub
}

var (
	str  = attribute.String
	num  = attribute.Int
	flt  = attribute.Float64
	bln  = attribute.Bool
	strs = attribute.StringSlice
)

const (
	server   = trace.SpanKindServer
	client   = trace.SpanKindClient
	producer = trace.SpanKindProducer
	consumer = trace.SpanKindConsumer
	internal = trace.SpanKindInternal
)

func spans(s ...tracetest.SpanStub) []tracetest.SpanStub { return s }

func withLinks(s tracetest.SpanStub, links ...sdktrace.Link) tracetest.SpanStub {
	s.Links = links
	return s
}

func withEvents(s tracetest.SpanStub, events ...sdktrace.Event) tracetest.SpanStub {
	s.Events = events
	return s
}

func withResource(s tracetest.SpanStub, attrs ...attribute.KeyValue) tracetest.SpanStub {
	s.Resource = resource.NewSchemaless(attrs...)
	return s
}

func withTraceState(s tracetest.SpanStub, ts string) tracetest.SpanStub {
	state, err := trace.ParseTraceState(ts)
	if err != nil {
		panic(err)
	}
	s.SpanContext = s.SpanContext.WithTraceState(state)
	return s
}

func link(traceHex, spanHex string) sdktrace.Link {
	return sdktrace.Link{SpanContext: spanContext(mustTraceID(traceHex), mustSpanID(spanHex))}
}

func event(name string, offset time.Duration, attrs ...attribute.KeyValue) sdktrace.Event {
	return sdktrace.Event{Name: name, Time: testStart.Add(offset), Attributes: attrs}
}

// goldenCases covers the reference test vectors of the span → envelope
// mapping (T1 to T16; T17–T19 are logs, metrics and formatting, tested
// elsewhere or out of scope), in both semantic-convention generations, and
// their edge cases.
func goldenCases() []goldenCase {
	return []goldenCase{
		// T1 – HTTP server, error status.
		{name: "t01_http_server_error_old", spans: spans(withStatus(stub(server, "/bar",
			str("http.method", "GET"), str("http.scheme", "https"), str("http.host", "foo"),
			str("http.target", "/bar?biz=baz"), num("http.status_code", 400), str("http.route", "bizzle"),
			bln("somebool", false), flt("somedouble", 0.1)), codes.Error, "Fubar"))},
		{name: "t01_http_server_error_new", spans: spans(withStatus(stub(server, "/bar",
			str("http.request.method", "GET"), str("url.scheme", "https"), str("server.address", "foo"),
			str("url.path", "/bar"), str("url.query", "biz=baz"), num("http.response.status_code", 400),
			str("http.route", "bizzle"), bln("somebool", false), flt("somedouble", 0.1)), codes.Error, "Fubar"))},

		// T2 – server name and port, peer ip as source.
		{name: "t02_http_server_port_old", spans: spans(stub(server, "/bar",
			str("http.method", "GET"), str("http.scheme", "https"), str("http.server_name", "foo"),
			num("net.host.port", 81), str("http.target", "/bar?biz=baz"), str("net.peer.ip", "127.0.0.1"),
			num("http.status_code", 200)))},
		{name: "t02_http_server_port_new", spans: spans(stub(server, "/bar",
			str("http.request.method", "GET"), str("url.scheme", "https"), str("server.address", "foo"),
			num("server.port", 81), str("url.path", "/bar"), str("url.query", "biz=baz"),
			str("network.peer.address", "127.0.0.1"), num("http.response.status_code", 200)))},

		// T3 – client ip precedence.
		{name: "t03_http_server_client_ip_old", spans: spans(stub(server, "/bar",
			str("http.method", "GET"), str("http.scheme", "https"), str("net.host.name", "foo"),
			num("net.host.port", 81), str("http.target", "/bar?biz=baz"), str("http.client_ip", "127.0.0.2"),
			str("net.peer.ip", "127.0.0.1"), num("http.status_code", 200)))},
		{name: "t03_http_server_client_ip_new", spans: spans(stub(server, "/bar",
			str("http.request.method", "GET"), str("url.scheme", "https"), str("server.address", "foo"),
			num("server.port", 81), str("url.path", "/bar"), str("url.query", "biz=baz"),
			str("client.address", "127.0.0.2"), str("network.peer.address", "127.0.0.1"),
			num("http.response.status_code", 200)))},

		// T4 – HTTP client with a full URL.
		{name: "t04_http_client_url_old", spans: spans(stub(client, "GET",
			str("http.method", "GET"), str("http.url", "https://foo:81/bar?biz=baz"), num("http.status_code", 400)))},
		{name: "t04_http_client_url_new", spans: spans(stub(client, "GET",
			str("http.request.method", "GET"), str("url.full", "https://foo:81/bar?biz=baz"),
			num("http.response.status_code", 400)))},

		// T5 – HTTP client with a route; rebuilt URL gets its slash.
		{name: "t05_http_client_route_old", spans: spans(stub(client, "GET",
			str("http.method", "GET"), str("http.scheme", "https"), str("http.host", "foo"),
			str("http.target", "bar/12345?biz=baz"), str("http.route", "/bar/:baz_id"), num("http.status_code", 200)))},
		{name: "t05_http_client_route_new", spans: spans(stub(client, "GET",
			str("http.request.method", "GET"), str("url.scheme", "https"), str("server.address", "foo"),
			str("url.path", "bar/12345"), str("url.query", "biz=baz"), str("http.route", "/bar/:baz_id"),
			num("http.response.status_code", 200)))},

		// T6 – HTTP client by peer address, with a user; url.query with its "?".
		{name: "t06_http_client_peer_user_old", spans: spans(stub(client, "GET",
			str("http.method", "GET"), str("http.scheme", "https"), str("net.peer.ip", "127.0.0.1"),
			num("net.peer.port", 81), str("http.target", "/bar?biz=baz"), str("enduser.id", "12345")))},
		{name: "t06_http_client_peer_user_new", spans: spans(stub(client, "GET",
			str("http.request.method", "GET"), str("url.scheme", "https"), str("server.address", "127.0.0.1"),
			num("server.port", 81), str("url.path", "/bar"), str("url.query", "?biz=baz"),
			str("enduser.id", "12345"), str("enduser.pseudo.id", "anon-1"), str("session.id", "s-1")))},

		// T7 – HTTP (internal-kind) dependency with peer.service.
		{name: "t07_http_dependency_peer_service_new", spans: spans(withStatus(stub(internal, "GET",
			str("http.request.method", "GET"), str("url.full", "https://example.com/api/example"),
			str("peer.service", "https://someotherexample.com/api/example"),
			num("http.response.status_code", 200), str("extra.attribute", "foo")), codes.Ok, ""))},
		{name: "t07_http_dependency_peer_service_old", spans: spans(withStatus(stub(internal, "GET",
			str("http.method", "GET"), str("http.url", "https://example.com/api/example"),
			str("peer.service", "https://someotherexample.com/api/example"),
			num("http.status_code", 200), str("extra.attribute", "foo")), codes.Ok, ""))},

		// T8 – HTTP server with location, user agent and a link.
		{name: "t08_http_server_link_new", spans: spans(withLinks(withStatus(stub(server, "GET /api/example",
			str("http.request.method", "GET"), str("http.route", "/api/example"),
			str("url.full", "https://example.com/api/example"), num("http.response.status_code", 200),
			str("client.address", "10.1.2.80"), str("user_agent.original", "test"),
			str("extra.attribute", "foo")), codes.Ok, ""),
			link("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")))},
		{name: "t08_http_server_link_old", spans: spans(withLinks(withStatus(stub(server, "GET /api/example",
			str("http.method", "GET"), str("http.route", "/api/example"),
			str("http.url", "https://example.com/api/example"), num("http.status_code", 200),
			str("http.client_ip", "10.1.2.80"), str("http.user_agent", "test"),
			str("extra.attribute", "foo")), codes.Ok, ""),
			link("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")))},

		// T9 – 4xx on a server span: Unset fails, Ok succeeds; the options.
		{name: "t09_http_server_4xx", spans: spans(
			stub(server, "GET /missing", str("http.request.method", "GET"), num("http.response.status_code", 404)),
			withStatus(stub(server, "GET /missing", str("http.request.method", "GET"), num("http.response.status_code", 404)), codes.Ok, ""),
		)},
		{name: "t09_http_4xx_options", cfg: Config{ServerClientErrorsAreSuccess: true, NonErrorStatusCodes: []int{409}}, spans: spans(
			stub(server, "GET /missing", str("http.request.method", "GET"), num("http.response.status_code", 404)),
			stub(client, "GET", str("http.request.method", "GET"), num("http.response.status_code", 404)),
			stub(server, "GET /down", str("http.request.method", "GET"), num("http.response.status_code", 503)),
			withStatus(stub(client, "PUT", str("http.request.method", "PUT"), num("http.response.status_code", 409)), codes.Error, "conflict"),
		)},

		// T10 – sampled server span; the rate's three sources.
		{name: "t10_sampled", spans: spans(
			withStatus(stub(server, "sampled", str("microsoft.sample_rate", "50")), codes.Ok, ""),
			stub(server, "sampled by the Python exporter", flt("_MS.sampleRate", 25)),
			withTraceState(stub(server, "sampled by threshold (10%)"), "ot=th:e666666666666"),
			withTraceState(stub(server, "sampled by threshold (50%)"), "ot=rv:abcdef01234567;th:8"),
			stub(server, "bad rate ignored", str("microsoft.sample_rate", "0")),
		)},

		// T11 – gRPC server and client; other RPC systems.
		{name: "t11_rpc", spans: spans(
			stub(server, "com.example.ExampleRmiService/exampleMethod",
				str("rpc.system", "grpc"), str("net.peer.name", "foo"), num("net.peer.port", 81)),
			withStatus(stub(client, "com.example.ExampleRmiService/exampleMethod",
				str("rpc.system", "grpc"), str("net.peer.name", "foo"), num("net.peer.port", 81),
				num("rpc.grpc.status_code", 8)), codes.Error, ""),
			withStatus(stub(client, "com.example.ExampleRmiService/exampleMethod",
				str("rpc.system", "grpc"), str("server.address", "foo"), num("server.port", 81),
				num("rpc.grpc.status_code", 8)), codes.Error, ""),
			stub(client, "call", str("rpc.system", "test rpc system"), num("rpc.grpc.status_code", 123)),
			stub(client, "call", str("rpc.system", "test rpc system"), str("peer.service", "billing")),
			stub(client, "call", str("rpc.system", "WCF Service")),
		)},

		// T12 – databases: target names the server and the database.
		{name: "t12_db_old", spans: spans(
			stub(client, "astoredproc", str("db.system", "mssql"), str("db.name", "adventureworks"),
				str("db.statement", "exec astoredproc1"), str("net.peer.name", "foo"), num("net.peer.port", 81)),
			stub(client, "astoredproc", str("db.system", "mssql"), str("db.name", "adventureworks"),
				str("db.statement", ""), str("db.operation", "exec astoredproc2"), str("net.peer.name", "foo"), num("net.peer.port", 81)),
			stub(client, "SELECT", str("db.system", "mysql"), str("db.statement", "SELECT * FROM Test")),
			stub(client, "SELECT", str("db.system", "sqlite"), str("db.statement", "SELECT * FROM Test")),
			stub(client, "SELECT", str("db.system", "hive"), str("db.operation", "SELECT * FROM Test"),
				str("peer.service", "test"), str("db.name", "test2")),
		)},
		{name: "t12_db_new", spans: spans(
			stub(client, "exec adventureworks", str("db.system.name", "microsoft.sql_server"), str("db.namespace", "adventureworks"),
				str("db.query.text", "exec astoredproc1"), str("server.address", "foo"), num("server.port", 81)),
			stub(client, "SELECT shop.items", str("db.system.name", "postgresql"), str("db.namespace", "shop"),
				str("db.query.text", "SELECT * FROM items WHERE id = $1"), str("db.collection.name", "items"),
				str("server.address", "db.internal"), num("server.port", 5432)),
			stub(client, "GET", str("db.system.name", "redis"), str("db.operation.name", "GET"),
				str("server.address", "cache"), num("server.port", 6380)),
			// db.system.name without a server: the namespace, else the system.
			stub(client, "SELECT shop", str("db.system.name", "postgresql"), str("db.namespace", "shop")),
			stub(client, "find", str("db.system.name", "mongodb")),
		)},

		// T13 – messaging: consumer request, producer dependency.
		{name: "t13_messaging_old", spans: spans(
			stub(consumer, "MyQueue", str("messaging.system", "kafka"), str("messaging.destination", "MyQueue"),
				str("net.peer.name", "foo"), num("net.peer.port", 81)),
			stub(producer, "MyQueue", str("messaging.system", "kafka"), str("messaging.destination", "MyQueue"),
				str("net.peer.name", "foo"), num("net.peer.port", 81)),
			stub(producer, "send"),
		)},
		{name: "t13_messaging_new", spans: spans(
			stub(consumer, "process orders", str("messaging.system", "rabbitmq"), str("messaging.destination.name", "orders"),
				str("server.address", "mq"), num("server.port", 5672), str("network.protocol.name", "amqp")),
			stub(producer, "publish orders", str("messaging.system", "rabbitmq"), str("messaging.destination.name", "orders"),
				str("server.address", "mq"), num("server.port", 5672), str("network.protocol.name", "amqp")),
			stub(client, "receive orders", str("messaging.system", "servicebus"), str("messaging.destination.name", "orders"),
				str("az.namespace", "Microsoft.ServiceBus"), str("server.address", "ns.servicebus.windows.net")),
		)},

		// T14 – links.
		{name: "t14_links", spans: spans(withLinks(stub(internal, "linked"),
			link("0102030405060708090a0b0c0d0e0f10", "0102030405060708"),
			link("100f0e0d0c0b0a090807060504030201", "0807060504030201")))},

		// T15 – internal and unspecified kinds.
		{name: "t15_internal", spans: spans(
			stub(internal, "MethodX", str("foo", "bar"), str("enduser.id", "4567")),
			stub(trace.SpanKindUnspecified, "MethodX", str("foo", "bar"), str("enduser.id", "4567")),
			root(stub(internal, "process", str("az.namespace", "Microsoft.EventHub"))),
			stub(internal, "GET", str("http.method", "GET"), str("http.host", "http://test:80")),
		)},

		// T16 – span events: a message and an exception.
		{name: "t16_events", spans: spans(withEvents(stub(client, "com.example.ExampleRmiService/exampleMethod",
			str("rpc.system", "grpc"), str("net.peer.name", "foo"), num("net.peer.port", 81),
			str(OperationNameKey, "GET /api/orders")),
			event("foo", time.Second, str("bar", "baz")),
			event("exception", 2*time.Second, str("exception.type", "foo"), str("exception.message", "bar"),
				str("exception.stacktrace", "baz"), bln("exception.escaped", true)),
			event("exception", 3*time.Second),
		))},
		{name: "t16_events_request", spans: spans(withEvents(withStatus(stub(server, "GET /orders/{id}",
			str("http.request.method", "GET"), str("http.route", "/orders/{id}"), num("http.response.status_code", 500),
			str("url.scheme", "http"), str("server.address", "shop"), num("server.port", 80), str("url.path", "/orders/7")),
			codes.Error, "boom"),
			event("exception", time.Second, str("exception.type", "*errors.errorString"), str("exception.message", "boom"),
				str("exception.stacktrace", "goroutine 1 [running]:\nmain.main()\n\t/app/main.go:12 +0x1d")),
		))},

		// Edge cases of the reference vectors.
		{name: "edge_root_and_negative_duration", spans: spans(func() tracetest.SpanStub {
			s := root(stub(server, "backwards clock"))
			s.EndTime = s.StartTime.Add(-time.Second)
			return s
		}())},
		{name: "edge_https_default_port", spans: spans(
			stub(server, "GET", str("http.request.method", "GET"), str("url.scheme", "https"),
				str("server.address", "example.com"), num("server.port", 443), str("url.path", "/a"), num("http.response.status_code", 200)),
			stub(client, "GET", str("http.request.method", "GET"), str("url.scheme", "https"),
				str("server.address", "example.com"), num("server.port", 443), str("url.path", "/a"), num("http.response.status_code", 200)),
			stub(client, "GET", str("http.request.method", "GET"), str("url.full", "https://user:secret@example.com:443"), num("http.response.status_code", 200)),
		)},
		{name: "edge_property_values", spans: spans(stub(internal, "attribute types",
			bln("bool", true), num("int", -42), flt("float", 1.5), flt("nan", mathNaN()), flt("inf", mathInf(1)),
			flt("big", 1e21), flt("small", 1e-7),
			attribute.IntSlice("ints", []int{1, 2}), attribute.Float64Slice("floats", []float64{0.5, mathNaN(), mathInf(-1)}),
			attribute.BoolSlice("bools", []bool{true, false}), strs("strings", []string{`a"b`, "c\\d"}),
			str("escapes", "quote\" backslash\\ nl\n tab\t nul\x00 del\x7f ls\u2028 ps\u2029 <&>"),
			str("invalid utf8", "a\xffb\xc3"), str("emoji", "😀"),
			str(strings.Repeat("k", 150), "key of 150 characters: kept"),
			str(strings.Repeat("k", 151), "key of 151 characters: dropped"),
			str("", "empty key: dropped"),
			attribute.ByteSlice("bytes", []byte("hi")), attribute.Slice("mixed", attribute.IntValue(1), attribute.StringValue("a")),
			attribute.Map("map", attribute.String("k", "v")), attribute.KeyValue{Key: "empty", Value: attribute.Value{}},
		))},
		{name: "edge_control_attributes", spans: spans(withStatus(stub(client, "control",
			str("microsoft.client.ip", "203.0.113.9"), str("microsoft.custom", "dropped"),
			str("_MS.sampleRate", "not a number"), str("_MS.ProcessedByMetricExtractors", "True"),
			str("_MS.other", "dropped"), str(OperationNameKey, "GET /checkout"),
			str("user_agent.synthetic.type", "bot"), str("user_agent.original", "probe"),
			str("otel.status_description", "user's own, replaced")), codes.Error, "failed"))},
		{name: "edge_resource_fallbacks", spans: spans(
			withResource(stub(internal, "no namespace"), str("service.name", "api"), str("host.name", "node-7"), str("service.version", "2.0.1")),
			withResource(stub(internal, "unknown service"), str("service.name", "unknown_service:app"),
				str("service.namespace", "shop"), str("k8s.deployment.name", "checkout")),
			withResource(stub(internal, "empty resource")),
			func() tracetest.SpanStub { s := stub(internal, "nil resource"); s.Resource = nil; return s }(),
		)},
		{name: "edge_kinds_without_family", spans: spans(
			stub(client, "custom call", str("server.address", "svc"), num("server.port", 7000)),
			stub(producer, "send", str("az.namespace", "Microsoft.EventHub"),
				str("server.address", "ns.servicebus.windows.net"), str("messaging.destination.name", "hub")),
			stub(client, "", str("az.namespace", "Microsoft.KeyVault")),
			func() tracetest.SpanStub {
				s := stub(internal, "scoped")
				s.InstrumentationScope = instrumentation.Scope{Name: "lib", Version: "1.0"}
				return s
			}(),
		)},
	}
}
