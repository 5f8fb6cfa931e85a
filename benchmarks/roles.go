package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"
)

// The child processes. The parent re-executes its own binary with
// "-role=<role>" as the first argument: the shipper (the process under
// measurement, whose rusage the parent reads) and the endpoint (the
// loopback ingestion endpoint). A child exits when its work is done or, for
// the endpoint, when its standard input closes, so that no child outlives
// the parent.

// Scenarios the shipper role runs.
const (
	scenSDK     = "sdk"     // baseline: the SDK with an exporter that discards
	scenProduce = "produce" // SDK → exporter (WithoutSender) → spool
	scenShip    = "ship"    // pre-filled spool → sender → endpoint
	scenE2E     = "e2e"     // SDK → exporter → spool → in-process sender → endpoint
	scenBacklog = "backlog" // e2e with the endpoint down, then up
)

// benchIKey is the instrumentation key of every run (not a real resource).
const benchIKey = "00000000-0000-0000-0000-000000000000"

// connString is the connection string pointing at a loopback endpoint.
func connString(endpoint string) string {
	return "InstrumentationKey=" + benchIKey + ";IngestionEndpoint=" + endpoint
}

// childMain runs the role args[0] names and returns the exit code.
func childMain(args []string) int {
	fs := flag.NewFlagSet("child", flag.ContinueOnError)
	var f childFlags
	fs.StringVar(&f.role, "role", "", "endpoint or shipper")
	fs.StringVar(&f.scenario, "scenario", "", "shipper: sdk, produce, ship, e2e or backlog")
	fs.StringVar(&f.workload, "workload", workloadHTTP, "shipper: http or mixed")
	fs.IntVar(&f.spans, "spans", 10000, "shipper: spans to produce")
	fs.IntVar(&f.producers, "producers", 2, "shipper: goroutines making spans")
	fs.IntVar(&f.batch, "batch", 512, "shipper: BatchSpanProcessor batch size")
	fs.IntVar(&f.pad, "pad", 0, "shipper: bytes of the detail attribute of every HTTP-workload span (0: none)")
	fs.StringVar(&f.spoolDir, "spool", "", "shipper: spool directory")
	fs.StringVar(&f.endpoint, "endpoint", "", "shipper: endpoint base URL")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "shipper: write a CPU profile here")
	fs.StringVar(&f.memProfile, "memprofile", "", "shipper: write an allocation profile here")
	fs.DurationVar(&f.backoffMax, "backoff-max", time.Second, "shipper: sender BackoffMax")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Minute, "give up after this long")
	fs.BoolVar(&f.down, "down", false, "endpoint: start down (503)")
	fs.BoolVar(&f.discard, "discard", false, "endpoint: read and discard bodies without gunzipping or counting their items")
	fs.BoolVar(&f.verbose, "v", false, "log aispool warnings")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
	defer cancel()
	var err error
	switch f.role {
	case "endpoint":
		err = endpointMain(ctx, f)
	case "shipper":
		err = shipperMain(ctx, f)
	default:
		err = fmt.Errorf("unknown role %q", f.role)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchmarks %s %s: %v\n", f.role, f.scenario, err)
		return 1
	}
	return 0
}

// childFlags are the flags of both roles.
type childFlags struct {
	role, scenario, workload string
	spans, producers, batch  int
	pad                      int
	spoolDir, endpoint       string
	cpuProfile, memProfile   string
	backoffMax, timeout      time.Duration
	down, discard, verbose   bool
}
