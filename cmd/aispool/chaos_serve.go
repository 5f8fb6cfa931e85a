package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/aispool/aispool/chaos/fakeingest"
)

func newChaosServeCommand(g *globals) *cobra.Command {
	var (
		cfg        fakeingest.Config
		profile    string
		reportJSON string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run only the flaky ingestion endpoint, for any shipper or SDK",
		Long: `serve runs the chaos kit's flaky ingestion endpoint with a fault profile until SIGINT or SIGTERM,
then prints what it saw: requests by outcome, envelopes accepted, duplicates, and requests that came
before a Retry-After it gave had ended. Point a shipper at it with the connection string it prints
(IngestionEndpoint=http://ADDR), or an SDK's connection string at the same address.

It listens on loopback unless --allow-non-loopback is given. Envelopes are recorded by the custom
property chaos.id, else data.baseData.id.`,
		Example: `  aispool chaos serve --profile throttled --listen 127.0.0.1:4330
  aispool run --spool-dir /tmp/spool --listen '' --connection-string "InstrumentationKey=...;IngestionEndpoint=http://127.0.0.1:4330"`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := loadProfile(profile)
			if err != nil {
				return err
			}
			cfg.Profile = p
			log, err := g.logger()
			if err != nil {
				return err
			}
			cfg.Logger = log
			// Catch signals before saying where the endpoint is: a caller
			// may stop it as soon as it has read the address.
			ctx, stop := signalContext(cmd.Context(), log)
			defer stop()
			ep, err := fakeingest.New(cfg)
			if err != nil {
				return usageError{err}
			}
			if err := ep.Start(); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "chaos endpoint %s (profile %s, seed %d)\nconnection string: %s\n",
				ep.URL(), p.Name, ep.Seed(), ep.ConnectionString(""))
			if ep.RedirectURL() != "" {
				fmt.Fprintf(g.stdout, "redirect target: %s\n", ep.RedirectURL())
			}
			<-ctx.Done()
			if err := ep.Close(); err != nil {
				return err
			}
			rep := ep.Report()
			printEndpointReport(g.stdout, &rep)
			if reportJSON != "" {
				return writeFile(reportJSON, func(w io.Writer) error {
					enc := json.NewEncoder(w)
					enc.SetIndent("", "  ")
					return enc.Encode(rep)
				})
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&profile, "profile", "healthy", "fault profile: a name or a JSON file")
	f.StringVar(&cfg.Addr, "listen", "127.0.0.1:4330", "address to listen on")
	f.StringVar(&cfg.RedirectAddr, "redirect-listen", "", "address of the second listener that redirects go to (default: a free loopback port)")
	f.BoolVar(&cfg.AllowNonLoopback, "allow-non-loopback", false, "allow listening on addresses other than loopback")
	f.Uint64Var(&cfg.Seed, "seed", 0, "seed of the fault choices (0: the profile's, else random)")
	f.StringVar(&reportJSON, "json", "", "write the full report as JSON to this file at exit")
	return cmd
}

func printEndpointReport(out io.Writer, r *fakeingest.Report) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	row := func(k string, v any) { fmt.Fprintf(w, "%s\t%v\n", k, v) }
	row("profile", fmt.Sprintf("%s (seed %d)", r.Profile, r.Seed))
	row("requests", r.Requests)
	for _, k := range slices.Sorted(maps.Keys(r.ByOutcome)) {
		row("  "+k, r.ByOutcome[k])
	}
	row("items received", r.ItemsReceived)
	row("items accepted", r.ItemsAccepted)
	row("distinct ids accepted", r.Accepted)
	row("duplicates", fmt.Sprintf("%d (%d with intact answers)", r.Duplicates, r.UnexplainedDuplicates))
	for _, k := range slices.Sorted(maps.Keys(r.Dropped)) {
		row("told to drop: "+k, r.Dropped[k])
	}
	row("answers lost", r.LostAnswers)
	row("Retry-After violations", fmt.Sprintf("%d (%d races)", r.RetryAfterViolations, r.RetryAfterRaces))
	row("time", roundDuration(r.Elapsed))
	_ = w.Flush()
}
