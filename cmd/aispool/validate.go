package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

func newValidateCommand(g *globals) *cobra.Command {
	var (
		f     daemonFlags
		print bool
	)
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check a configuration (the settings of run) without starting anything",
		Long: `validate checks the settings of "aispool run", from its flags, the AISPOOL_* environment variables
and the --config file, with every check run makes before it starts: the spool directory (its mode and
owner, without creating it), the connection string, addresses and ports, the TLS certificate and key,
secrets, allowed networks and limits. It reports every problem at once, and warns about an
ingestion endpoint reachable beyond this machine without TLS or authentication and about AISPOOL_*
variables that name no setting. It reads the files it is given but touches neither the network nor
the spool. Exit code 0 when the configuration is valid, 78 when it is not.

With --print-config it first prints every setting with the value run would use (secrets hidden), as
a configuration file would hold it.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if print {
				out, err := effectiveConfig(cmd, settingKeys(g, cmd.Root()), redactSetting)
				if err != nil {
					return err
				}
				if _, err := g.stdout.Write(out); err != nil {
					return err
				}
			}
			for _, name := range unknownVariables(g, cmd.Root()) {
				fmt.Fprintf(g.stderr, "aispool: warning: %s names no setting; it is ignored (settings: aispool run --help)\n", name)
			}
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
	cmd.Flags().BoolVar(&print, "print-config", false, "print every setting with the value run would use (secrets hidden), as YAML")
	return withConfig(g, cmd)
}

// redactSetting hides the connection string in --print-config.
func redactSetting(key, value string) string {
	if key == "connection-string" && value != "" {
		return "<hidden>"
	}
	return value
}

// unknownVariables lists the AISPOOL_ variables of the environment that
// name no setting, sorted.
func unknownVariables(g *globals, root *cobra.Command) []string {
	keys := settingKeys(g, root)
	var out []string
	for _, kv := range g.environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, envPrefix) || name == envName(configFlag) {
			continue
		}
		if keys[keyOfEnv(name)] == nil {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}
