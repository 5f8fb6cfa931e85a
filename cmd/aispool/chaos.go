package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/aispool/aispool/chaos/fakeingest"
)

func newChaosCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "chaos",
		Short: "Chaos kit: a flaky ingestion endpoint and scenarios that prove nothing is lost",
		Long: `chaos runs aispool against a flaky fake Application Insights ingestion endpoint on loopback.

  aispool chaos run    drive envelopes through the shipper under a fault profile (optionally
                       SIGKILLing the daemon), verify nothing acknowledged was lost, write a report
  aispool chaos serve  run only the flaky endpoint, to point any shipper or SDK at it

Profiles: ` + strings.Join(fakeingest.ProfileNames(), ", ") + `, or a JSON profile file (see the
chaos/fakeingest package's documentation for its schema).`,
	}
	cmd.AddCommand(newChaosRunCommand(g), newChaosServeCommand(g))
	groupCommand(cmd)
	return cmd
}

// loadProfile returns a named profile, or the profile in a file when the
// argument names one (it contains a path separator or ends in .json).
func loadProfile(arg string) (*fakeingest.Profile, error) {
	if arg == "" {
		return nil, usageError{errors.New("--profile is required")}
	}
	if strings.ContainsRune(arg, '/') || strings.HasSuffix(arg, ".json") {
		p, err := fakeingest.LoadProfile(arg)
		if err != nil {
			return nil, usageError{fmt.Errorf("--profile: %w", err)}
		}
		return p, nil
	}
	p, err := fakeingest.ProfileByName(arg)
	if err != nil {
		return nil, usageError{fmt.Errorf("--profile %q: want one of %s, or a .json file", arg, strings.Join(fakeingest.ProfileNames(), ", "))}
	}
	return p, nil
}
