// Command aispool is the aispool daemon and CLI: it drains spools to
// Application Insights, accepts telemetry from any Application Insights SDK
// on a local ingestion endpoint, exposes metrics, and inspects spools.
//
// This package is wiring only: every behaviour lives in a tested package
// (spool, sender, exporter, ingest, metrics, internal/daemon, chaos).
package main

import (
	"context"
	"os"
)

func main() {
	os.Exit(Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
