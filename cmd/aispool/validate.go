package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newValidateCommand(g *globals) *cobra.Command {
	var f daemonFlags
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check a configuration (the flags of run) without starting anything",
		Long: `validate checks the flags of "aispool run" (connection string, addresses, TLS files, secrets,
allowed networks, limits) and reports every problem at once, and warns about an ingestion endpoint
reachable beyond this machine without TLS or authentication. It reads the files it is given but
touches neither the network nor the spool. Exit code 0 when the configuration is valid, 78 when it
is not.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.config(g)
			if err != nil {
				return err
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			cs, err := cfg.ResolveConnectionString()
			if err != nil {
				return err
			}
			for _, w := range append(cfg.IntakeExposureWarnings(), cfg.SecretFileWarnings()...) {
				fmt.Fprintln(g.stderr, "aispool: warning:", w)
			}
			_, err = fmt.Fprintf(g.stdout, "configuration is valid: spool %s, ingestion %s (key %s), listen %q (auth %s), admin %q\n",
				cfg.SpoolDir, cs.RedactedTrackURL(), cs.RedactedKey(), cfg.Listen, cfg.Exposure.Summary(), cfg.AdminListen)
			return err
		},
	}
	f.register(cmd.Flags(), true)
	return cmd
}
