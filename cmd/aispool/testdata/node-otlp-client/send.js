// send.js: the Node.js OpenTelemetry SDK's OTLP trace exporter, pointed at
// aispool run's OTLP/HTTP intake, exports N server spans in one call.
//
//   OTLP_URL=https://127.0.0.1:<port>/v1/traces NODE_EXTRA_CA_CERTS=cert.pem \
//   node send.js proto|json N
//
// "proto" is @opentelemetry/exporter-trace-otlp-proto (application/x-protobuf),
// "json" @opentelemetry/exporter-trace-otlp-http (OTLP JSON). Every span has
// the attribute otlp.id = "node-<protocol>-<i>", which it prints on stdout,
// one per line, once the export returned success. It exits non-zero if the
// export failed or the exporter logged an error (details on stderr). Used
// by cmd/aispool/node_otlp_test.go.
"use strict";

const { diag, DiagLogLevel, SpanKind } = require("@opentelemetry/api");
const { BasicTracerProvider } = require("@opentelemetry/sdk-trace-base");
const { resourceFromAttributes } = require("@opentelemetry/resources");

const problems = [];
const problem = (msg) => {
  problems.push(msg);
  process.stderr.write(`send.js: ${msg}\n`);
};

async function main() {
  const protocol = process.argv[2];
  const n = Number(process.argv[3] === undefined ? 50 : process.argv[3]);
  if (protocol !== "proto" && protocol !== "json") {
    throw new Error(`protocol ${JSON.stringify(protocol)}: want proto or json`);
  }
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`bad span count ${JSON.stringify(process.argv[3])}`);
  }
  const url = process.env.OTLP_URL;
  if (!url) {
    throw new Error("OTLP_URL is not set");
  }
  diag.setLogger(
    {
      error: (...a) => problem(`exporter error: ${a.join(" ")}`),
      warn: (...a) => process.stderr.write(`send.js: exporter warning: ${a.join(" ")}\n`),
      info: () => {},
      debug: () => {},
      verbose: () => {},
    },
    DiagLogLevel.WARN,
  );
  const { OTLPTraceExporter } =
    protocol === "proto"
      ? require("@opentelemetry/exporter-trace-otlp-proto")
      : require("@opentelemetry/exporter-trace-otlp-http");
  const exporter = new OTLPTraceExporter({ url });

  // The spans are collected as they end and exported in one call, so that
  // the export's own result says whether they were acknowledged.
  const ended = [];
  const collector = {
    onStart() {},
    onEnd(span) {
      ended.push(span);
    },
    forceFlush: async () => {},
    shutdown: async () => {},
  };
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": "node-otlp", "service.instance.id": "node-1" }),
    spanProcessors: [collector],
  });
  const tracer = provider.getTracer("aispool-node-otlp-fixture");
  const ids = [];
  for (let i = 0; i < n; i++) {
    const id = `node-${protocol}-${i}`;
    ids.push(id);
    const span = tracer.startSpan("GET /orders/{id}", {
      kind: SpanKind.SERVER,
      attributes: { "otlp.id": id, "http.request.method": "GET", "http.route": "/orders/{id}", "http.response.status_code": 200 },
    });
    span.end();
  }
  const result = await new Promise((resolve) => exporter.export(ended, resolve));
  if (result.code !== 0) {
    problem(`export failed: ${result.error && result.error.message}`);
  }
  await exporter.shutdown();
  if (problems.length > 0) {
    process.exitCode = 1;
    return;
  }
  for (const id of ids) {
    process.stdout.write(id + "\n");
  }
}

main().catch((err) => {
  problem(String((err && err.stack) || err));
  process.exitCode = 1;
});
