package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"
)

// stampedVersion is set at link time by `make dist`:
//
//	go build -ldflags "-X main.stampedVersion=v1.2.3" ./cmd/aispool
var stampedVersion string

func newVersionCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  noArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintf(g.stdout, "aispool %s (%s, %s/%s)\n", version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}
