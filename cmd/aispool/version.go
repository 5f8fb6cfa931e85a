package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// stampedVersion is the release version, set when linking the binary:
//
//	go build -ldflags "-X main.stampedVersion=v1.2.3" ./cmd/aispool
//
// make image (and the release targets) set it from git describe; empty
// means the module version of the build information, or "dev".
var stampedVersion string

func newVersionCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version (also: aispool --version, -v)",
		Args:  noArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintf(g.stdout, "aispool %s\n", versionLine())
			return err
		},
	}
}
