// Package breeze is aispool's one statement of the Application Insights
// ingestion protocol ("Breeze": POST /v2/track and /v2.1/track), shared by
// the sender, the daemon's local ingestion endpoint (package ingest) and the
// chaos kit's fake endpoint. It holds
//
//   - the request side: [Decode] turns a request body into its items, one
//     compact JSON object per telemetry envelope, so that ingest and the
//     chaos endpoint accept exactly the same bodies; [ContentType] and
//     [ContentEncoding] are what the sender sends;
//   - the response wire types, [TrackResponse] and [ItemError], which the
//     endpoints write and [DecodeResponse] reads;
//   - the response classification: [Classify] and [ClassifyError] say what
//     an answer (or its absence) means for each item of the request, as a
//     [Verdict], following the Decisions of the protocol: the statuses that
//     keep every item and back off, the per-item codes worth a retry,
//     [ParseRetryAfter] (clamped to [MaxRetryAfter]), and the drop reasons
//     ([StatusReason], [ReasonSampledOut], ...).
//
// The chaos kit's verifier does not take its rules from here: it states
// them again on purpose (chaos.RetriableItemCode, chaos.KeepsWholeRequest),
// so that a test cannot pass because the verifier and the sender agree by
// construction. It uses only the wire types.
//
// # Responses
//
// [Classify] maps a response for a request of n items to a [Verdict]:
// 2xx other than 206 acknowledges every item; 206, and 400 listing
// errors[], acknowledge the accepted items, keep the items refused with
// 408, 429, 439, 500, 502, 503 or 504 unless the message says sampled out,
// and drop the rest by code ("status_<code>" or "sampled_out"); 401, 403,
// 408, 429, 439, 5xx and unexpected 1xx/3xx keep everything and back off,
// honouring Retry-After; 413 asks to split the request in halves (a single
// item is dropped); 402, 404 and other 4xx drop everything by code.
// [ClassifyError] keeps everything and backs off when no answer came.
//
// # Request bodies
//
// A body is gzip-compressed (Content-Encoding "gzip" or "x-gzip", any case,
// or an empty/"identity" encoding whose first bytes are the gzip magic
// 1f 8b; concatenated gzip members are one stream) or plain. Decoded, it is
// either
//
//   - a JSON array of envelopes (the Python and JS exporters), any
//     whitespace and nesting allowed, or
//   - newline-delimited JSON (.NET, AI-Go, the collector, aispool's own
//     sender): one envelope per line, "\r\n" tolerated, blank lines ignored
//     and not counted as items.
//
// The first non-whitespace byte decides: '[' is an array, '{' is
// newline-delimited JSON, anything else is [ErrMalformed]. A UTF-8 byte order
// mark at the very start is skipped.
//
// # Whole-body errors and per-item errors
//
// [Decode] fails as a whole (nil items) with an error wrapping
//
//   - [ErrTooLarge]: more than [Limits.MaxBodyBytes] as received, more than
//     [Limits.MaxDecodedBytes] after decompression (this refuses gzip bombs
//     while reading, with memory bounded by the buffers, not by the body),
//     or more than [Limits.MaxItems] items;
//   - [ErrMalformed]: broken gzip data (header, checksum, truncation), an
//     empty body or one without items ("[]"), a broken array (an element
//     cut off by the end of the body, a missing ',' or ']', data after the
//     closing ']');
//   - [ErrUnsupportedEncoding]: a Content-Encoding other than gzip/identity;
//   - anything else: a read error of the underlying reader, wrapped.
//
// Within a well-formed body, a single bad item does not spoil the others:
// it becomes an [Item] whose Err wraps [ErrInvalidJSON], [ErrNotObject] or
// [ErrItemTooLarge] and names the item ("line 3: invalid JSON: ..." for
// newline-delimited JSON, with 1-based physical line numbers; "item 3: ..."
// for arrays, with the 0-based index). An NDJSON line stands alone, so any
// line can be bad; an array element is bad when its brackets balance but its
// content is not a valid JSON object. Items are validated exactly as
// encoding/json would (nesting deeper than 10,000 is invalid), by a one-pass
// validating compactor several times faster than json.Compact.
//
// # Item encoding
//
// Every [Item.Raw] is the item as one line of compact JSON (insignificant
// whitespace removed, nothing else changed), a JSON object, no trailing
// newline, valid UTF-8, at most [Limits.MaxItemBytes] long. Invalid UTF-8 in
// an item is not an error: each maximal run of invalid bytes is replaced
// with U+FFFD, as encoding/json and the SDKs' JSON parsers do when they
// decode, so that a single bad byte in a log message does not cost the whole
// item and the stored item is always acceptable to the service.
// Raw slices share a few large backing arrays; each is capped to its own
// length, so appending to one never overwrites another.
package breeze
