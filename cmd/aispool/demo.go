package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/aispool/aispool/chaos/fakeingest"
	"github.com/aispool/aispool/internal/demo"
)

func newDemoCommand(g *globals) *cobra.Command {
	var cfg demo.Config
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole path on this machine against an embedded ingestion endpoint",
		Long: `demo starts an embedded ingestion endpoint on loopback, sends spans through the OpenTelemetry SDK,
the aispool exporter, a real spool and the sender, and prints what happened: generated, spooled,
delivered, retried, dropped and lost (which must be 0). No Azure account is needed.

With --faults PROFILE the endpoint is flaky (profiles: healthy, flaky, throttled, partial, outage,
hostile), so you can watch retries happen and nothing get lost. A profile with outage or throttling
windows (outage, throttled, hostile) has the spans spread over its first windows, a few seconds, so
that they happen during the run. Envelopes the endpoint refuses permanently (a 400 for an item, or
"sampled out") are dropped and counted, as with the real service.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.Spans <= 0 {
				return usageError{fmt.Errorf("--spans %d: must be positive", cfg.Spans)}
			}
			// Check the profile before printing or starting anything: a
			// bad name is a usage error, not a failed demo.
			if _, err := fakeingest.ProfileByName(orDefault(cfg.Profile, "healthy")); err != nil {
				return usageError{fmt.Errorf("--faults %q: want one of %s", cfg.Profile, strings.Join(fakeingest.ProfileNames(), ", "))}
			}
			log, err := g.logger()
			if err != nil {
				return err
			}
			if g.logLevel != "debug" {
				log = nil // the demo's table says it all; --log-level debug shows the rest
			}
			cfg.Logger = log
			fmt.Fprintf(g.stderr, "sending %d spans through exporter → spool → sender → embedded endpoint (profile %s)...\n", cfg.Spans, orDefault(cfg.Profile, "healthy"))
			res, err := demo.Run(cmd.Context(), cfg)
			if res != nil {
				printDemo(g, res)
			}
			return err
		},
	}
	cmd.Flags().IntVar(&cfg.Spans, "spans", 10_000, "spans to generate")
	cmd.Flags().StringVar(&cfg.Profile, "faults", "healthy", "fault profile of the embedded endpoint: healthy, flaky, throttled, partial, outage, hostile")
	cmd.Flags().Uint64Var(&cfg.Seed, "seed", 0, "seed of the fault choices (0: random; printed, to replay a run)")
	cmd.Flags().StringVar(&cfg.SpoolDir, "spool-dir", "", "spool directory (default: a temporary one, removed at the end)")
	cmd.Flags().DurationVar(&cfg.Timeout, "timeout", 2*time.Minute, "give up after this long")
	return cmd
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func printDemo(g *globals, r *demo.Result) {
	w := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	row := func(k string, v any) { fmt.Fprintf(w, "%s\t%v\n", k, v) }
	row("profile", fmt.Sprintf("%s (seed %d)", r.Profile, r.Seed))
	row("spans generated", r.Generated)
	row("envelopes spooled (durable)", r.Spooled)
	row("delivered", r.Delivered)
	row("retried (attempts)", r.Retried)
	row("dropped (refused for good, counted)", r.DroppedTotal())
	for _, k := range slices.Sorted(maps.Keys(r.Dropped)) {
		row("  dropped: "+k, r.Dropped[k])
	}
	row("duplicates (after lost answers)", r.Dups)
	row("lost", len(r.Lost))
	row("time", r.Elapsed.Round(time.Millisecond))
	row("rate", fmt.Sprintf("%.0f spans/s", float64(r.Generated)/r.Elapsed.Seconds()))
	if r.Paced > 0 {
		row("spans spread over", fmt.Sprintf("%v (the profile's fault windows fall in the run)", r.Paced))
	}
	_ = w.Flush()
	if len(r.Requests) > 1 {
		fmt.Fprint(g.stdout, "endpoint answers:")
		for _, k := range slices.Sorted(maps.Keys(r.Requests)) {
			fmt.Fprintf(g.stdout, " %s=%d", k, r.Requests[k])
		}
		fmt.Fprintln(g.stdout)
	}
}
