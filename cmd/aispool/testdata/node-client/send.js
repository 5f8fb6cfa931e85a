// send.js: the Node.js Azure Monitor OpenTelemetry exporter, pointed at
// aispool's local ingestion endpoint, sends N server spans (RequestData).
//
//   APPLICATIONINSIGHTS_CONNECTION_STRING='InstrumentationKey=<guid>;IngestionEndpoint=https://127.0.0.1:<port>' \
//   NODE_EXTRA_CA_CERTS=cert.pem node send.js [N]
//
// It prints each span's id (16 hex digits; the exporter puts it into the
// envelope's data.baseData.id) on stdout, one per line, then flushes and
// shuts down. It exits non-zero if an export failed, if the exporter logged
// an error, or if any request to the endpoint was not answered 200 with
// every item accepted (details on stderr). Used by cmd/aispool/node_test.go.
"use strict";

// No statsbeat: it would report to Microsoft's endpoints (unreachable in
// tests) and add telemetry the test does not expect. Read by the exporter's
// constructor.
process.env.APPLICATION_INSIGHTS_NO_STATSBEAT = "true";

const { diag, DiagLogLevel, SpanKind, SpanStatusCode } = require("@opentelemetry/api");
const { BasicTracerProvider, BatchSpanProcessor } = require("@opentelemetry/sdk-trace-base");
const { resourceFromAttributes } = require("@opentelemetry/resources");
const { AzureMonitorTraceExporter } = require("@azure/monitor-opentelemetry-exporter");

const problems = [];
const problem = (msg) => {
  problems.push(msg);
  process.stderr.write(`send.js: ${msg}\n`);
};

async function main() {
  const n = process.argv[2] === undefined ? 50 : Number(process.argv[2]);
  if (!Number.isInteger(n) || n < 0) {
    throw new Error(`bad span count ${JSON.stringify(process.argv[2])}`);
  }
  const cs = process.env.APPLICATIONINSIGHTS_CONNECTION_STRING;
  if (!cs) {
    throw new Error("APPLICATIONINSIGHTS_CONNECTION_STRING is not set");
  }

  // The exporter reports trouble through the OpenTelemetry diag logger:
  // show warnings, and count errors as failures.
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

  // Every HTTP attempt the exporter makes (including its pipeline's own
  // retries), with the answer: anything but a 200 accepting every item is a
  // failure, whatever the exporter makes of it (with offline storage off it
  // reports retriable failures as SUCCESS: it "persisted" nowhere).
  const attempts = [];
  const recorder = {
    name: "aispoolTestRecorder",
    async sendRequest(request, next) {
      const a = { method: request.method, url: request.url, spans: 0 };
      // The exporter also sends one metric envelope about the resource per
      // export: count the RequestData envelopes (the spans) apart.
      try {
        for (const e of JSON.parse(request.body)) {
          if (e && e.data && e.data.baseType === "RequestData") {
            a.spans++;
          }
        }
      } catch (err) {
        a.spans = NaN;
      }
      attempts.push(a);
      try {
        const response = await next(request);
        a.status = response.status;
        a.body = response.bodyAsText;
        return response;
      } catch (err) {
        a.error = String((err && err.message) || err);
        throw err;
      }
    },
  };

  const exporter = new AzureMonitorTraceExporter({
    connectionString: cs,
    // Offline storage off: retry and durability must come from aispool.
    disableOfflineStorage: true,
    additionalPolicies: [{ policy: recorder, position: "perRetry" }],
  });
  // The export result: ExportResultCode.SUCCESS is 0. This exporter version
  // calls the callback twice per export (its result, then an unconditional
  // SUCCESS): only the first call counts. The exports in flight are kept:
  // forceFlush does not wait for those the BatchSpanProcessor started on
  // its own (a full batch), so main waits for them.
  const exportFn = exporter.export.bind(exporter);
  const inflight = new Set();
  let exported = 0;
  exporter.export = (spans, done) => {
    let finish;
    const finished = new Promise((resolve) => (finish = resolve));
    inflight.add(finished);
    let called = false;
    return exportFn(spans, (result) => {
      if (called) {
        return;
      }
      called = true;
      if (result.code === 0) {
        exported += spans.length;
      } else {
        problem(`export of ${spans.length} spans failed: ${(result.error && result.error.message) || result.error || "no error given"}`);
      }
      inflight.delete(finished);
      finish();
      done(result);
    });
  };

  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": "aispool-node-client" }),
    // Batches of 20: several requests, some started by the processor itself.
    spanProcessors: [new BatchSpanProcessor(exporter, { maxExportBatchSize: 20 })],
  });
  const tracer = provider.getTracer("aispool-node-client-test");
  for (let i = 0; i < n; i++) {
    const span = tracer.startSpan(`GET /item/${i}`, {
      kind: SpanKind.SERVER,
      attributes: {
        "http.request.method": "GET",
        "url.full": `http://example.test/item/${i}`,
        "url.path": `/item/${i}`,
        "http.route": "/item/:n",
        "http.response.status_code": 200,
        "aispool.test.seq": i,
      },
    });
    span.setStatus({ code: SpanStatusCode.OK });
    span.end();
    process.stdout.write(`${span.spanContext().spanId}\n`);
  }
  try {
    await provider.forceFlush();
  } catch (err) {
    problem(`forceFlush: ${(err && err.message) || err}`);
  }
  await Promise.all(inflight);
  try {
    await provider.shutdown();
  } catch (err) {
    problem(`shutdown: ${(err && err.message) || err}`);
  }

  let delivered = 0; // spans in requests answered 200 with every item accepted
  for (const a of attempts) {
    if (a.error !== undefined || a.status !== 200) {
      const what = a.error !== undefined ? `error ${a.error}` : a.status === undefined ? "no answer" : `status ${a.status}, body ${a.body}`;
      problem(`${a.method} ${a.url}: ${what}`);
      continue;
    }
    let body;
    try {
      body = JSON.parse(a.body);
    } catch (err) {
      problem(`${a.method} ${a.url}: 200 with a body that is not JSON: ${JSON.stringify(a.body)}`);
      continue;
    }
    if (body.itemsAccepted !== body.itemsReceived || (body.errors && body.errors.length > 0)) {
      problem(`${a.method} ${a.url}: 200 but not every item accepted: ${a.body}`);
      continue;
    }
    delivered += a.spans;
  }
  if (exported !== n) {
    problem(`exporter reported ${exported} of ${n} spans exported`);
  }
  if (delivered !== n) {
    problem(`${delivered} of ${n} spans were in requests the endpoint answered 200, all accepted (${attempts.length} requests)`);
  }
  process.stderr.write(`send.js: ${n} spans, ${attempts.length} requests, ${delivered} spans accepted by the endpoint\n`);
}

main().then(
  () => process.exit(problems.length > 0 ? 1 : 0),
  (err) => {
    process.stderr.write(`send.js: ${(err && err.stack) || err}\n`);
    process.exit(1);
  },
);
