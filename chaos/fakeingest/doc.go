// Package fakeingest is a flaky fake Application Insights ingestion
// endpoint for tests: it speaks the service's track API on loopback,
// injects the faults of a profile (error statuses, throttling with
// Retry-After, redirects, resets, hangs, damaged answers, partial
// successes, outage and throttle windows) and records what happened to
// every envelope it was sent, by id, so that a test can prove that a
// shipper lost nothing. aispool's chaos scenarios (package chaos), its demo
// and its benchmarks use it; import it in your own tests to run any shipper
// or SDK against it.
//
// # The endpoint
//
//	p, _ := fakeingest.ProfileByName("hostile")
//	ep, _ := fakeingest.New(fakeingest.Config{Profile: p, Seed: 42})
//	_ = ep.Start()
//	defer ep.Close()
//	cs := ep.ConnectionString("") // IngestionEndpoint=http://127.0.0.1:<port>
//	... run the shipper with cs, append fakeingest.Envelope(id) records ...
//	rep := ep.Report()
//	missing := rep.Unaccounted(ids)
//
// Endpoint listens on loopback (127.0.0.1:0 by default; other addresses
// need Config.AllowNonLoopback) and speaks the service's API:
// POST /v2/track and /v2.1/track, gzip or plain, a JSON array or
// newline-delimited JSON (decoded by internal/breeze, the same decoder
// as the daemon's local endpoint, with bounded memory). It answers
// {"itemsReceived","itemsAccepted","errors":[{"index","statusCode",
// "message"}]}: 200 when every item was accepted, 206 with per-item errors,
// 400 with errors[] when no item was accepted and some refusal is
// permanent. Items that are not valid envelopes (exporter/envelope.Validate)
// get a per-item 400, as the service does.
//
// A second listener (Config.RedirectAddr) runs when the profile
// redirects: it shares the recorder and injects the same faults, except
// redirects.
//
// # Ids and synthetic envelopes
//
// Every accepted envelope is recorded under its id, found by
// Config.ID (default DefaultID): the custom property "chaos.id" if
// present, else data.baseData.id — the span id of the request and
// dependency envelopes aispool's converter makes from spans. Envelope(id)
// builds a valid synthetic envelope (a custom event with time now, iKey
// DefaultIKey and property chaos.id), so scenarios can push N envelopes
// through a spool without the OpenTelemetry SDK.
//
// # What is recorded
//
// Endpoint.Stats and Endpoint.Report give requests by outcome (a Fault and
// the status sent: "ok_200", "ok_206", "status_503", "throttle_429",
// "redirect_307", "reset", "hang", "truncate_206", "garbage_200",
// "outage_refused", …) and by listener; for each id how often it was
// accepted, answered retriable, or told to be dropped (with the reason a
// client records, "status_<code>" or "sampled_out"), and whether each of
// those answers was lost (reset after accept, hang, truncated or non-JSON
// body, client gone before the answer); duplicates (ids accepted more than
// once), and unexplained duplicates (accepted twice with intact answers,
// which an at-least-once shipper that did not crash never does); Retry-After
// violations; and a time series of requests, accepted items, partial
// successes and failures by outcome (100 ms buckets by default). For
// liveness it also keeps its requests in flight, whether it is healthy
// (Stats.Healthy), when it last answered other than a plain 200
// (Stats.LastFault) and last accepted a new id (Stats.LastAccepted), and
// the periods during which a Retry-After it gave ran (Report.RetryAfters).
//
// Retry-After violations are tracked per listener, as a client keys its
// back-off per endpoint (scheme://host:port): a request that arrives on a
// listener before the end of the last Retry-After that listener gave is a
// violation (time, remote address, how early), unless it arrives within
// Config.RetryAfterGrace of that answer — it was most likely in
// flight already; those are counted as races.
//
// # Determinism
//
// Request number n (in order of arrival, from 0) draws its fate from its own
// PCG source seeded with (seed, n). So a run replays exactly when the
// requests arrive in the same order and at the same offsets relative to the
// windows: always for one client sending one request at a time, and closely
// for a shipper with several in flight. The seed is Config.Seed,
// else the profile's "seed", else random; it is logged and in Report.Seed.
//
// # Profiles
//
// A profile is a JSON file (ParseProfile, LoadProfile). The package ships
// eleven, embedded from profiles/*.json (ProfileByName, ProfileNames):
//
//   - healthy: no faults, the baseline;
//   - flaky: 5xx and 408, resets, lost answers, latency;
//   - throttled: 429/439 with Retry-After (seconds and HTTP dates) and a
//     throttle window;
//   - partial: 206 with retriable, permanent and sampled-out items;
//   - outage: refused connections, then 503 with Retry-After, periodically;
//   - hostile: everything at once;
//   - steady-partial: every request a partial success, 1% of the items
//     throttled per item;
//   - poison: one item (marked with the property chaos.poison) fails every
//     request holding it with 500;
//   - wrong-endpoint: 404 for the first 2 s, then healthy;
//   - garbage-200: 200 with an HTML page for 2 s, then healthy;
//   - burst: an exact sequence of faults (a script), then healthy.
//
// The last five carry liveness thresholds (the "liveness" section) that
// the chaos verifier checks: the pipe must keep flowing, not only lose
// nothing.
//
// The named profiles' hangs last 35 s, past the sender's default 30 s
// request timeout; for quick runs lower both (Profile.Hang.Duration and
// the client's timeout).
//
// # Profile schema
//
// Every field is optional; durations are Go duration strings ("250ms",
// "2s"); probabilities are per request, in [0, 1]. Unknown fields are
// errors, and every error names its field.
//
//	{
//	  "name": "hostile",               // defaults to the file name
//	  "description": "...",
//	  "seed": 0,                       // 0: Config.Seed or random
//
//	  "latency": {                     // delay answers, independently of faults
//	    "probability": 0.3,
//	    "min": "1ms", "max": "50ms"    // uniform in [min, max]
//	  },
//
//	  // Request-level faults: mutually exclusive, their probabilities
//	  // (all statuses, throttle, redirect, reset, resetAfterAccept, hang,
//	  // truncate, garbage) add up to at most 1.
//	  "statuses": {                    // whole-request status, no item accepted
//	    "500": 0.02, "503": 0.02,      // 400..599 except 413; 401, 403, 408,
//	    "402": 0.005, "400": 0.005     // 429, 439, 5xx: retry; other 4xx: drop
//	  },
//	  "throttle": {                    // 429/439 with Retry-After
//	    "probability": 0.04,
//	    "codes": [429, 439],           // default [429]
//	    "retryAfter": {
//	      "minSeconds": 1,             // default 1
//	      "maxSeconds": 2,             // default minSeconds; at most 3600
//	      "httpDate": 0.5              // share sent as an HTTP date
//	    }
//	  },
//	  "redirect": {                    // 307/308 to the second listener
//	    "probability": 0.03,
//	    "codes": [307, 308],           // default both
//	    "maxAge": "2s"                 // Cache-Control max-age, whole seconds; default 2s, "0s": do not remember
//	  },
//	  "reset": 0.02,                   // RST after reading part of the body; nothing accepted
//	  "resetAfterAccept": 0.02,        // items accepted, then RST instead of the answer
//	  "hang": {                        // items accepted, then no answer for duration, then RST
//	    "probability": 0.01,
//	    "duration": "35s"              // default 5s; make it exceed the client's timeout
//	  },
//	  "truncate": 0.02,                // items accepted, answer body cut off halfway
//	  "garbage": 0.02,                 // items accepted, answer body not JSON
//
//	  "partial": {                     // independently of the above, for processed requests
//	    "probability": 0.3,            // share of requests that get per-item errors
//	    "itemErrorRate": 0.15,         // share of their valid items refused
//	    "retriable": 1,                // relative weights of the three kinds of
//	    "permanent": 1,                //   refusal (default 1 each)
//	    "sampledOut": 1,               //   sampled out: code 206, "Telemetry sampled out."
//	    "retriableCodes": [408, 429, 439, 500, 502, 503, 504],  // the default
//	    "permanentCodes": [400]        // default; any non-retriable 4xx/5xx
//	  },
//
//	  "windows": [                     // periods when every request fails alike
//	    {"kind": "outage",             // "outage", "throttle" or "wrong-endpoint"
//	     "start": "2s",                // after Endpoint.Start
//	     "duration": "1s",
//	     "every": "12s",               // repeat period; 0 or absent: once
//	     "mode": "refuse",             // outage: "refuse" (listeners closed,
//	                                   //   open connections reset) or "503"
//	     "retryAfter": false},         // outage "503": Retry-After until the end
//	    {"kind": "throttle", "start": "6s", "duration": "1s", "every": "12s",
//	     "code": 429},                 // 429 (default) or 439, Retry-After until the end
//	    {"kind": "wrong-endpoint", "duration": "2s",
//	     "mode": "404"}                // "404" (default), "405", or "html": 200 with an
//	                                   //   HTML page; nothing accepted, everything to keep
//	  ],
//
//	  "poison": {                      // items marked with the property "chaos.poison"
//	    "count": 1,                    // how many envelopes a chaos scenario marks
//	    "status": 500                  // fail any request holding one: 500 (default),
//	  },                               //   another 5xx, or 400 without errors[]
//
//	  "script": [                      // the first requests, in order of arrival
//	    {"status": 503, "count": 6},   // count: requests in a row (default 1)
//	    {"status": 429, "retryAfter": 2},
//	    {"status": 206, "count": 4,    // 206: processed, a share of the items refused
//	     "itemErrorRate": 0.5, "itemCode": 429},  // per-item code, default 429
//	    {"status": 200}                // 200: processed normally
//	  ],
//
//	  "liveness": {                    // thresholds of the chaos verifier, not the endpoint's
//	    "throughputRatio": 0.9,        // of a healthy twin run's delivery rate
//	    "throughputFloor": 500,        // envelopes per second
//	    "recovery": "3s",              // last fault to an empty spool
//	    "stall": "1s"                  // idle with a backlog and a healthy endpoint
//	  }
//	}
//
// A window overrides the request-level faults while it lasts (the first
// active window in the list wins); the script overrides windows and
// request-level faults for the requests it answers. Retry-After is always
// whole seconds. A poison item fails a request that would otherwise be
// processed (accepted, or accepted with a lost answer).
//
// # Load tests and test control
//
// Config.Bodies chooses how bodies are read. DecodeBodies (the default)
// does all of the above. CountBodies gunzips each body and counts its
// lines as items, all accepted, without decoding or tracking them by id;
// DiscardBodies reads each body as received and throws it away. Both keep
// the endpoint cheap for benchmarks; the request-level faults and windows
// still apply, per-item errors do not. Stats.BodyBytes counts the bodies
// of processed requests as received, in every mode.
//
// Endpoint.SetUnavailable takes the endpoint down (503, no Retry-After)
// and back up at moments a test chooses, and Config.Fallback serves a
// test's own routes (other than the track paths) on the same address.
//
// # Safety and resources
//
// The endpoint listens on loopback unless told otherwise. Request bodies are
// bounded (Config.MaxBodyBytes, MaxDecodedBytes, MaxItems,
// MaxItemBytes) and at most Config.MaxConcurrent are decoded at
// once; the ids tracked one by one are bounded by MaxIDs and the time series
// by MaxBuckets. Close stops the listeners, ends held requests (latency,
// hangs) and waits for every goroutine the endpoint started.
package fakeingest
