// Package demo runs aispool's whole path on this machine, for `aispool
// demo`: spans from the OpenTelemetry SDK go through the exporter, a real
// spool and the in-process sender to an embedded ingestion endpoint (the
// chaos kit's, healthy or with a fault profile), and the outcome is
// reconciled span by span.
package demo
